"""A rollup batch's positions-root transition, proven in chunks and checked against the batch.

`witnesses_for_batch` replays the batch's changed position leaves (the DA payload's order) on a
copy of the positions tree at the old root and records each update's old leaf digest, new leaf
digest and 64 siblings. `prove_batch` splits the updates into chunks of `chunk_size` (a power of
two; the last chunk is padded with no-ops), proves each chunk's `StateUpdateAir` independently
(a process pool when `workers > 1`, or any `concurrent.futures.Executor`, e.g. a Ray-backed one),
and returns a `BatchProof`. `verify_batch_proof` is the final check that ties the chunks to the
batch:

- the statement's roots, payload hash and commitment are the batch's (the payload hash is
  recomputed from the payload bytes);
- the updates are exactly the payload's changed positions, in its order, and each new leaf digest
  is the payload position's leaf hash, recomputed natively here (the proof does not hash leaf
  limbs yet: it binds the digests, and this check binds the digests to the payload);
- chunks chain: first old root = batch old root, each new root = next old root, last new root =
  batch new root; padding updates are no-ops (old leaf = new leaf);
- every chunk's STARK verifies at >= `min_security_bits`, with the payload hash, the commitment,
  its chunk number and the chunk count absorbed as public inputs.
"""

from __future__ import annotations

import multiprocessing
import struct
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace

from perpetua.circuits.arithmetic import prove_arithmetic, verify_arithmetic
from perpetua.circuits.state_update import (
    D,
    LeafUpdate,
    StateUpdateAir,
    UpdateWitness,
    chain_roots,
    hash_to_field,
    pad_updates,
    update_trace,
)
from perpetua.circuits.statement import Statement, StatementError, build_statement, records
from perpetua.crypto.keccak import keccak256
from perpetua.rollup.batch import Batch, decode_diff
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.constants import TREE_HEIGHT
from perpetua.rollup.hashing import EMPTY_POSITION_SUBTREES, digest_to_ints, ints_to_digest
from perpetua.rollup.position import Position
from perpetua.rollup.state import RollupState
from perpetua.rollup.tree import MerkleTree, hash_positions
from perpetua.stark.errors import VerificationError
from perpetua.stark.params import ProofOptions
from perpetua.stark.prover import prove
from perpetua.stark.verifier import verify

MAGIC = b"PBATCH"
VERSION = 2
DEFAULT_CHUNK = 16


class BatchProofError(Exception):
    """The batch proof does not prove this batch (the message says which check failed)."""


def positions_tree(state: RollupState) -> MerkleTree:
    """The positions tree of a state, built from its leaves."""
    tree = MerkleTree(EMPTY_POSITION_SUBTREES)
    items = dict(state.positions.items())
    if items:
        tree.update(dict(zip(items, hash_positions(list(items.values())), strict=True)))
    return tree


def copy_tree(tree: MerkleTree) -> MerkleTree:
    out = MerkleTree(tree.empty)
    out.levels = [dict(level) for level in tree.levels]
    return out


def payload_updates(payload: bytes) -> list[tuple[int, tuple[int, ...]]]:
    """(position id, new leaf digest) for every changed position of a DA payload, in its order."""
    positions: list[tuple[int, Position]] = list(decode_diff(payload).positions)
    digests = hash_positions([p for _, p in positions]) if positions else []
    return [(pid, tuple(digest_to_ints(d))) for (pid, _), d in zip(positions, digests, strict=True)]


def witnesses_for_batch(tree: MerkleTree, batch: Batch, extra: Sequence[int] = ()) -> list[UpdateWitness]:
    """Each changed position of the batch applied in turn to `tree` (mutated: it ends at the
    batch's new positions root; pass `copy_tree(...)` to keep the original), then a no-op update
    (membership) for each of `extra`: positions the arithmetic touches that end unchanged."""
    if tree.root != batch.old_roots[0]:
        raise ValueError("the tree is not at the batch's old positions root")
    out: list[UpdateWitness] = []
    listed = payload_updates(batch.payload)
    listed += [(pid, tuple(digest_to_ints(tree.leaf(pid)))) for pid in extra]
    for pid, new in listed:
        old = tuple(digest_to_ints(tree.leaf(pid)))
        siblings = tuple(tuple(digest_to_ints(s)) for s in tree.proof(pid))
        out.append(UpdateWitness(LeafUpdate(pid, old, new), siblings))
        tree.update({pid: ints_to_digest(new)})
    if tree.root != batch.new_roots[0]:
        raise ValueError("replaying the payload does not reach the batch's new positions root")
    return out


@dataclass(frozen=True, slots=True)
class ChunkProof:
    """One chunk: its root transition, its (padded) public updates and its STARK proof bytes."""

    old_root: tuple[int, ...]
    new_root: tuple[int, ...]
    updates: tuple[LeafUpdate, ...]
    proof: bytes


@dataclass(frozen=True, slots=True)
class BatchProof:
    """The statement (positions roots, payload hash, commitment, real update count) and chunks."""

    height: int
    old_root: bytes
    new_root: bytes
    payload_hash: bytes
    commitment: bytes
    num_updates: int
    chunks: tuple[ChunkProof, ...]
    statement: bytes = b""
    """The arithmetic part's statement (`circuits.statement.Statement`), empty without one."""
    arithmetic: bytes = b""
    """The arithmetic part's STARK proof bytes, empty without one."""

    def to_bytes(self) -> bytes:
        out = [MAGIC, struct.pack("<HII", VERSION, self.height, self.num_updates),
               self.old_root, self.new_root, self.payload_hash, self.commitment,
               struct.pack("<I", len(self.chunks))]
        for c in self.chunks:
            out.append(struct.pack(f"<{2 * D}I", *c.old_root, *c.new_root))
            out.append(struct.pack("<I", len(c.updates)))
            for u in c.updates:
                out.append(struct.pack(f"<Q{2 * D}I", u.index, *u.old, *u.new))
            out.append(struct.pack("<I", len(c.proof)))
            out.append(c.proof)
        out += [struct.pack("<I", len(self.statement)), self.statement,
                struct.pack("<I", len(self.arithmetic)), self.arithmetic]
        return b"".join(out)

    @staticmethod
    def from_bytes(data: bytes) -> BatchProof:
        """Strict decoding: wrong magic or version, truncation or trailing bytes raise BatchProofError."""
        at = 0

        def take(n: int) -> bytes:
            nonlocal at
            if at + n > len(data):
                raise BatchProofError("truncated batch proof")
            out = data[at:at + n]
            at += n
            return out

        if take(len(MAGIC)) != MAGIC:
            raise BatchProofError("not a batch proof")
        version, height, num_updates = struct.unpack("<HII", take(10))
        if version != VERSION:
            raise BatchProofError(f"unknown batch proof version {version}")
        old_root, new_root, payload_hash, commitment = take(32), take(32), take(32), take(32)
        chunks = []
        for _ in range(struct.unpack("<I", take(4))[0]):
            roots = struct.unpack(f"<{2 * D}I", take(8 * D))
            updates = []
            for _ in range(struct.unpack("<I", take(4))[0]):
                v = struct.unpack(f"<Q{2 * D}I", take(8 + 8 * D))
                updates.append(LeafUpdate(v[0], tuple(v[1:1 + D]), tuple(v[1 + D:])))
            proof = take(struct.unpack("<I", take(4))[0])
            chunks.append(ChunkProof(roots[:D], roots[D:], tuple(updates), proof))
        statement = take(struct.unpack("<I", take(4))[0])
        arithmetic = take(struct.unpack("<I", take(4))[0])
        if at != len(data):
            raise BatchProofError("trailing bytes after the batch proof")
        return BatchProof(height, old_root, new_root, payload_hash, commitment, num_updates, tuple(chunks),
                          statement, arithmetic)


def chunk_binding(payload_hash: bytes, commitment: bytes, chunk: int, num_chunks: int) -> list[int]:
    """What each chunk's transcript absorbs besides roots and updates."""
    return [*hash_to_field(payload_hash), *hash_to_field(commitment), chunk, num_chunks]


def chunk_air(proof: BatchProof, n: int) -> StateUpdateAir:
    c = proof.chunks[n]
    return StateUpdateAir(proof.height, c.old_root, c.new_root, c.updates,
                          chunk_binding(proof.payload_hash, proof.commitment, n, len(proof.chunks)))


def _prove_chunk(height: int, old_root: tuple[int, ...], witnesses: list[UpdateWitness], binding: list[int],
                 options: ProofOptions) -> tuple[tuple[int, ...], bytes]:
    trace, new_root = update_trace(height, old_root, witnesses)
    air = StateUpdateAir(height, old_root, new_root, [w.update for w in witnesses], binding)
    return tuple(new_root), prove(air, trace, options)


def split_chunks(height: int, old_root: Sequence[int], witnesses: Sequence[UpdateWitness],
                 chunk_size: int) -> list[tuple[tuple[int, ...], list[UpdateWitness]]]:
    """(chunk old root, padded witnesses) per chunk; roots chained in Python."""
    if chunk_size < 1 or chunk_size & (chunk_size - 1):
        raise ValueError("chunk_size must be a power of two")
    roots = chain_roots(old_root, witnesses)
    out = []
    for start in range(0, len(witnesses), chunk_size):
        part = list(witnesses[start:start + chunk_size])
        end = start + len(part)
        out.append((tuple(roots[start]), pad_updates(part, roots[end])))
    return out


def _executor(workers: int) -> ProcessPoolExecutor:
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def prove_updates(height: int, old_root: Sequence[int], witnesses: Sequence[UpdateWitness], *,
                  payload_hash: bytes, commitment: bytes, chunk_size: int = DEFAULT_CHUNK, workers: int = 1,
                  executor: Executor | None = None, options: ProofOptions | None = None) -> BatchProof:
    """Prove a list of chained updates in chunks (see the module docstring)."""
    if not witnesses:
        raise ValueError("nothing to prove: the batch changes no position")
    options = options or ProofOptions()
    parts = split_chunks(height, old_root, witnesses, chunk_size)
    jobs = [(height, root, part, chunk_binding(payload_hash, commitment, n, len(parts)), options)
            for n, (root, part) in enumerate(parts)]
    if executor is not None:
        results = [f.result() for f in [executor.submit(_prove_chunk, *job) for job in jobs]]
    elif workers > 1 and len(jobs) > 1:
        with _executor(min(workers, len(jobs))) as pool:
            results = [f.result() for f in [pool.submit(_prove_chunk, *job) for job in jobs]]
    else:
        results = [_prove_chunk(*job) for job in jobs]
    chunks = tuple(ChunkProof(root, new_root, tuple(w.update for w in part), proof)
                   for (root, part), (new_root, proof) in zip(parts, results, strict=True))
    return BatchProof(height, ints_to_digest(old_root), ints_to_digest(chunks[-1].new_root), payload_hash,
                      commitment, len(witnesses), chunks)


def prove_batch(tree: MerkleTree, batch: Batch, *, chunk_size: int = DEFAULT_CHUNK, workers: int = 1,
                executor: Executor | None = None, options: ProofOptions | None = None,
                extra: Sequence[int] = ()) -> BatchProof:
    """Prove a rollup batch's positions-root transition; `tree` is the positions tree at the
    batch's old root (left untouched)."""
    witnesses = witnesses_for_batch(copy_tree(tree), batch, extra)
    return prove_updates(TREE_HEIGHT, digest_to_ints(batch.old_roots[0]), witnesses,
                         payload_hash=batch.payload_hash, commitment=batch.commitment, chunk_size=chunk_size,
                         workers=workers, executor=executor, options=options)


def prove_rollup_batch(old_state: RollupState, batch: Batch, *, config: GeneralConfig | None = None,
                       chunk_size: int = DEFAULT_CHUNK, workers: int = 1, executor: Executor | None = None,
                       options: ProofOptions | None = None) -> BatchProof:
    """Prove `batch`, applied to `old_state` (the rollup state at the batch's old roots): the
    stable entry point for operators (the settlement loop, benches). With `config`, the proof
    has both parts: the transactions' arithmetic (`circuits.arithmetic`) and the positions-root
    transition over every position it touches; without, only the root transition."""
    if config is None:
        return prove_batch(positions_tree(old_state), batch, chunk_size=chunk_size, workers=workers,
                           executor=executor, options=options)
    statement = build_statement(old_state, batch, config)
    first = records(statement, batch, config).first
    changed = {pid for pid, _ in payload_updates(batch.payload)}
    extra = sorted(set(first) - changed)
    pool = executor
    own_pool = None
    if pool is None and workers > 1:
        pool = own_pool = _executor(workers)
    try:
        arithmetic = (pool.submit(_prove_arithmetic_bytes, old_state, batch, config, options)
                      if pool is not None else None)
        merkle = prove_batch(positions_tree(old_state), batch, chunk_size=chunk_size, workers=workers,
                             executor=pool, options=options, extra=extra)
        proof_bytes = arithmetic.result() if arithmetic is not None else \
            _prove_arithmetic_bytes(old_state, batch, config, options)
    finally:
        if own_pool is not None:
            own_pool.shutdown()
    return replace(merkle, statement=statement.to_bytes(), arithmetic=proof_bytes)


def _prove_arithmetic_bytes(old_state: RollupState, batch: Batch, config: GeneralConfig,
                            options: ProofOptions | None) -> bytes:
    return prove_arithmetic(old_state, batch, config, options)[1]


def check_chunks(proof: BatchProof, min_security_bits: float = 100) -> None:
    """Chain the chunks by roots and verify each chunk's STARK (raises BatchProofError)."""
    if not proof.chunks:
        raise BatchProofError("no chunks")
    if tuple(proof.chunks[0].old_root) != tuple(digest_to_ints(proof.old_root)):
        raise BatchProofError("first chunk does not start at the batch's old root")
    if tuple(proof.chunks[-1].new_root) != tuple(digest_to_ints(proof.new_root)):
        raise BatchProofError("last chunk does not end at the batch's new root")
    for a, b in zip(proof.chunks, proof.chunks[1:], strict=False):
        if tuple(a.new_root) != tuple(b.old_root):
            raise BatchProofError("chunks do not chain: a chunk's new root is not the next one's old root")
    listed = [u for c in proof.chunks for u in c.updates]
    real, padding = listed[:proof.num_updates], listed[proof.num_updates:]
    if len(real) != proof.num_updates or any(u.old != u.new for u in padding):
        raise BatchProofError("padding updates must be no-ops")
    for n in range(len(proof.chunks)):
        try:
            verify(chunk_air(proof, n), proof.chunks[n].proof, min_security_bits=min_security_bits)
        except (VerificationError, ValueError) as e:
            raise BatchProofError(f"chunk {n}: {e}") from e


def verify_batch_proof(batch: Batch, proof: BatchProof | bytes, min_security_bits: float = 100,
                       config: GeneralConfig | None = None) -> BatchProof:
    """Raise BatchProofError unless `proof` proves `batch`'s positions-root transition over
    exactly its payload's changed leaves, bound to its payload hash and commitment; with
    `config`, also that every covered transaction's arithmetic holds (`circuits.arithmetic`) and
    that the claimed states start at the tree's leaves and end at the payload's."""
    if isinstance(proof, bytes):
        proof = BatchProof.from_bytes(proof)
    if proof.height != TREE_HEIGHT:
        raise BatchProofError("wrong tree height")
    if proof.old_root != batch.old_roots[0] or proof.new_root != batch.new_roots[0]:
        raise BatchProofError("roots differ from the batch's positions roots")
    if keccak256(batch.payload) != batch.payload_hash or proof.payload_hash != batch.payload_hash:
        raise BatchProofError("payload hash differs from the batch's payload")
    if proof.commitment != batch.commitment:
        raise BatchProofError("commitment differs from the batch's")
    expected = payload_updates(batch.payload)
    listed = [u for c in proof.chunks for u in c.updates][:proof.num_updates]
    if config is not None:
        expected += _check_arithmetic(batch, proof, config, listed, min_security_bits)
    elif proof.statement or proof.arithmetic:
        raise BatchProofError("an arithmetic part is present but no config was given to check it")
    if proof.num_updates != len(expected) or [(u.index, u.new) for u in listed] != expected:
        raise BatchProofError("updates differ from the payload's changed positions")
    check_chunks(proof, min_security_bits)
    return proof


def _check_arithmetic(batch: Batch, proof: BatchProof, config: GeneralConfig, listed: Sequence[LeafUpdate],
                      min_security_bits: float) -> list[tuple[int, tuple[int, ...]]]:
    """Verify the arithmetic part and bind its claimed first states to the Merkle updates' old
    leaves; returns the no-op updates expected after the payload's (touched, unchanged)."""
    if not proof.statement or not proof.arithmetic:
        raise BatchProofError("the proof has no arithmetic part")
    try:
        statement, used = Statement.from_bytes(proof.statement)
        if used != len(proof.statement):
            raise StatementError("trailing bytes after the statement")
        first, _ = verify_arithmetic(batch, config, statement, proof.arithmetic, min_security_bits)
    except StatementError as e:
        raise BatchProofError(f"arithmetic statement: {e}") from e
    except (VerificationError, ValueError) as e:
        raise BatchProofError(f"arithmetic proof: {e}") from e
    changed = {pid for pid, _ in payload_updates(batch.payload)}
    digests = dict(zip(sorted(first), hash_positions([first[p] for p in sorted(first)]), strict=True)) \
        if first else {}
    old = {u.index: u.old for u in listed}
    for pid, digest in digests.items():
        if pid in old and old[pid] != tuple(digest_to_ints(digest)):
            raise BatchProofError(f"position {pid}: the claimed old state is not the tree's leaf")
    return [(pid, tuple(digest_to_ints(digests[pid]))) for pid in sorted(set(first) - changed)]
