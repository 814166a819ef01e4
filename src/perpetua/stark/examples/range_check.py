"""LogUp range check: every value in column v lies in [0, 2^bits), using one auxiliary column.

Main columns: v (values), t (the table 0, 1, ..., 2^bits - 1, then repeating the top value), m
(how often each table row's value occurs in v). With a challenge alpha the auxiliary running sum

    s_0 = 0,   s_{i+1} = s_i + m_i / (alpha - t_i) - 1 / (alpha - v_i)

must end at s_{T-1} = 0, which (w.h.p. over alpha) means the multiset of v equals the table
entries counted by m. Constraints:

    (t' - t)(t' - t - 1) = 0                                   table steps by 0 or 1
    (s' - s)(alpha - t)(alpha - v) = m (alpha - v) - (alpha - t)
    t_0 = 0,  t_{T-1} = 2^bits - 1,  v_{T-1} = t_{T-1},  m_{T-1} = 1   (last row adds zero)
    s_0 = 0,  s_{T-1} = 0
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import extension as ext
from perpetua.stark.air import Air, Assertion, AuxAssertion, Frame
from perpetua.stark.algebra import FieldVec
from perpetua.stark.field import Arr, P

V, T_COL, M = 0, 1, 2


class RangeCheckAir(Air):
    name = "logup-range-check/v1"

    def __init__(self, trace_length: int, bits: int) -> None:
        if trace_length < 1 << bits:
            raise ValueError("trace must hold the whole table")
        self.bits = bits
        self.trace_width = 3
        self.trace_length = trace_length
        self.max_constraint_degree = 3
        self.num_transition_constraints = 2
        self.num_aux_columns = 1
        self.num_aux_random = 1

    def public_inputs(self) -> list[int]:
        return [self.bits]

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        v, t, m = frame.cur
        t_next = frame.nxt[T_COL]
        s, s_next = frame.aux_cur[0], frame.aux_nxt[0]
        alpha = frame.rand[0]
        step = t_next - t
        return [
            step * (step - 1),
            (s_next - s) * (alpha - t) * (alpha - v) - (m * (alpha - v) - (alpha - t)),
        ]

    def assertions(self) -> list[Assertion]:
        last, top = self.trace_length - 1, (1 << self.bits) - 1
        return [Assertion(T_COL, 0, 0), Assertion(T_COL, last, top), Assertion(V, last, top),
                Assertion(M, last, 1)]

    def build_aux_trace(self, main: Arr, rand: list[Arr]) -> Arr:
        alpha = rand[0].reshape(4, 1)
        inv_t = ext.inverse(ext.sub(np.broadcast_to(alpha, (4, main.shape[1])).copy(), ext.from_base(main[T_COL])))
        inv_v = ext.inverse(ext.sub(np.broadcast_to(alpha, (4, main.shape[1])).copy(), ext.from_base(main[V])))
        terms = ext.sub(ext.mul_base(inv_t, main[M]), inv_v)
        s = np.zeros_like(terms)
        s[:, 1:] = np.cumsum(terms[:, :-1], axis=1, dtype=np.uint64) % np.uint64(P)
        return s.reshape(1, 4, main.shape[1])

    def aux_assertions(self, rand: list[Arr]) -> list[AuxAssertion]:
        return [AuxAssertion(0, 0, (0, 0, 0, 0)), AuxAssertion(0, self.trace_length - 1, (0, 0, 0, 0))]


def build_trace(values: list[int], bits: int, trace_length: int) -> Arr:
    """Main trace for checking ``values`` (at most trace_length - 1 of them; padded with 0)."""
    top = (1 << bits) - 1
    v = np.zeros(trace_length, dtype=np.uint64)
    v[:len(values)] = [x % P for x in values]
    v[-1] = top
    t = np.minimum(np.arange(trace_length, dtype=np.uint64), np.uint64(top))
    m = np.zeros(trace_length, dtype=np.uint64)
    counts = np.bincount(np.minimum(v[:-1], top + 1).astype(np.int64), minlength=top + 2)[: top + 1]
    m[: top + 1] = counts.astype(np.uint64)
    m[-1] = 1
    return np.stack([v, t, m])
