"""State trees, proofs, batches and rebuilding from DA payloads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from perpetua.rollup.batch import Batcher, Mode, check_quorum, decode_diff, encode_diff
from perpetua.rollup.hashing import (
    EMPTY_POSITION_LEAF,
    EMPTY_POSITION_SUBTREES,
    hash_limb_lists,
    hash_limbs_ref,
    hash_node,
    limbs,
)
from perpetua.rollup.position import Position, PositionAsset
from perpetua.rollup.rebuild import position_proof, rebuild
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.tree import MerkleTree, StateTree, hash_positions, position_leaf_limbs, verify_proof
from tests.rollup.helpers import BTC, base_state, context, key, trade, withdrawal

USD = 1_000_000


def naive_root(leaves: dict[int, bytes], height: int = 64) -> bytes:
    """Reference: fold level by level over the non-empty indices."""
    level = dict(leaves)
    for h in range(height):
        parents = {i >> 1 for i in level}
        empty = EMPTY_POSITION_SUBTREES[h]
        level = {p: hash_node(level.get(2 * p, empty), level.get(2 * p + 1, empty)) for p in parents}
    return level.get(0, EMPTY_POSITION_SUBTREES[height])


def test_vectorised_leaf_hash_matches_reference() -> None:
    positions = [Position(0, 0, ()), Position(key(3), -5, ()),
                 Position(key(4), 10**9, (PositionAsset(BTC.synthetic_asset_id, -7, 3 << 32),
                                         PositionAsset(BTC.synthetic_asset_id + 1, 2**62, -(2**62))))]
    fast = hash_positions(positions)
    assert fast == [hash_limbs_ref(position_leaf_limbs(p)) for p in positions]
    assert fast[0] == EMPTY_POSITION_LEAF
    assert limbs(2**64 - 1, 3) == [2**30 - 1, 2**30 - 1, 15]


@settings(max_examples=15, deadline=None)
@given(st.dictionaries(st.integers(0, 2**64 - 1), st.integers(1, 10**6), max_size=6))
def test_incremental_tree_matches_naive_root_and_proofs_verify(updates: dict[int, int]) -> None:
    tree = MerkleTree(EMPTY_POSITION_SUBTREES)
    digests = dict(zip(updates, hash_limb_lists([[v] for v in updates.values()]), strict=True))
    tree.update(digests)
    assert tree.root == naive_root(digests)
    for index, digest in digests.items():
        assert verify_proof(tree.root, index, digest, tree.proof(index))
        assert not verify_proof(tree.root, index ^ 1, digest, tree.proof(index))
    tree.update(dict.fromkeys(digests, EMPTY_POSITION_LEAF))  # clearing returns the empty root
    assert tree.root == EMPTY_POSITION_SUBTREES[64]


def run_batches(mode: Mode = Mode.ROLLUP, committee=()) -> tuple[Batcher, list]:
    batcher = Batcher(base_state(), context(), mode=mode, max_txs=3, committee=committee)
    batches = []
    txs = [Deposit(10, key(10), 10_000 * USD), Deposit(11, key(11), 10_000 * USD),
           trade(10, 11, BTC.resolution // 10, 4_000 * USD, fee=USD), withdrawal(10, 1_000 * USD),
           Deposit(12, key(12), 5 * USD)]
    for tx in txs:
        batcher.submit(tx, now_s=0)
        if batcher.due(0):
            batches.append(batcher.cut())
    batches.append(batcher.cut())
    return batcher, batches


def test_batches_chain_roots_and_payload_rebuilds_exact_root(tmp_path: Path) -> None:
    batcher, batches = run_batches()
    assert [len(b.txs) for b in batches] == [3, 2]
    assert batches[0].new_roots == batches[1].old_roots
    assert batches[1].onchain_data() == batches[1].payload
    state, tree = rebuild(b.payload for b in batches)
    assert tree.roots() == batches[-1].new_roots
    assert state.position(10) == batcher.state.position(10)
    assert decode_diff(batches[-1].payload).positions[-1][0] == 12
    # A fresh process from the payload files alone.
    files = []
    for i, b in enumerate(batches):
        f = tmp_path / f"batch{i}.json"
        f.write_bytes(b.payload)
        files.append(str(f))
    proc = subprocess.run([sys.executable, "-m", "perpetua.rollup.rebuild", *files, "--position", "10",
                           "--expect-root", batches[-1].new_roots[0].hex()], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert '"verified": true' in proc.stdout
    assert position_proof(state, tree, 10)["verified"]


def test_batch_is_cut_by_age() -> None:
    batcher = Batcher(base_state(), context(), max_txs=100, max_age_s=60)
    batcher.submit(Deposit(10, key(10), USD), now_s=100)
    assert not batcher.due(159) and batcher.due(160)


def test_validium_committee_quorum() -> None:
    members = [PrivateKey(bytes([i + 1]) * 32) for i in range(3)]
    _, batches = run_batches(Mode.VALIDIUM, committee=members[:2])
    b = batches[0]
    assert b.onchain_data() == b.payload_hash
    addresses = frozenset(s.address for s in b.committee_signatures) | {b"\x00" * 20}
    assert check_quorum(b.payload_hash, b.committee_signatures, addresses, 2)
    assert not check_quorum(b.payload_hash, b.committee_signatures, addresses, 3)
    assert not check_quorum(batches[1].payload_hash, b.committee_signatures, addresses, 1)


def test_commitment_binds_the_payload() -> None:
    _, batches = run_batches()
    _, again = run_batches()
    assert batches[0].commitment == again[0].commitment
    assert batches[0].commitment != batches[1].commitment
    assert encode_diff(decode_diff(batches[0].payload)) == batches[0].payload


def test_state_tree_of_state_equals_rebuild() -> None:
    batcher, batches = run_batches()
    fresh = StateTree()
    fresh.apply_diff(dict(batcher.state.positions.items()), dict(batcher.state.orders.items()))
    assert fresh.roots() == batches[-1].new_roots
