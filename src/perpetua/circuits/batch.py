"""A rollup batch's validity proof: its three parts, proven in parallel, and the final check.

`prove_rollup_batch(old_state, batch, config=...)` (the operators' entry point) builds:

- the **arithmetic** part (`circuits.arithmetic`): the statement (every position update's
  claimed states) and one `IntAir` STARK proving every covered transaction's rules;
- the **positions root** part: the payload's changed positions and a membership update for each
  position the arithmetic touches but leaves unchanged, in index order (`_replay` records each
  update's old leaf and 64 siblings with one batched tree update per chunk), split into chunks of
  `chunk_size` (padded with no-ops), each a `WideUpdateAir` STARK (one row per tree level; the
  same statement as `StateUpdateAir`);
- the **orders root** part: the same over the orders tree and the payload's fulfilment records.

All jobs go to one pool (`workers`), or any `concurrent.futures.Executor`-like object
(`perpetua.parallel.RayExecutor` for Ray). Without `config`, only the positions root is proven
(`prove_batch`). `verify_batch_proof` is the final check that ties the parts to the batch:

- the statement's roots, payload hash and commitment are the batch's (the payload hash and the
  commitment are recomputed from the payload and the transaction list);
- the updates are exactly the payload's changed leaves (plus the arithmetic's membership ones),
  in index order, each new leaf digest recomputed natively from the payload; each position's and
  order's claimed first state is the tree's old leaf and its last the payload's;
- chunks chain: first old root = batch old root, each new root = next old root, last new root =
  batch new root; padding updates are no-ops (old leaf = new leaf);
- every STARK verifies at >= `min_security_bits`, with the payload hash, the commitment (and for
  a chunk its number, the chunk count and the tree) absorbed as public inputs;
- with `config`: the arithmetic part verifies (`circuits.arithmetic`), and the transaction list
  is well formed and authorised (`circuits.authorisation`: signatures, natively).
"""

from __future__ import annotations

import itertools
import multiprocessing
import struct
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from perpetua.circuits.arithmetic import ARITHMETIC_OPTIONS, prove_statement, verify_arithmetic
from perpetua.circuits.authorisation import Unauthorised, check_authorisation, check_well_formed
from perpetua.circuits.merkle_wide import WideUpdateAir, wide_update_trace
from perpetua.circuits.state_update import (
    D,
    LeafUpdate,
    UpdateWitness,
    chain_roots,
    hash_to_field,
    pad_updates,
)
from perpetua.circuits.statement import Checked, Statement, StatementError, build_statement, records
from perpetua.crypto.keccak import keccak256
from perpetua.rollup.batch import Batch, commitment, decode_diff
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.constants import TREE_HEIGHT
from perpetua.rollup.hashing import (
    digest_to_ints,
    ints_to_digest,
)
from perpetua.rollup.position import Position
from perpetua.rollup.state import RollupState, SignatureMemo
from perpetua.rollup.tree import MerkleTree, StateTree, hash_orders, hash_positions
from perpetua.stark.errors import VerificationError
from perpetua.stark.params import ProofOptions
from perpetua.stark.prover import prove
from perpetua.stark.verifier import verify

CHUNK_OPTIONS = ProofOptions(blowup=2, num_queries=90, folding_factor=2)
"""Merkle chunks (degree 3) need only blowup 2: 90 queries keep 106 conjectured bits (about 60
proven, as at blowup 8) for a third of the prover's time (figures in docs/circuits.md). The
arithmetic part (degree 5) uses `ARITHMETIC_OPTIONS` (blowup 4)."""
MAGIC = b"PBATCH"
VERSION = 2
DEFAULT_CHUNK = 16


class BatchProofError(Exception):
    """The batch proof does not prove this batch (the message says which check failed)."""


def state_trees(state: RollupState, orders: bool = True) -> StateTree:
    """A state's trees built from its leaves (`StateTree.apply_diff`: both trees in one batched
    update); `orders=False` leaves the orders tree empty."""
    trees = StateTree()
    trees.apply_diff(dict(state.positions.items()), dict(state.orders.items()) if orders else {})
    return trees


def positions_tree(state: RollupState) -> MerkleTree:
    """The positions tree of a state, built from its leaves."""
    return state_trees(state, orders=False).positions


def copy_tree(tree: MerkleTree) -> MerkleTree:
    out = MerkleTree(tree.empty)
    out.levels = [dict(level) for level in tree.levels]
    return out


def payload_updates(payload: bytes) -> list[tuple[int, tuple[int, ...]]]:
    """(position id, new leaf digest) for every changed position of a DA payload, in its order."""
    positions: list[tuple[int, Position]] = list(decode_diff(payload).positions)
    digests = hash_positions([p for _, p in positions]) if positions else []
    return [(pid, tuple(digest_to_ints(d))) for (pid, _), d in zip(positions, digests, strict=True)]


def witnesses_for_batch(tree: MerkleTree, batch: Batch, extra: Sequence[int] = (),
                        chunk_size: int = DEFAULT_CHUNK) -> tuple[list[UpdateWitness], dict[int, tuple[int, ...]]]:
    """The batch's changed positions and a no-op (membership) update for each of `extra`
    (positions the arithmetic touches that end unchanged), in index order, applied to `tree`
    (mutated: it ends at the batch's new positions root; pass `copy_tree(...)` to keep the
    original). Returns the witnesses and the root before every chunk of `chunk_size` (and after
    the last)."""
    return _replay(tree, payload_updates(batch.payload), extra, batch.old_roots[0], batch.new_roots[0], "positions",
                   chunk_size)


def listed_updates(listed: list[tuple[int, tuple[int, ...]]], extra: Sequence[tuple[int, tuple[int, ...]]]
                   ) -> list[tuple[int, tuple[int, ...]]]:
    """The order a tree's updates are proven in: by leaf index (each index once)."""
    out = sorted([*listed, *extra])
    if any(a[0] == b[0] for a, b in itertools.pairwise(out)):
        raise ValueError("a leaf is listed twice")
    return out


def _replay(tree: MerkleTree, listed: list[tuple[int, tuple[int, ...]]], extra: Sequence[int], old_root: bytes,
            new_root: bytes, what: str, chunk_size: int) -> tuple[list[UpdateWitness], dict[int, tuple[int, ...]]]:
    """Write `listed` (index, new leaf digest) and a membership update for each of `extra` into
    `tree`, in index order, recording each update's old leaf and siblings as the sequential chain
    sees them; the tree must go old -> new root. One batched tree update per chunk: in index
    order, an update's left siblings hold only earlier leaves (their value after the chunk) and
    its right siblings only later ones (their value before it)."""
    if chunk_size < 1 or chunk_size & (chunk_size - 1):
        raise ValueError("chunk_size must be a power of two")
    if tree.root != old_root:
        raise ValueError(f"the tree is not at the batch's old {what} root")
    items = listed_updates(listed, [(i, tuple(digest_to_ints(tree.leaf(i)))) for i in extra])
    out: list[UpdateWitness] = []
    roots = {0: tuple(digest_to_ints(tree.root))}
    height = len(tree.levels) - 1
    for start in range(0, len(items), chunk_size):
        part = items[start:start + chunk_size]
        before = [(tuple(digest_to_ints(tree.leaf(i))), tree.proof(i)) for i, _ in part]
        tree.update({i: ints_to_digest(new) for i, new in part})
        for (index, new), (old, right) in zip(part, before, strict=True):
            siblings = tuple(
                tuple(digest_to_ints(tree.levels[h].get((index >> h) ^ 1, tree.empty[h]) if (index >> h) & 1
                                     else right[h]))
                for h in range(height))
            out.append(UpdateWitness(LeafUpdate(index, old, new), siblings))
        roots[start + len(part)] = tuple(digest_to_ints(tree.root))
    if tree.root != new_root:
        raise ValueError(f"replaying the payload does not reach the batch's new {what} root")
    return out, roots


def payload_order_updates(payload: bytes) -> list[tuple[int, tuple[int, ...]]]:
    """(order id, new leaf digest) for every changed fulfilment record of a DA payload, in its order."""
    orders = list(decode_diff(payload).orders)
    digests = hash_orders([f for _, f in orders]) if orders else []
    return [(oid, tuple(digest_to_ints(d))) for (oid, _), d in zip(orders, digests, strict=True)]


def order_witnesses(tree: MerkleTree, batch: Batch, extra: Sequence[int] = (), chunk_size: int = DEFAULT_CHUNK
                    ) -> tuple[list[UpdateWitness], dict[int, tuple[int, ...]]]:
    """The payload's order updates and a membership update for each of `extra` (orders the
    arithmetic reads but the batch does not change: a forced trade refused for a used consent),
    in index order, applied to `tree` (mutated), old -> new orders root; with the chunk roots."""
    return _replay(tree, payload_order_updates(batch.payload), extra, batch.old_roots[1], batch.new_roots[1],
                   "orders", chunk_size)


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
    num_order_updates: int = 0
    order_chunks: tuple[ChunkProof, ...] = ()
    """The orders-root transition (orders tree, same AIR), present with the arithmetic part."""

    def to_bytes(self) -> bytes:
        out = [MAGIC, struct.pack("<HII", VERSION, self.height, self.num_updates),
               self.old_root, self.new_root, self.payload_hash, self.commitment]
        out += _chunks_bytes(self.chunks)
        out += [struct.pack("<I", len(self.statement)), self.statement,
                struct.pack("<I", len(self.arithmetic)), self.arithmetic,
                struct.pack("<I", self.num_order_updates)]
        out += _chunks_bytes(self.order_chunks)
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

        def u32() -> int:
            return int(struct.unpack("<I", take(4))[0])

        def chunks() -> tuple[ChunkProof, ...]:
            out = []
            for _ in range(u32()):
                roots = struct.unpack(f"<{2 * D}I", take(8 * D))
                updates = []
                for _ in range(u32()):
                    v = struct.unpack(f"<Q{2 * D}I", take(8 + 8 * D))
                    updates.append(LeafUpdate(v[0], tuple(v[1:1 + D]), tuple(v[1 + D:])))
                proof = take(u32())
                out.append(ChunkProof(roots[:D], roots[D:], tuple(updates), proof))
            return tuple(out)

        if take(len(MAGIC)) != MAGIC:
            raise BatchProofError("not a batch proof")
        version, height, num_updates = struct.unpack("<HII", take(10))
        if version != VERSION:
            raise BatchProofError(f"unknown batch proof version {version}")
        old_root, new_root, payload_hash, commitment = take(32), take(32), take(32), take(32)
        position_chunks = chunks()
        statement = take(u32())
        arithmetic = take(u32())
        num_order_updates = u32()
        order_chunks = chunks()
        if at != len(data):
            raise BatchProofError("trailing bytes after the batch proof")
        return BatchProof(height, old_root, new_root, payload_hash, commitment, num_updates, position_chunks,
                          statement, arithmetic, num_order_updates, order_chunks)


def _chunks_bytes(chunks: Sequence[ChunkProof]) -> list[bytes]:
    out = [struct.pack("<I", len(chunks))]
    for c in chunks:
        out.append(struct.pack(f"<{2 * D}I", *c.old_root, *c.new_root))
        out.append(struct.pack("<I", len(c.updates)))
        for u in c.updates:
            out.append(struct.pack(f"<Q{2 * D}I", u.index, *u.old, *u.new))
        out.append(struct.pack("<I", len(c.proof)))
        out.append(c.proof)
    return out


POSITIONS_TREE, ORDERS_TREE = 0, 1


def chunk_binding(payload_hash: bytes, commitment: bytes, chunk: int, num_chunks: int,
                  tree: int = POSITIONS_TREE) -> list[int]:
    """What each chunk's transcript absorbs besides roots and updates (the tree tag keeps a
    positions chunk from passing as an orders chunk)."""
    return [*hash_to_field(payload_hash), *hash_to_field(commitment), chunk, num_chunks, tree]


def chunk_air(proof: BatchProof, n: int, tree: int = POSITIONS_TREE) -> WideUpdateAir:
    chunks = proof.chunks if tree == POSITIONS_TREE else proof.order_chunks
    c = chunks[n]
    return WideUpdateAir(proof.height, c.old_root, c.new_root, c.updates,
                          chunk_binding(proof.payload_hash, proof.commitment, n, len(chunks), tree))


def _prove_chunk(height: int, old_root: tuple[int, ...], witnesses: list[UpdateWitness], binding: list[int],
                 options: ProofOptions) -> tuple[tuple[int, ...], bytes]:
    trace, new_root = wide_update_trace(height, old_root, witnesses)
    air = WideUpdateAir(height, old_root, new_root, [w.update for w in witnesses], binding)
    return tuple(new_root), prove(air, trace, options)


def split_chunks(height: int, old_root: Sequence[int], witnesses: Sequence[UpdateWitness],
                 chunk_size: int, roots: dict[int, tuple[int, ...]] | None = None
                 ) -> list[tuple[tuple[int, ...], list[UpdateWitness]]]:
    """(chunk old root, padded witnesses) per chunk; `roots` (the root before each chunk and after
    the last, from the replay) or chained here in Python."""
    if chunk_size < 1 or chunk_size & (chunk_size - 1):
        raise ValueError("chunk_size must be a power of two")
    if roots is None:
        roots = {i: tuple(r) for i, r in enumerate(chain_roots(old_root, witnesses))}
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
    options = options or CHUNK_OPTIONS
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
    witnesses, _ = witnesses_for_batch(copy_tree(tree), batch, extra, chunk_size)
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
    chunk_options = options or CHUNK_OPTIONS
    options = options or ARITHMETIC_OPTIONS
    statement = build_statement(old_state, batch, config)
    checked = records(statement, batch, config)
    first = checked.first
    changed = {pid for pid, _ in payload_updates(batch.payload)}
    extra = sorted(set(first) - changed)
    extra_orders = sorted(set(checked.orders_first) - {oid for oid, _ in payload_order_updates(batch.payload)})
    h = TREE_HEIGHT
    trees = state_trees(old_state)
    pos_w, pos_roots = witnesses_for_batch(trees.positions, batch, extra, chunk_size)
    pos_parts = split_chunks(h, digest_to_ints(batch.old_roots[0]), pos_w, chunk_size, pos_roots)
    order_w, ord_roots = order_witnesses(trees.orders, batch, extra_orders, chunk_size)
    ord_parts = split_chunks(h, digest_to_ints(batch.old_roots[1]), order_w, chunk_size, ord_roots) if order_w else []
    # the statement and its checked rows are built once, here; the arithmetic job only proves them
    jobs: list[tuple[Any, tuple[Any, ...]]] = [(prove_statement, (statement, checked.rows, batch, config, options))]
    for tree, parts in ((POSITIONS_TREE, pos_parts), (ORDERS_TREE, ord_parts)):
        jobs += [(_prove_chunk, (h, root, part, chunk_binding(batch.payload_hash, batch.commitment, n, len(parts),
                                                                tree), chunk_options))
                 for n, (root, part) in enumerate(parts)]
    results = _run(jobs, workers, executor)
    arithmetic = results[0]
    chunk_results = results[1:]
    pos_chunks = tuple(ChunkProof(root, new_root, tuple(w.update for w in part), proof)
                       for (root, part), (new_root, proof) in zip(pos_parts, chunk_results[:len(pos_parts)],
                                                                   strict=True))
    ord_chunks = tuple(ChunkProof(root, new_root, tuple(w.update for w in part), proof)
                       for (root, part), (new_root, proof) in zip(ord_parts, chunk_results[len(pos_parts):],
                                                                   strict=True))
    return BatchProof(h, batch.old_roots[0], ints_to_digest(pos_chunks[-1].new_root), batch.payload_hash,
                      batch.commitment, sum(1 for _ in extra) + len(changed), pos_chunks, statement.to_bytes(),
                      arithmetic, len(order_w), ord_chunks)


def _run(jobs: Sequence[tuple[Any, tuple[Any, ...]]], workers: int, executor: Executor | None) -> list[Any]:
    """Run (function, args) jobs in order on `executor`, an own pool of `workers`, or inline."""
    if executor is not None:
        return [f.result() for f in [executor.submit(fn, *args) for fn, args in jobs]]
    if workers > 1 and len(jobs) > 1:
        with _executor(min(workers, len(jobs))) as pool:
            return [f.result() for f in [pool.submit(fn, *args) for fn, args in jobs]]
    return [fn(*args) for fn, args in jobs]


def check_chunks(proof: BatchProof, min_security_bits: float = 100, tree: int = POSITIONS_TREE,
                 old_root: bytes | None = None, new_root: bytes | None = None) -> None:
    """Chain one tree's chunks by roots and verify each chunk's STARK (raises BatchProofError)."""
    name = "positions" if tree == POSITIONS_TREE else "orders"
    chunks = proof.chunks if tree == POSITIONS_TREE else proof.order_chunks
    count = proof.num_updates if tree == POSITIONS_TREE else proof.num_order_updates
    old_root = proof.old_root if old_root is None else old_root
    new_root = proof.new_root if new_root is None else new_root
    if not chunks:
        raise BatchProofError(f"no {name} chunks")
    if tuple(chunks[0].old_root) != tuple(digest_to_ints(old_root)):
        raise BatchProofError(f"first {name} chunk does not start at the batch's old root")
    if tuple(chunks[-1].new_root) != tuple(digest_to_ints(new_root)):
        raise BatchProofError(f"last {name} chunk does not end at the batch's new root")
    for a, b in itertools.pairwise(chunks):
        if tuple(a.new_root) != tuple(b.old_root):
            raise BatchProofError(f"{name} chunks do not chain: a chunk's new root is not the next one's old root")
    listed = [u for c in chunks for u in c.updates]
    real, padding = listed[:count], listed[count:]
    if len(real) != count or any(u.old != u.new for u in padding):
        raise BatchProofError("padding updates must be no-ops")
    for n in range(len(chunks)):
        try:
            verify(chunk_air(proof, n, tree), chunks[n].proof, min_security_bits=min_security_bits)
        except (VerificationError, ValueError) as e:
            raise BatchProofError(f"{name} chunk {n}: {e}" if tree else f"chunk {n}: {e}") from e


def verify_batch_proof(batch: Batch, proof: BatchProof | bytes, min_security_bits: float = 100,
                       config: GeneralConfig | None = None,
                       registered_conditions: frozenset[int] | None = None) -> BatchProof:
    """Raise BatchProofError unless `proof` proves `batch`'s positions-root transition over
    exactly its payload's changed leaves, bound to its payload hash and commitment; with
    `config`, also that every covered transaction's arithmetic holds (`circuits.arithmetic`),
    that the claimed states start at the trees' leaves and end at the payload's, and that every
    transaction is authorised (`circuits.authorisation`: signatures, natively)."""
    return check_batch_proof(batch, proof, min_security_bits, config, registered_conditions)[0]


def check_batch_proof(batch: Batch, proof: BatchProof | bytes, min_security_bits: float = 100,
                      config: GeneralConfig | None = None, registered_conditions: frozenset[int] | None = None
                      ) -> tuple[BatchProof, Checked | None]:
    """`verify_batch_proof`, also returning what the statement check found (None without
    `config`): the fact service chains its open interest without checking the statement again."""
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
    if commitment(batch.sequence, batch.mode, batch.old_roots, batch.new_roots, batch.txs,
                  batch.payload) != batch.commitment:
        raise BatchProofError("the batch's commitment is not the hash of its transactions, roots and payload")
    expected = payload_updates(batch.payload)
    listed = [u for c in proof.chunks for u in c.updates][:proof.num_updates]
    extra: list[tuple[int, tuple[int, ...]]] = []
    checked: Checked | None = None
    memo = SignatureMemo()  # oracle prices are signed: the tick replay and authorisation share it
    if config is not None:
        extra, checked = _check_arithmetic(batch, proof, config, listed, min_security_bits, registered_conditions,
                                           memo)
    elif proof.statement or proof.arithmetic or proof.order_chunks:
        raise BatchProofError("an arithmetic part is present but no config was given to check it")
    try:
        expected = listed_updates(expected, extra)
    except ValueError as e:
        raise BatchProofError(str(e)) from e
    if proof.num_updates != len(expected) or [(u.index, u.new) for u in listed] != expected:
        raise BatchProofError("updates differ from the payload's changed positions")
    check_chunks(proof, min_security_bits)
    if config is not None and (proof.order_chunks or batch.old_roots[1] != batch.new_roots[1]):
        check_chunks(proof, min_security_bits, ORDERS_TREE, batch.old_roots[1], batch.new_roots[1])
    if config is not None:
        try:
            check_well_formed(batch, config)
            check_authorisation(batch, config, registered_conditions=registered_conditions, memo=memo)
        except Unauthorised as e:
            raise BatchProofError(f"unauthorised: {e}") from e
    return proof, checked


def _check_arithmetic(batch: Batch, proof: BatchProof, config: GeneralConfig, listed: Sequence[LeafUpdate],
                      min_security_bits: float, registered_conditions: frozenset[int] | None, memo: SignatureMemo
                      ) -> tuple[list[tuple[int, tuple[int, ...]]], Checked]:
    """Verify the arithmetic part and bind its claimed first states to the Merkle updates' old
    leaves; returns the no-op updates expected after the payload's (touched, unchanged) and the
    statement check's result."""
    if not proof.statement or not proof.arithmetic:
        raise BatchProofError("the proof has no arithmetic part")
    try:
        statement, used = Statement.from_bytes(proof.statement)
        if used != len(proof.statement):
            raise StatementError("trailing bytes after the statement")
        checked = verify_arithmetic(batch, config, statement, proof.arithmetic, min_security_bits,
                                    registered_conditions, memo)
    except StatementError as e:
        raise BatchProofError(f"arithmetic statement: {e}") from e
    except (VerificationError, ValueError) as e:
        raise BatchProofError(f"arithmetic proof: {e}") from e
    first = checked.first
    _check_orders(batch, proof, statement, checked)
    changed = {pid for pid, _ in payload_updates(batch.payload)}
    digests = dict(zip(sorted(first), hash_positions([first[p] for p in sorted(first)]), strict=True)) \
        if first else {}
    old = {u.index: u.old for u in listed}
    for pid, digest in digests.items():
        if pid in old and old[pid] != tuple(digest_to_ints(digest)):
            raise BatchProofError(f"position {pid}: the claimed old state is not the tree's leaf")
    return [(pid, tuple(digest_to_ints(digests[pid]))) for pid in sorted(set(first) - changed)], checked


def _check_orders(batch: Batch, proof: BatchProof, statement: Statement, checked: Checked) -> None:
    """The orders part lists exactly the payload's fulfilment records (new digests recomputed
    here), each order's claimed first fulfilment is the tree's old leaf and its last is the
    payload's; an order the statement does not fill may change only through an opaque transaction."""
    expected = payload_order_updates(batch.payload)
    unchanged = sorted(set(checked.orders_first) - {oid for oid, _ in expected})
    if unchanged:  # read but not changed: a membership (no-op) update each
        digests = hash_orders([checked.orders_first[oid] for oid in unchanged])
        expected = listed_updates(expected, [(oid, tuple(digest_to_ints(d)))
                                             for oid, d in zip(unchanged, digests, strict=True)])
    else:
        expected = listed_updates(expected, [])
    listed = [u for c in proof.order_chunks for u in c.updates][:proof.num_order_updates]
    if proof.num_order_updates != len(expected) or [(u.index, u.new) for u in listed] != expected:
        raise BatchProofError("order updates differ from the payload's fulfilment records")
    payload = dict(decode_diff(batch.payload).orders)
    old = {u.index: u.old for u in listed}
    firsts = list(checked.orders_first.items())
    digests = hash_orders([f for _, f in firsts]) if firsts else []
    for (oid, _), digest in zip(firsts, digests, strict=True):
        if old.get(oid) != tuple(digest_to_ints(digest)):
            raise BatchProofError(f"order {oid}: the claimed fulfilment before the batch is not the tree's leaf")
        if payload.get(oid, checked.orders_first[oid]) != checked.orders_last[oid]:
            raise BatchProofError(f"order {oid}: the claimed fulfilment does not end at the payload's")
    if set(payload) - set(checked.orders_first) and not statement.opaque:
        raise BatchProofError("an order's fulfilment changes without a fill")
