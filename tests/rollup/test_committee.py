"""The validium committee as separate processes: each member keeps its own copy of the payloads,
signs the payload hash it computes itself, and serves payloads back; the operator needs a quorum."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from coincurve import PrivateKey

from perpetua.crypto.keccak import keccak256
from perpetua.rollup.batch import CommitteeSignature, Mode, check_quorum, sign_payload
from perpetua.rollup.committee import Committee, Member, QuorumNotReached, start_member
from perpetua.rollup.rebuild import rebuild
from tests.rollup.test_tree_and_da import run_batches

AUTHKEY = b"test-committee"


def secret(i: int) -> bytes:
    return keccak256(f"da-member-{i}".encode())


@pytest.fixture(scope="module")
def members() -> Iterator[list[Member]]:
    """Three honest members and one that forges, each a spawned process with its own store."""
    root = Path(tempfile.mkdtemp(prefix="da", dir="/tmp"))  # short: AF_UNIX paths are <= 107 bytes
    started: list[Member] = []
    try:
        for i in range(4):
            started.append(start_member(secret(i), root / f"store{i}", root / f"m{i}.sock", AUTHKEY,
                                        forge=(i == 3)))
        yield started
    finally:
        for member in started:
            member.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_quorum_signs_and_a_served_payload_rebuilds_the_root(members: list[Member]) -> None:
    honest = members[:3]
    committee = Committee(honest, quorum=2)
    batcher, batches = run_batches(Mode.VALIDIUM)
    certified = [committee.certify(b) for b in batches]
    for batch in certified:
        assert len(batch.committee_signatures) == 3
        assert check_quorum(batch.payload_hash, batch.committee_signatures, committee.addresses, 3)
        assert batch.onchain_data() == batch.payload_hash
    # Each member holds its own copy, in its own store.
    for member in honest:
        held = member.request("get", certified[-1].sequence)
        assert held == ("payload", certified[-1].payload)
    # The operator is gone: a trader fetches every payload from the committee and rebuilds.
    payloads = [committee.fetch(b.sequence, b.payload_hash) for b in certified]
    state, tree = rebuild(payloads)
    assert tree.roots() == certified[-1].new_roots
    assert dict(state.positions.items()) == dict(batcher.state.positions.items())
    # One member down: the other two still make the quorum, and still serve.
    down = Member(members[0].address + ".gone", members[0].eth_address, AUTHKEY)
    partial = Committee([down, *honest[1:]], quorum=2)
    assert len(partial.collect(99, certified[0].payload)) == 2
    assert partial.fetch(99, certified[0].payload_hash) == certified[0].payload


def test_missing_quorum_is_refused(members: list[Member]) -> None:
    _, batches = run_batches(Mode.VALIDIUM)
    down = [Member(f"/tmp/da-nobody-{i}.sock", bytes([i]) * 20, AUTHKEY) for i in range(2)]
    committee = Committee([members[0], *down], quorum=2)
    with pytest.raises(QuorumNotReached) as info:
        committee.certify(batches[0])
    assert info.value.signed == 1
    assert all("unreachable" in why for why in info.value.failures.values())
    with pytest.raises(ValueError, match="validium"):
        committee.certify(run_batches(Mode.ROLLUP)[1][0])


def test_forged_signatures_do_not_count(members: list[Member]) -> None:
    _, batches = run_batches(Mode.VALIDIUM)
    batch = batches[0]
    forger = members[3]
    # A member that signs something else than the payload it was sent is not counted.
    committee = Committee([members[0], forger], quorum=2)
    with pytest.raises(QuorumNotReached) as info:
        committee.collect(batch.sequence, batch.payload)
    assert info.value.failures == {forger.eth_address.hex(): "signature does not recover to the member's address"}
    # On the verifier's side: a tampered signature, a signature claimed for another member's
    # address, and an outsider's signature all fail the quorum check.
    good = Committee(members[:2], quorum=2).collect(batch.sequence, batch.payload)
    addresses = frozenset(m.eth_address for m in members[:3])
    assert check_quorum(batch.payload_hash, good, addresses, 2)
    tampered = bytearray(good[1].signature)
    tampered[5] ^= 1
    assert not check_quorum(batch.payload_hash, (good[0], CommitteeSignature(good[1].address, bytes(tampered))),
                            addresses, 2)
    stolen = CommitteeSignature(members[2].eth_address, good[0].signature)
    assert not check_quorum(batch.payload_hash, (good[0], stolen), addresses, 2)
    outsider = sign_payload(PrivateKey(secret(99)), batch.payload_hash)
    assert not check_quorum(batch.payload_hash, (good[0], outsider), addresses, 2)
    assert not check_quorum(batch.payload_hash, (good[0], good[0]), addresses, 2)  # distinct members only


def test_member_refuses_what_is_not_a_state_diff(members: list[Member]) -> None:
    answer = members[0].request("store", 7, b'{"not": "a diff"}')
    assert answer[0] == "error" and "not a state diff" in answer[1]
    assert members[0].request("get", 7) == ("payload", None)
