"""A chain of Merkle leaf updates in one AIR: old root -> new root through every listed update.

The statement (public inputs): tree height H, the old root, the new root, a binding (field
elements of the batch's payload hash and commitment, absorbed by the transcript), and the ordered
update list (leaf index, old leaf digest, new leaf digest). It says: there are siblings such that,
starting from the old root R_0, for every update u in order,

    old leaf_u --(siblings_u, bits of index_u)--> R_u   and   new leaf_u --(same)--> R_{u+1},

and R_K is the new root. Leaves are 8-element digests (the rollup's position leaf hashes); the
siblings are private. Nothing here knows the rollup: `perpetua.circuits.batch` builds the list.

Layout. Update u owns H blocks of 32 rows (`merkle_air`'s two-lane path update, level j = block
j), so T = 32 H K with K a power of two (`pad_updates` appends no-op updates). Columns: the two
Poseidon2 lanes of `MerklePathAir` (old lane then new lane: s[16], h[16], d[8] each), a root
group r[8] holding R_u for the whole of update u, the direction bit, and three accumulators a[3]
that start at the index's 30-bit limbs and lose weight * bit at each level (weights 2^(j mod 30)
are periodic columns): a = 0 at the end means the bits spell the public index (a limb sums at
most 30 bits, below p, so there is no wrap-around). Constraints, besides the permutation:

    block start   (f_start):   (1 - bit)(s_i - d_i) + bit (s_{8+i} - d_i) = 0        per lane
                               old and new lane hash the same sibling;  bit (1 - bit) = 0
    block end     (f_end, not at an update's end):  d'_i = s_i;   elsewhere d'_i = d_i
    update check  (f_ucheck, row 32H - 2, inside the output copy rows): s_old_i = r_i, a_l = 0
    update end    (f_uend):    r'_i = s_new_i;   elsewhere r'_i = r_i
    accumulators  (not at f_uend):  a_l' = a_l - w_l bit
    boundary:     r_i(0) = old root_i;   s_new_i(T - 1) = new root_i;
                  at each update's first row: d_old = old leaf, d_new = new leaf, a = index limbs

Public leaves and indices enter as assertions at each update's first row: one assertion row per
update for the prover (one batch inversion over the LDE each), nearly free for the verifier (a
length-T periodic column would cost the verifier a Python Horner loop of T steps per column).
The check row sits one row before the update's end so that the last update is checked too
(transition constraints skip only the last row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perpetua.stark import poseidon2 as p2
from perpetua.stark.air import Air, Assertion, Frame
from perpetua.stark.algebra import FieldVec
from perpetua.stark.examples.merkle_air import compute_root
from perpetua.stark.examples.poseidon2_air import BLOCK, LANE_WIDTH, OUTPUT_ROW, lane_constraints, lane_trace
from perpetua.stark.examples.poseidon2_air import periodic_columns as poseidon_periodic
from perpetua.stark.field import Arr, P

D = p2.DIGEST
LANE = LANE_WIDTH + D
"""Columns per lane: Poseidon2 state and cubes (32) and the node digest d (8)."""
ROOT = 2 * LANE
"""First column of the root group r[8]."""
BIT = ROOT + D
"""The direction bit of the current level (read at each block's first row)."""
ACC = BIT + 1
"""Index accumulators: the index's 30-bit limbs, minus the bits seen so far, weighted."""
LIMB_BITS = 30
INDEX_LIMBS = 3
WIDTH = ACC + INDEX_LIMBS
NUM_CONSTRAINTS = 2 * (LANE_WIDTH + 2 * D) + 3 * D + 1 + 2 * INDEX_LIMBS
BINDING_WORDS = 9
"""A 256-bit hash as nine 30-bit field elements (little-endian)."""


def hash_to_field(digest: bytes) -> list[int]:
    """A 32-byte hash as nine 30-bit limbs (each < p): how byte hashes enter the statement."""
    if len(digest) != 32:
        raise ValueError("expected a 32-byte hash")
    value = int.from_bytes(digest, "big")
    return [(value >> (30 * i)) & ((1 << 30) - 1) for i in range(BINDING_WORDS)]


@dataclass(frozen=True, slots=True)
class LeafUpdate:
    """One public update: the leaf at `index` goes from `old` to `new` (8-element digests)."""

    index: int
    old: tuple[int, ...]
    new: tuple[int, ...]

    def elements(self) -> list[int]:
        return [*index_limbs(self.index), *self.old, *self.new]


def index_limbs(index: int) -> list[int]:
    """A leaf index (< 2^64 for height 64; height <= 90) as three 30-bit limbs."""
    return [(index >> (LIMB_BITS * i)) & ((1 << LIMB_BITS) - 1) for i in range(INDEX_LIMBS)]


@dataclass(frozen=True, slots=True)
class UpdateWitness:
    """A public update with its private siblings (H digests, from the leaf up)."""

    update: LeafUpdate
    siblings: tuple[tuple[int, ...], ...]


def pad_updates(witnesses: Sequence[UpdateWitness], root: Sequence[int]) -> list[UpdateWitness]:
    """Append no-op updates (the last leaf written again, same path) up to a power of two.

    `root` is the root after the last update; an empty list is padded with nothing (the caller
    must supply at least one update or a no-op of its own)."""
    out = list(witnesses)
    if not out:
        raise ValueError("at least one update is needed")
    last = out[-1]
    noop = UpdateWitness(LeafUpdate(last.update.index, last.update.new, last.update.new), last.siblings)
    assert compute_root(list(noop.update.old), [list(s) for s in noop.siblings], noop.update.index) == list(root)
    k = 1
    while k < len(out):
        k *= 2
    out += [noop] * (k - len(out))
    return out


class StateUpdateAir(Air):
    """K chained two-lane Merkle updates of height H (see the module docstring)."""

    name = "perpetua-state-update/v1"

    def __init__(self, height: int, old_root: Sequence[int], new_root: Sequence[int],
                 updates: Sequence[LeafUpdate], binding: Sequence[int] = ()) -> None:
        k = len(updates)
        if height < 1 or height & (height - 1):
            raise ValueError("height must be a power of two")
        if k < 1 or k & (k - 1):
            raise ValueError("the number of updates must be a power of two (see pad_updates)")
        for u in updates:
            if not 0 <= u.index < 1 << height or len(u.old) != D or len(u.new) != D:
                raise ValueError("bad update")
        self.height = height
        self.old_root = [v % P for v in old_root]
        self.new_root = [v % P for v in new_root]
        self.updates = list(updates)
        self.binding = [v % P for v in binding]
        self.trace_width = WIDTH
        self.trace_length = BLOCK * height * k
        self.max_constraint_degree = 4
        self.num_transition_constraints = NUM_CONSTRAINTS

    def public_inputs(self) -> list[int]:
        return [self.height, len(self.updates), *self.old_root, *self.new_root, len(self.binding), *self.binding,
                *(v for u in self.updates for v in u.elements())]

    def periodic_columns(self) -> list[list[int]]:
        span = BLOCK * self.height
        ucheck, uend = [0] * span, [0] * span
        ucheck[span - 2], uend[span - 1] = 1, 1
        weights = [[0] * span for _ in range(INDEX_LIMBS)]
        for j in range(self.height):
            weights[j // LIMB_BITS][BLOCK * j] = 1 << (j % LIMB_BITS)
        return [*poseidon_periodic(), ucheck, uend, *weights]

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        cur, nxt, per = frame.cur, frame.nxt, frame.periodic
        f_start, f_end = per[0], per[4]
        base = len(poseidon_periodic())
        f_ucheck, f_uend, weights = per[base], per[base + 1], per[base + 2:base + 2 + INDEX_LIMBS]
        bit = cur[BIT]
        not_bit = 1 - bit
        f_move = f_end - f_uend
        out: list[FieldVec] = []
        for lane in range(2):
            o = lane * LANE
            s, d, d_next = cur[o:o + p2.WIDTH], cur[o + LANE_WIDTH:o + LANE], nxt[o + LANE_WIDTH:o + LANE]
            out += lane_constraints(cur[o:o + LANE_WIDTH], nxt[o:o + LANE_WIDTH], per)
            out += [f_start * (not_bit * (s[i] - d[i]) + bit * (s[D + i] - d[i])) for i in range(D)]
            out += [f_move * (d_next[i] - s[i]) + (1 - f_end) * (d_next[i] - d[i]) for i in range(D)]
        s_old, s_new = cur[:p2.WIDTH], cur[LANE:LANE + p2.WIDTH]
        r, r_next = cur[ROOT:ROOT + D], nxt[ROOT:ROOT + D]
        out += [f_start * (not_bit * (s_old[D + i] - s_new[D + i]) + bit * (s_old[i] - s_new[i])) for i in range(D)]
        out += [f_ucheck * (s_old[i] - r[i]) for i in range(D)]
        out += [f_uend * (r_next[i] - s_new[i]) + (1 - f_uend) * (r_next[i] - r[i]) for i in range(D)]
        out.append(f_start * bit * not_bit)
        acc, acc_next = cur[ACC:ACC + INDEX_LIMBS], nxt[ACC:ACC + INDEX_LIMBS]
        out += [(1 - f_uend) * (acc_next[i] - acc[i] + weights[i] * bit) for i in range(INDEX_LIMBS)]
        out += [f_ucheck * acc[i] for i in range(INDEX_LIMBS)]
        return out

    def assertions(self) -> list[Assertion]:
        last = self.trace_length - 1
        span = BLOCK * self.height
        out = [Assertion(ROOT + i, 0, v) for i, v in enumerate(self.old_root)]
        for n, u in enumerate(self.updates):
            row = n * span
            out += [Assertion(LANE_WIDTH + i, row, v) for i, v in enumerate(u.old)]
            out += [Assertion(LANE + LANE_WIDTH + i, row, v) for i, v in enumerate(u.new)]
            out += [Assertion(ACC + i, row, v) for i, v in enumerate(index_limbs(u.index))]
        out += [Assertion(LANE + i, last, v) for i, v in enumerate(self.new_root)]
        return out


def update_trace(height: int, old_root: Sequence[int], witnesses: Sequence[UpdateWitness]) -> tuple[Arr, list[int]]:
    """The trace (WIDTH, 32 H K) of the chained updates and the final root.

    Every level of every update is hashed in one batched permutation call per level (both lanes
    of all updates at once); roots are chained in Python afterwards. The trace is built even if
    the witnesses are inconsistent (a cheating prover's trace): `StateUpdateAir.check_trace`
    reports where it fails.
    """
    k = len(witnesses)
    span = BLOCK * height
    trace = np.zeros((k, span, WIDTH), dtype=np.uint64)
    nodes = np.array([[w.update.old, w.update.new] for w in witnesses], dtype=np.uint64)  # (k, 2, 8)
    sib = np.array([w.siblings for w in witnesses], dtype=np.uint64)  # (k, H, 8)
    if sib.shape != (k, height, D):
        raise ValueError("each update needs `height` siblings")
    bits = np.array([[(w.update.index >> j) & 1 for j in range(height)] for w in witnesses], dtype=bool)
    for j in range(height):
        s = np.broadcast_to(sib[:, j][:, None, :], nodes.shape)
        left = np.where(bits[:, j][:, None, None], s, nodes)
        right = np.where(bits[:, j][:, None, None], nodes, s)
        blocks = lane_trace(np.concatenate([left, right], axis=2).reshape(2 * k, p2.WIDTH))  # (2k, 32, 32)
        blocks = blocks.reshape(k, 2, BLOCK, LANE_WIDTH)
        rows = slice(BLOCK * j, BLOCK * (j + 1))
        for lane in range(2):
            o = lane * LANE
            trace[:, rows, o:o + LANE_WIDTH] = blocks[:, lane]
            trace[:, rows, o + LANE_WIDTH:o + LANE] = nodes[:, lane][:, None, :]
        nodes = blocks[:, :, OUTPUT_ROW, :D].copy()
    roots = [list(old_root)]
    for n in range(k):
        roots.append([int(v) for v in nodes[n, 1]])
    for n in range(k):
        trace[n, :, ROOT:ROOT + D] = np.array(roots[n], dtype=np.uint64) % np.uint64(P)
    trace[:, ::BLOCK, BIT] = bits
    # accumulators: limb value at the update's start, minus weight * bit after each block start
    for limb in range(INDEX_LIMBS):
        levels = range(LIMB_BITS * limb, min(height, LIMB_BITS * (limb + 1)))
        steps = np.zeros((k, span), dtype=np.int64)
        for j in levels:
            steps[:, BLOCK * j + 1] = bits[:, j].astype(np.int64) << (j - LIMB_BITS * limb)
        start = np.array([index_limbs(w.update.index)[limb] for w in witnesses], dtype=np.int64)
        trace[:, :, ACC + limb] = ((start[:, None] - np.cumsum(steps, axis=1)) % P).astype(np.uint64)
    return trace.reshape(k * span, WIDTH).T.copy(), roots[-1]


def chain_roots(old_root: Sequence[int], witnesses: Sequence[UpdateWitness]) -> list[list[int]]:
    """R_0 .. R_K in Python; raises ValueError where an old leaf is not under the current root."""
    roots = [list(old_root)]
    for n, w in enumerate(witnesses):
        sibs = [list(s) for s in w.siblings]
        if compute_root(list(w.update.old), sibs, w.update.index) != roots[-1]:
            raise ValueError(f"update {n}: old leaf is not under the current root")
        roots.append(compute_root(list(w.update.new), sibs, w.update.index))
    return roots
