"""Merkle path AIRs over Poseidon2 ``hash_two``: leaf + siblings -> root, and a path update.

Level j of the path is block j (32 rows) of the trace. Each lane (Poseidon2 columns s, h) has a
digest column group d[8] carrying the current node; column ``bit`` holds the direction at the
block's first row (0: the node is the left child). Constraints, besides the permutation rounds:

    block start (flag_linear):  (1 - bit)(s_i - d_i) + bit (s_{8+i} - d_i) = 0,  bit (1 - bit) = 0
    block end   (flag_end):     d'_i = s_i         (the permutation output becomes the node)
    elsewhere:                  d'_i = d_i
    update only (block start):  (1 - bit)(s_{8+i} - u_{8+i}) + bit (s_i - u_i) = 0
                                (old lane s and new lane u hash the same sibling)

Public inputs: leaf digest(s), root(s), and the leaf index whose bits fix the directions.
With two lanes the AIR proves old leaf -> old root and new leaf -> new root on one path.
The height must be a power of two (trace length 32 * height).
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import poseidon2 as p2
from perpetua.stark.air import Air, Assertion, Frame
from perpetua.stark.algebra import FieldVec
from perpetua.stark.examples.poseidon2_air import BLOCK, LANE_WIDTH, OUTPUT_ROW, lane_constraints, lane_trace
from perpetua.stark.examples.poseidon2_air import periodic_columns as poseidon_periodic
from perpetua.stark.field import Arr, P

D = p2.DIGEST


class MerklePathAir(Air):
    """lanes = 1: membership (leaf -> root); lanes = 2: update (old and new leaf on one path)."""

    def __init__(self, height: int, index: int, leaves: list[list[int]], roots: list[list[int]]) -> None:
        if height < 1 or height & (height - 1):
            raise ValueError("height must be a power of two")
        if not 0 <= index < 1 << height:
            raise ValueError("index out of range")
        self.lanes = len(leaves)
        if self.lanes not in (1, 2) or len(roots) != self.lanes:
            raise ValueError("one or two lanes")
        self.name = "merkle-path/v1" if self.lanes == 1 else "merkle-update/v1"
        self.height = height
        self.index = index
        self.leaves = [[v % P for v in leaf] for leaf in leaves]
        self.roots = [[v % P for v in root] for root in roots]
        self.trace_width = self.lanes * (LANE_WIDTH + D) + 1
        self.trace_length = BLOCK * height
        self.max_constraint_degree = 4
        self.num_transition_constraints = self.lanes * (LANE_WIDTH + 2 * D) + 1 + (D if self.lanes == 2 else 0)

    @property
    def bit_column(self) -> int:
        return self.trace_width - 1

    def lane_offset(self, lane: int) -> int:
        return lane * (LANE_WIDTH + D)

    def public_inputs(self) -> list[int]:
        return [self.height, self.index, *(v for leaf in self.leaves for v in leaf),
                *(v for root in self.roots for v in root)]

    def periodic_columns(self) -> list[list[int]]:
        return poseidon_periodic()

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        cur, nxt, per = frame.cur, frame.nxt, frame.periodic
        f_start, f_end = per[0], per[4]
        bit = cur[self.bit_column]
        not_bit = 1 - bit
        out: list[FieldVec] = []
        for lane in range(self.lanes):
            o = self.lane_offset(lane)
            s, d, d_next = cur[o:o + p2.WIDTH], cur[o + LANE_WIDTH:o + LANE_WIDTH + D], \
                nxt[o + LANE_WIDTH:o + LANE_WIDTH + D]
            out += lane_constraints(cur[o:o + LANE_WIDTH], nxt[o:o + LANE_WIDTH], per)
            out += [f_start * (not_bit * (s[i] - d[i]) + bit * (s[D + i] - d[i])) for i in range(D)]
            out += [f_end * (d_next[i] - s[i]) + (1 - f_end) * (d_next[i] - d[i]) for i in range(D)]
        out.append(f_start * bit * not_bit)
        if self.lanes == 2:
            s, u = cur[:p2.WIDTH], cur[self.lane_offset(1):self.lane_offset(1) + p2.WIDTH]
            out += [f_start * (not_bit * (s[D + i] - u[D + i]) + bit * (s[i] - u[i])) for i in range(D)]
        return out

    def assertions(self) -> list[Assertion]:
        last = self.trace_length - 1
        out: list[Assertion] = []
        for lane in range(self.lanes):
            o = self.lane_offset(lane)
            out += [Assertion(o + LANE_WIDTH + i, 0, v) for i, v in enumerate(self.leaves[lane])]
            out += [Assertion(o + i, last, v) for i, v in enumerate(self.roots[lane])]
        out += [Assertion(self.bit_column, BLOCK * j, (self.index >> j) & 1) for j in range(self.height)]
        return out


def compute_root(leaf: list[int], siblings: list[list[int]], index: int) -> list[int]:
    """Root of the path in Python (``hash_two`` per level; bit j of index = direction at level j)."""
    node = np.array(leaf, dtype=np.uint64)
    for j, sib in enumerate(siblings):
        s = np.array(sib, dtype=np.uint64)
        node = p2.hash_two(s, node) if (index >> j) & 1 else p2.hash_two(node, s)
    return [int(v) for v in node]


def path_trace(leaves: list[list[int]], siblings: list[list[int]], index: int) -> tuple[Arr, list[list[int]]]:
    """Trace for one or two lanes sharing the siblings; returns (trace, roots)."""
    height, lanes = len(siblings), len(leaves)
    width = lanes * (LANE_WIDTH + D) + 1
    trace = np.zeros((BLOCK * height, width), dtype=np.uint64)
    nodes = np.array(leaves, dtype=np.uint64)  # (lanes, 8)
    sib = np.array(siblings, dtype=np.uint64)
    for j in range(height):
        bit = (index >> j) & 1
        s = np.broadcast_to(sib[j], nodes.shape)
        inputs = np.concatenate([s, nodes] if bit else [nodes, s], axis=1)
        blocks = lane_trace(inputs)  # (lanes, 32, 32)
        rows = slice(BLOCK * j, BLOCK * (j + 1))
        for lane in range(lanes):
            o = lane * (LANE_WIDTH + D)
            trace[rows, o:o + LANE_WIDTH] = blocks[lane]
            trace[rows, o + LANE_WIDTH:o + LANE_WIDTH + D] = nodes[lane]
        trace[BLOCK * j, width - 1] = bit
        nodes = blocks[:, OUTPUT_ROW, :D].copy()
    return trace.T.copy(), [[int(v) for v in n] for n in nodes]
