"""The chain of Merkle leaf updates of `state_update`, one row per tree level (a wide AIR).

Same statement as `StateUpdateAir` (see `perpetua.circuits.state_update`): public tree height H,
old root R_0, new root R_K, a binding, and the ordered updates (index, old leaf, new leaf); there
are siblings such that for each update u the old leaf hashes along the index's path to R_u and the
new leaf, with the same siblings and bits, to R_{u+1}. Only the layout differs: update u owns rows
uH .. uH + H - 1, row uH + j is level j, and each row holds BOTH lanes' (old, new) whole Poseidon2
permutations unrolled across columns, so T = H K (K a power of two, `pad_updates`).

Columns of a row (600 at any height):

    node_old[8] node_new[8]   the lanes' current nodes (level j inputs)
    sib[8] bit                the sibling and direction bit, shared by both lanes by construction
    r[8]                      R_u, constant over update u
    acc[3]                    index limbs minus the weighted bits of the levels below this one
    lane old, lane new        282 columns each:
        left[8]                   the permutation input's left half; right = node + sib - left
        4 initial full rounds:    c[16] = (x + rc)^3,  s[16] = M_E(c^2 (x + rc))   (next state)
        13 partial rounds:        c = (x_0 + rc)^3,    y = c^2 (x_0 + rc)
                                  (the other lanes stay linear in earlier columns)
        3 final full rounds:      c[16], s[16]
        last full round:          c[16]
        out[8]                    M_E(c^2 (x + rc))[:8], the permutation's first 8 lanes = hash_two

Poseidon2's S-box is x^7 (`poseidon2.SBOX_DEGREE`): with c = t^3 stored, t^7 = c^2 t has degree 3,
and every state entering an S-box is a linear form in stored columns, so every constraint has
degree <= 3 (the composition polynomial has two chunks).

Constraints. The row-local ones, L(row) (no periodic columns):

    bit (1 - bit) = 0;   left_i = node_i + bit (sib_i - node_i)   per lane
    the permutation:     c - t^3,  s - M_E(c^2 t),  y - c^2 t,  out - M_E(c^2 t)[:8]

Transition constraints hold on every row but the last, and here every row, the last one included,
carries a permutation that matters (the last update's top level). So L is imposed twice: on the
current row, L(cur) (rows 0 .. T-2), and on the next one, L(nxt) (rows 1 .. T-1). The prover gets
L(nxt) by rotating L(cur) over the LDE (the same polynomial shifted by one trace row), so this
doubles only the number of constraints to combine, not their evaluation; the verifier evaluates
both at once (z and g z stacked in one extension vector).

Cross-row constraints (periodic columns of period H: f_top at level H-1, f_pre at level H-2,
w_l = 2^(j mod 30) on the levels of limb l, wtop_l = the weight of level H-1 in limb l, placed at
level H-2):

    (1 - f_top)(node'_lane - out_lane) = 0        the hash becomes the next level's node
    (1 - f_top)(r' - r) + f_top (r' - out_new) = 0    R_{u+1} is the new lane's root of update u
    f_pre (out_old' - r') = 0                     the old lane's root is R_u (checked from the
                                                  row before the top, so the last update too)
    (1 - f_top)(acc_l' - acc_l + w_l bit) = 0
    f_pre acc_l' - wtop_l bit' = 0                the bits spell the index (limbs < 2^30 < p)

Boundary: r(0) = R_0; out_new(T - 1) = R_K; at each update's first row node_old = old leaf,
node_new = new leaf, acc = index limbs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perpetua.circuits.state_update import (
    INDEX_LIMBS,
    LIMB_BITS,
    LeafUpdate,
    UpdateWitness,
    chain_roots,
    hash_to_field,
    index_limbs,
    pad_updates,
)
from perpetua.stark import poseidon2 as p2
from perpetua.stark.air import Air, Assertion, Frame
from perpetua.stark.algebra import BaseVec, ExtVec, FieldVec
from perpetua.stark.field import Arr, P

__all__ = [
    "ACC",
    "BIT",
    "LANE_COLS",
    "LANE_NEW",
    "LANE_OLD",
    "LEFT",
    "NODE_NEW",
    "NODE_OLD",
    "OUT",
    "ROOT",
    "SIB",
    "WIDTH",
    "LeafUpdate",
    "UpdateWitness",
    "WideUpdateAir",
    "chain_roots",
    "hash_to_field",
    "lane_columns",
    "pad_updates",
    "wide_update_trace",
]

D = p2.DIGEST
W16 = p2.WIDTH
assert p2.SBOX_DEGREE == 7, "the layout stores c = t^3 so that t^7 = c^2 t has degree 3"

NODE_OLD = 0
NODE_NEW = NODE_OLD + D
SIB = NODE_NEW + D
BIT = SIB + D
ROOT = BIT + 1
ACC = ROOT + D
LANE_OLD = ACC + INDEX_LIMBS

# offsets inside a lane
LEFT = 0
_ROUNDS = p2.round_schedule()
_FULL_INITIAL = p2.HALF_FULL_ROUNDS
_PARTIAL = p2.PARTIAL_ROUNDS


def _lane_layout() -> tuple[list[tuple[str, int]], int]:
    """(kind, offset) per round in order and the lane width; kinds: full, partial, last."""
    out: list[tuple[str, int]] = []
    o = LEFT + D
    for r, (kind, _) in enumerate(_ROUNDS):
        if kind == "partial":
            out.append(("partial", o))
            o += 2
        elif r == len(_ROUNDS) - 1:
            out.append(("last", o))
            o += W16
        else:
            out.append(("full", o))
            o += 2 * W16
    return out, o


LAYOUT, OUT = _lane_layout()
"""Per round: its kind and the offset of its columns; OUT: the offset of out[8]."""
LANE_COLS = OUT + D
LANE_NEW = LANE_OLD + LANE_COLS
WIDTH = LANE_NEW + LANE_COLS
LOCAL_CONSTRAINTS = 1 + 2 * LANE_COLS
CROSS_CONSTRAINTS = 2 * D + D + D + 2 * INDEX_LIMBS
NUM_CONSTRAINTS = 2 * LOCAL_CONSTRAINTS + CROSS_CONSTRAINTS


# --- the linear layers over FieldVec (additions only where possible) ------------------------

def _m4(a: FieldVec, b: FieldVec, c: FieldVec, d: FieldVec) -> list[FieldVec]:
    """M4 = [[2,3,1,1],[1,2,3,1],[1,1,2,3],[3,1,1,2]] with additions (Plonky3's form)."""
    t01 = a + b
    t23 = c + d
    t0123 = t01 + t23
    t01123 = t0123 + b
    t01233 = t0123 + d
    return [t01123 + t01, t01123 + c + c, t01233 + t23, t01233 + a + a]


def _ext_linear(x: Sequence[FieldVec], outputs: int = W16) -> list[FieldVec]:
    ys = [_m4(*x[4 * blk:4 * blk + 4]) for blk in range(4)]
    sums = [ys[0][j] + ys[1][j] + ys[2][j] + ys[3][j] for j in range(4)]
    return [ys[i // 4][i % 4] + sums[i % 4] for i in range(outputs)]


def _int_linear(x: Sequence[FieldVec]) -> list[FieldVec]:
    total = x[0]
    for v in x[1:]:
        total = total + v
    return [total + v if diag == 1 else total + v * diag for v, diag in zip(x, p2.INTERNAL_DIAG, strict=True)]


def _lane_local(lane: Sequence[FieldVec], node: Sequence[FieldVec], sib: Sequence[FieldVec],
                bit: FieldVec) -> list[FieldVec]:
    """The LANE_COLS row-local constraints of one lane."""
    left = lane[LEFT:LEFT + D]
    out: list[FieldVec] = [left[i] - node[i] - bit * (sib[i] - node[i]) for i in range(D)]
    x = _ext_linear([*left, *(node[i] + sib[i] - left[i] for i in range(D))])
    for (kind, o), (_, rc) in zip(LAYOUT, _ROUNDS, strict=True):
        if kind == "partial":
            c, y = lane[o], lane[o + 1]
            t = x[0] + rc[0]
            out += [c - t * t * t, y - c * c * t]
            x = _int_linear([y, *x[1:]])
            continue
        cubes = lane[o:o + W16]
        ts = [x[i] + rc[i] for i in range(W16)]
        out += [cubes[i] - ts[i] * ts[i] * ts[i] for i in range(W16)]
        sboxed = [cubes[i] * cubes[i] * ts[i] for i in range(W16)]
        if kind == "full":
            nxt = lane[o + W16:o + 2 * W16]
            out += [nv - e for nv, e in zip(nxt, _ext_linear(sboxed), strict=True)]
            x = list(nxt)
        else:
            res = lane[OUT:OUT + D]
            out += [rv - e for rv, e in zip(res, _ext_linear(sboxed, D), strict=True)]
    return out


def _local(row: Sequence[FieldVec]) -> list[FieldVec]:
    bit = row[BIT]
    sib = row[SIB:SIB + D]
    out: list[FieldVec] = [bit * (1 - bit)]
    out += _lane_local(row[LANE_OLD:LANE_OLD + LANE_COLS], row[NODE_OLD:NODE_OLD + D], sib, bit)
    out += _lane_local(row[LANE_NEW:LANE_NEW + LANE_COLS], row[NODE_NEW:NODE_NEW + D], sib, bit)
    return out


class WideUpdateAir(Air):
    """K chained two-lane Merkle updates of height H, one row per level (module docstring)."""

    name = "perpetua-state-update-wide/v1"

    def __init__(self, height: int, old_root: Sequence[int], new_root: Sequence[int],
                 updates: Sequence[LeafUpdate], binding: Sequence[int] = ()) -> None:
        k = len(updates)
        if height < 2 or height & (height - 1) or height > LIMB_BITS * INDEX_LIMBS:
            raise ValueError("height must be a power of two in [2, 64]")
        if k < 1 or k & (k - 1):
            raise ValueError("the number of updates must be a power of two (see pad_updates)")
        if height * k < 8:
            raise ValueError("height * number of updates must be at least 8")
        if len(old_root) != D or len(new_root) != D:
            raise ValueError("roots are 8-element digests")
        for u in updates:
            if not 0 <= u.index < 1 << height or len(u.old) != D or len(u.new) != D:
                raise ValueError("bad update")
        self.height = height
        self.old_root = [v % P for v in old_root]
        self.new_root = [v % P for v in new_root]
        self.updates = list(updates)
        self.binding = [v % P for v in binding]
        self.trace_width = WIDTH
        self.trace_length = height * k
        self.max_constraint_degree = 3
        self.num_transition_constraints = NUM_CONSTRAINTS

    def public_inputs(self) -> list[int]:
        return [self.height, len(self.updates), *self.old_root, *self.new_root, len(self.binding), *self.binding,
                *(v for u in self.updates for v in u.elements())]

    def periodic_columns(self) -> list[list[int]]:
        h = self.height
        top, pre = [0] * h, [0] * h
        top[h - 1], pre[h - 2] = 1, 1
        weights = [[0] * h for _ in range(INDEX_LIMBS)]
        wtop = [[0] * h for _ in range(INDEX_LIMBS)]
        for j in range(h):
            weights[j // LIMB_BITS][j] = 1 << (j % LIMB_BITS)
        wtop[(h - 1) // LIMB_BITS][h - 2] = 1 << ((h - 1) % LIMB_BITS)
        return [top, pre, *weights, *wtop]

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        cur, nxt, per = frame.cur, frame.nxt, frame.periodic
        f_top, f_pre = per[0], per[1]
        weights, wtop = per[2:2 + INDEX_LIMBS], per[2 + INDEX_LIMBS:2 + 2 * INDEX_LIMBS]
        local_cur, local_nxt = self._local_both(cur, nxt)
        out = local_cur + local_nxt
        not_top = 1 - f_top
        for node, lane in ((NODE_OLD, LANE_OLD), (NODE_NEW, LANE_NEW)):
            out += [not_top * (nxt[node + i] - cur[lane + OUT + i]) for i in range(D)]
        out += [not_top * (nxt[ROOT + i] - cur[ROOT + i]) + f_top * (nxt[ROOT + i] - cur[LANE_NEW + OUT + i])
                for i in range(D)]
        out += [f_pre * (nxt[LANE_OLD + OUT + i] - nxt[ROOT + i]) for i in range(D)]
        bit = cur[BIT]
        out += [not_top * (nxt[ACC + i] - cur[ACC + i] + weights[i] * bit) for i in range(INDEX_LIMBS)]
        out += [f_pre * nxt[ACC + i] - wtop[i] * nxt[BIT] for i in range(INDEX_LIMBS)]
        return out

    def _local_both(self, cur: list[FieldVec], nxt: list[FieldVec]) -> tuple[list[FieldVec], list[FieldVec]]:
        """L(cur) and L(nxt), each computed once where the vector type allows it."""
        base = [v for v in cur if isinstance(v, BaseVec)]
        bit_next = nxt[BIT]
        shift = len(base[0].v) // self.trace_length if base else 0
        if (len(base) == len(cur) and isinstance(bit_next, BaseVec) and shift * self.trace_length == len(base[0].v)
                and np.array_equal(bit_next.v, np.roll(base[BIT].v, -shift))):
            # over a trace or its LDE, the next row is the same vector rotated by len / T points
            # (the prover's and check_trace's frames; checked on the bit column just above)
            here = _local(base)
            rolled: list[FieldVec] = []
            for v in here:
                assert isinstance(v, BaseVec)
                rolled.append(BaseVec(np.roll(v.v, -shift)))
            return here, rolled
        if all(isinstance(v, ExtVec) for v in cur + nxt):
            # the verifier: z and g z side by side in one extension vector of length 2
            both: list[FieldVec] = []
            for a, b in zip(cur, nxt, strict=True):
                assert isinstance(a, ExtVec) and isinstance(b, ExtVec)
                both.append(ExtVec(np.concatenate([a.v, b.v], axis=1)))
            firsts: list[FieldVec] = []
            seconds: list[FieldVec] = []
            for v in _local(both):
                assert isinstance(v, ExtVec)
                firsts.append(ExtVec(np.ascontiguousarray(v.v[:, :1])))
                seconds.append(ExtVec(np.ascontiguousarray(v.v[:, 1:])))
            return firsts, seconds
        return _local(cur), _local(nxt)

    def assertions(self) -> list[Assertion]:
        last = self.trace_length - 1
        out = [Assertion(ROOT + i, 0, v) for i, v in enumerate(self.old_root)]
        for n, u in enumerate(self.updates):
            row = n * self.height
            out += [Assertion(NODE_OLD + i, row, v) for i, v in enumerate(u.old)]
            out += [Assertion(NODE_NEW + i, row, v) for i, v in enumerate(u.new)]
            out += [Assertion(ACC + i, row, v) for i, v in enumerate(index_limbs(u.index))]
        out += [Assertion(LANE_NEW + OUT + i, last, v) for i, v in enumerate(self.new_root)]
        return out


# --- trace -------------------------------------------------------------------------------------

_PU = np.uint64(P)


def _cube(t: Arr) -> Arr:
    out: Arr = t * t % _PU * t % _PU
    return out


def lane_columns(left: Arr, right: Arr) -> Arr:
    """The LANE_COLS columns of m permutations of (left || right): shape (m, LANE_COLS)."""
    m = left.shape[0]
    cols = np.zeros((m, LANE_COLS), dtype=np.uint64)
    cols[:, LEFT:LEFT + D] = left
    x = p2.external_linear(np.concatenate([left, right], axis=1) % _PU)
    for (kind, o), (_, rc) in zip(LAYOUT, _ROUNDS, strict=True):
        if kind == "partial":
            t0 = (x[:, 0] + np.uint64(rc[0])) % _PU
            c0 = _cube(t0)
            y0 = c0 * c0 % _PU * t0 % _PU
            cols[:, o], cols[:, o + 1] = c0, y0
            x = x.copy()
            x[:, 0] = y0
            x = p2.internal_linear(x)
            continue
        t = (x + np.array(rc, dtype=np.uint64)) % _PU
        c = _cube(t)
        cols[:, o:o + W16] = c
        x = p2.external_linear(c * c % _PU * t % _PU)
        if kind == "full":
            cols[:, o + W16:o + 2 * W16] = x
        else:
            cols[:, OUT:OUT + D] = x[:, :D]
    return cols


def wide_update_trace(height: int, old_root: Sequence[int], witnesses: Sequence[UpdateWitness]
                      ) -> tuple[Arr, list[int]]:
    """The trace (WIDTH, H K) of the chained updates and the final root (the last new-lane root).

    Each level of every update is one batched computation (both lanes of all updates at once).
    The trace is built even if the witnesses are inconsistent (a cheating prover's trace):
    `WideUpdateAir.check_trace` reports where it fails.
    """
    k = len(witnesses)
    trace = np.zeros((k, height, WIDTH), dtype=np.uint64)
    nodes = np.array([[w.update.old, w.update.new] for w in witnesses], dtype=np.uint64) % _PU  # (k, 2, 8)
    sib = np.array([w.siblings for w in witnesses], dtype=np.uint64) % _PU  # (k, H, 8)
    if sib.shape != (k, height, D):
        raise ValueError("each update needs `height` siblings")
    bits = np.array([[(w.update.index >> j) & 1 for j in range(height)] for w in witnesses], dtype=bool)
    for j in range(height):
        b = bits[:, j][:, None, None]
        s = np.broadcast_to(sib[:, j][:, None, :], nodes.shape)
        left = np.where(b, s, nodes).reshape(2 * k, D)
        right = np.where(b, nodes, s).reshape(2 * k, D)
        cols = lane_columns(left, right).reshape(k, 2, LANE_COLS)
        trace[:, j, NODE_OLD:NODE_OLD + D] = nodes[:, 0]
        trace[:, j, NODE_NEW:NODE_NEW + D] = nodes[:, 1]
        trace[:, j, SIB:SIB + D] = sib[:, j]
        trace[:, j, LANE_OLD:LANE_OLD + LANE_COLS] = cols[:, 0]
        trace[:, j, LANE_NEW:LANE_NEW + LANE_COLS] = cols[:, 1]
        nodes = cols[:, :, OUT:OUT + D].copy()
    trace[:, :, BIT] = bits
    roots = [[v % P for v in old_root]] + [[int(v) for v in nodes[n, 1]] for n in range(k)]
    for n in range(k):
        trace[n, :, ROOT:ROOT + D] = np.array(roots[n], dtype=np.uint64)
    # accumulators: the limb at the update's first row, minus weight * bit of every level below
    for limb in range(INDEX_LIMBS):
        steps = np.zeros((k, height), dtype=np.int64)
        for j in range(LIMB_BITS * limb, min(height, LIMB_BITS * (limb + 1))):
            if j + 1 < height:
                steps[:, j + 1] = bits[:, j].astype(np.int64) << (j - LIMB_BITS * limb)
        start = np.array([index_limbs(w.update.index)[limb] for w in witnesses], dtype=np.int64)
        trace[:, :, ACC + limb] = ((start[:, None] - np.cumsum(steps, axis=1)) % P).astype(np.uint64)
    return trace.reshape(k * height, WIDTH).T.copy(), roots[-1]
