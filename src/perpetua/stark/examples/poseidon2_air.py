"""Poseidon2 permutation as AIR rows, and a hash-chain AIR built on it.

One permutation occupies a block of 32 rows (period 32) of 32 columns per lane: the state
s[0..16] and helpers h[0..16] holding cubes, which keep every constraint at degree 4
(x^7 = h^2 * x with h = x^3). Row r of the block, transition r -> r+1:

    r = 0        linear:  s' = M_E s
    r = 1..4     full:    h = (s + rc)^3;  s' = M_E(h^2 (s + rc))
    r = 5..17    partial: h_0 = (s_0 + rc_0)^3;  s' = (1 + diag V)(h_0^2 (s_0 + rc_0), s_1..s_15)
    r = 18..21   full (final constants)
    r = 22..30   copy:    s' = s        (row 22 holds the output)
    r = 31       left to the application (chain, Merkle step, ...)

Flags and round constants are periodic columns, so one set of constraints serves every row.
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import poseidon2 as p2
from perpetua.stark.air import Air, Assertion, Frame
from perpetua.stark.algebra import FieldVec
from perpetua.stark.field import Arr, P

BLOCK = 32
LANE_WIDTH = 2 * p2.WIDTH
OUTPUT_ROW = 22
PERIODIC_COUNT = 5 + p2.WIDTH
"""flag_linear, flag_full, flag_partial, flag_copy, flag_end, then 16 round constants."""


def periodic_columns() -> list[list[int]]:
    linear = [0] * BLOCK
    full = [0] * BLOCK
    partial = [0] * BLOCK
    copy = [0] * BLOCK
    end = [0] * BLOCK
    rc = [[0] * BLOCK for _ in range(p2.WIDTH)]
    linear[0] = 1
    for r, (kind, consts) in enumerate(p2.round_schedule(), start=1):
        (full if kind == "full" else partial)[r] = 1
        for i, c in enumerate(consts):
            rc[i][r] = c
    for r in range(OUTPUT_ROW, BLOCK - 1):
        copy[r] = 1
    end[BLOCK - 1] = 1
    return [linear, full, partial, copy, end, *rc]


def _ext_linear(x: list[FieldVec]) -> list[FieldVec]:
    out: list[FieldVec] = []
    ys: list[list[FieldVec]] = []
    for blk in range(4):
        a, b, c, d = x[4 * blk:4 * blk + 4]
        ys.append([2 * a + 3 * b + c + d, a + 2 * b + 3 * c + d, a + b + 2 * c + 3 * d,
                   3 * a + b + c + 2 * d])
    sums = [ys[0][j] + ys[1][j] + ys[2][j] + ys[3][j] for j in range(4)]
    for blk in range(4):
        out.extend(ys[blk][j] + sums[j] for j in range(4))
    return out


def _int_linear(x: list[FieldVec]) -> list[FieldVec]:
    total = x[0]
    for v in x[1:]:
        total = total + v
    return [v * d + total for v, d in zip(x, p2.INTERNAL_DIAG, strict=True)]


def lane_constraints(cur: list[FieldVec], nxt: list[FieldVec], periodic: list[FieldVec]) -> list[FieldVec]:
    """32 degree-4 constraints for one lane (columns s[16], h[16]) on rows 0..30 of a block."""
    s, h = cur[:p2.WIDTH], cur[p2.WIDTH:LANE_WIDTH]
    s_next = nxt[:p2.WIDTH]
    f_lin, f_full, f_part, f_copy = periodic[0], periodic[1], periodic[2], periodic[3]
    rc = periodic[5:5 + p2.WIDTH]
    t = [s[i] + rc[i] for i in range(p2.WIDTH)]
    helper = [f_full * (h[i] - t[i] * t[i] * t[i]) for i in range(p2.WIDTH)]
    helper[0] = (f_full + f_part) * (h[0] - t[0] * t[0] * t[0])
    full_out = _ext_linear([h[i] * h[i] * t[i] for i in range(p2.WIDTH)])
    part_out = _int_linear([h[0] * h[0] * t[0], *s[1:]])
    lin_out = _ext_linear(s)
    state = [f_full * (s_next[i] - full_out[i]) + f_part * (s_next[i] - part_out[i])
             + f_lin * (s_next[i] - lin_out[i]) + f_copy * (s_next[i] - s[i]) for i in range(p2.WIDTH)]
    return helper + state


def lane_trace(inputs: Arr) -> Arr:
    """Rows of m permutations, one block each: (m, 32, 32) for a (m, 16) array of inputs.

    Rows 0..22 carry the states, rows 23..31 copy the output; helper columns hold the cubes
    used by the round leaving each row.
    """
    m = inputs.shape[0]
    states = p2.permute_trace(inputs)  # 23 arrays of (m, 16)
    out = np.zeros((m, BLOCK, LANE_WIDTH), dtype=np.uint64)
    for r, st in enumerate(states):
        out[:, r, :p2.WIDTH] = st
    out[:, len(states):, :p2.WIDTH] = states[-1][:, None, :]
    for r, (kind, consts) in enumerate(p2.round_schedule(), start=1):
        x = states[r]
        if kind == "full":
            t = (x + np.array(consts, dtype=np.uint64)) % np.uint64(P)
            out[:, r, p2.WIDTH:] = t * t % np.uint64(P) * t % np.uint64(P)
        else:
            t0 = (x[:, 0] + np.uint64(consts[0])) % np.uint64(P)
            out[:, r, p2.WIDTH] = t0 * t0 % np.uint64(P) * t0 % np.uint64(P)
    return out


class Poseidon2ChainAir(Air):
    """x_{j+1} = Poseidon2(x_j) for j < n: public input state x_0 and output x_n (16 lanes each)."""

    name = "poseidon2-chain/v1"

    def __init__(self, num_permutations: int, initial: list[int], final: list[int]) -> None:
        self.trace_width = LANE_WIDTH
        self.trace_length = BLOCK * num_permutations
        self.max_constraint_degree = 4
        self.num_transition_constraints = LANE_WIDTH
        self.initial = [v % P for v in initial]
        self.final = [v % P for v in final]

    def public_inputs(self) -> list[int]:
        return self.initial + self.final

    def periodic_columns(self) -> list[list[int]]:
        return periodic_columns()

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        c = lane_constraints(frame.cur, frame.nxt, frame.periodic)
        f_end = frame.periodic[4]
        # row 31: the next block's input is this block's output
        for i in range(p2.WIDTH):
            c[p2.WIDTH + i] = c[p2.WIDTH + i] + f_end * (frame.nxt[i] - frame.cur[i])
        return c

    def assertions(self) -> list[Assertion]:
        last = self.trace_length - 1
        return ([Assertion(i, 0, v) for i, v in enumerate(self.initial)]
                + [Assertion(i, last, v) for i, v in enumerate(self.final)])


def chain_trace(num_permutations: int, initial: list[int]) -> tuple[Arr, list[int]]:
    """Trace of the chain and its final state."""
    blocks = []
    x = np.array([initial], dtype=np.uint64)
    for _ in range(num_permutations):
        block = lane_trace(x)
        blocks.append(block[0])
        x = block[:, OUTPUT_ROW, :p2.WIDTH]
    trace = np.concatenate(blocks).T.copy()
    return trace, [int(v) for v in x[0]]
