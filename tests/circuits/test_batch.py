"""A real rollup batch (height-64 positions tree): proof, the final check tying chunks to the
batch, tampering, and the fact service (fake registrar fast; titanoboa end to end, slow)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from perpetua.circuits.batch import (
    BatchProof,
    BatchProofError,
    copy_tree,
    positions_tree,
    prove_batch,
    verify_batch_proof,
)
from perpetua.circuits.fact_service import BatchRefused, StarkFactService
from perpetua.rollup.batch import Batch, Batcher, commitment
from tests.rollup.helpers import BTC, NOW_S, context, funded_state, trade

USD = 10**6


def _trade(buyer: int, seller: int) -> Any:
    return trade(buyer, seller, BTC.min_order_size, 40_000 * BTC.min_order_size * USD // BTC.resolution)


@pytest.fixture(scope="module")
def proven() -> tuple[Batcher, Batch, BatchProof]:
    """Three positions change (2 trades among 10, 11, 12), chunks of 2: two chunks, one padded."""
    batcher = Batcher(funded_state((10, 10**12), (11, 10**12), (12, 10**12)), context())
    tree = copy_tree(batcher.tree.positions)
    assert positions_tree(batcher.state).root == tree.root
    batcher.submit(_trade(10, 11))
    batcher.submit(_trade(12, 10))
    batch = batcher.cut()
    proof = prove_batch(tree, batch, chunk_size=2)
    assert proof.num_updates == 3 and [len(c.updates) for c in proof.chunks] == [2, 1]
    return batcher, batch, proof


def test_batch_proof_verifies_and_round_trips(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    assert verify_batch_proof(batch, proof.to_bytes()) == proof
    assert BatchProof.from_bytes(proof.to_bytes()) == proof


def test_proof_of_another_batch_or_changed_statement_fails(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    other = bytes(32 - 1) + b"\x01"
    for bad in (replace(batch, commitment=other), replace(batch, new_roots=(other, batch.new_roots[1])),
                replace(batch, old_roots=(other, batch.old_roots[1])), replace(batch, payload_hash=other)):
        with pytest.raises(BatchProofError):
            verify_batch_proof(bad, proof)
    # a commitment that is not the hash of the batch's contents
    with pytest.raises(BatchProofError, match="not the hash"):
        verify_batch_proof(replace(batch, commitment=other), replace(proof, commitment=other))
    # the statement edited to match another (well-formed) batch's commitment: the chunk STARKs
    # no longer verify
    moved = replace(batch, sequence=batch.sequence + 1)
    moved = replace(moved, commitment=commitment(moved.sequence, moved.mode, moved.old_roots, moved.new_roots,
                                                 moved.txs, moved.payload))
    with pytest.raises(BatchProofError, match="chunk 0"):
        verify_batch_proof(moved, replace(proof, commitment=moved.commitment))


def test_payload_leaves_bind_the_public_updates(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    c0 = proof.chunks[0]
    u = c0.updates[0]
    forged = replace(u, new=(u.new[0] ^ 1, *u.new[1:]))
    bad = replace(proof, chunks=(replace(c0, updates=(forged, *c0.updates[1:])), *proof.chunks[1:]))
    with pytest.raises(BatchProofError, match="payload"):
        verify_batch_proof(batch, bad)


def test_chunks_must_chain(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    a, b = proof.chunks
    with pytest.raises(BatchProofError, match="chain"):
        check = replace(proof, chunks=(a, replace(b, old_root=a.old_root)))
        verify_batch_proof(batch, check)
    with pytest.raises(BatchProofError):  # a chunk dropped
        verify_batch_proof(batch, replace(proof, chunks=(a,)))
    with pytest.raises(BatchProofError):  # chunks swapped
        verify_batch_proof(batch, replace(proof, chunks=(b, a)))


def test_flipped_bytes_fail(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    data = proof.to_bytes()
    for pos in (7, 20, 60, 200, 900, len(data) // 2, len(data) - 1):
        flipped = bytearray(data)
        flipped[pos] ^= 0x04
        with pytest.raises(BatchProofError):
            verify_batch_proof(batch, bytes(flipped))


@dataclass
class FakeRegistrar:
    registered: list[bytes] = field(default_factory=list)

    def fact_for(self, batch: Any) -> bytes:
        return b"fact:" + batch.new_root

    def register_fact(self, fact: bytes) -> None:
        self.registered.append(fact)


@dataclass
class L1Batch:
    old_root: bytes
    new_root: bytes
    batch_commitment: bytes
    da_hash: bytes


def test_fact_service_registers_only_proven_batches(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    reg = FakeRegistrar()
    service = StarkFactService(reg)
    l1 = L1Batch(batch.old_roots[0], batch.new_roots[0], batch.commitment, batch.payload_hash)
    assert service.certify(batch, proof, l1) == b"fact:" + batch.new_roots[0]
    with pytest.raises(BatchRefused):
        service.certify(batch, proof, replace(l1, new_root=bytes(32)))
    flipped = bytearray(proof.to_bytes())
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(BatchRefused):
        service.certify(batch, bytes(flipped), l1)
    assert reg.registered == [b"fact:" + batch.new_roots[0]] and len(service.refused) == 2


@pytest.mark.slow
def test_fact_service_on_titanoboa() -> None:
    """A proven batch is accepted by the exchange contract; an unproven one is refused."""
    from perpetua.chain.backend import BoaChain
    from perpetua.chain.batch import from_rollup
    from perpetua.chain.client import OperatorClient, deploy

    batcher = Batcher(funded_state((10, 10**12), (11, 10**12)), context())
    chain = BoaChain(start_timestamp=NOW_S + 60)
    client = OperatorClient(deploy(chain, initial_root=batcher.tree.roots()[0], label="circuits"))
    service = StarkFactService(client)
    tree = copy_tree(batcher.tree.positions)
    batcher.submit(_trade(10, 11))
    batch = batcher.cut()
    proof = prove_batch(tree, batch)
    receipt = service.submit(batch, proof, from_rollup(batch), client)
    assert any(e.name == "StateUpdated" for e in receipt.events)
    assert client.state()["state_root"] == batch.new_roots[0]
    # the next batch with a proof of the previous one: refused, nothing registered, L1 refuses it
    tree2 = copy_tree(batcher.tree.positions)
    batcher.submit(_trade(11, 10))
    batch2 = batcher.cut()
    with pytest.raises(BatchRefused):
        service.submit(batch2, proof, from_rollup(batch2), client)
    with pytest.raises(Exception):  # noqa: B017 - the contract reverts: no fact
        client.submit_batch(from_rollup(batch2), register_fact=False)
    service.submit(batch2, prove_batch(tree2, batch2), from_rollup(batch2), client)
    assert client.state()["state_root"] == batch2.new_roots[0]


def test_process_pool_gives_the_same_proof(proven: tuple[Batcher, Batch, BatchProof]) -> None:
    _, batch, proof = proven
    start = funded_state((10, 10**12), (11, 10**12), (12, 10**12))
    assert prove_batch(positions_tree(start), batch, chunk_size=2, workers=2) == proof
