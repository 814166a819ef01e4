"""Fibonacci AIR: two columns (a, b) with a' = b, b' = a + b, starting from (1, 1).

Public input: the value of b in the last row (the (T+1)-th Fibonacci number mod p).
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import field as fld
from perpetua.stark.air import Air, Assertion, Frame
from perpetua.stark.algebra import FieldVec
from perpetua.stark.field import Arr


class FibonacciAir(Air):
    name = "fibonacci/v1"

    def __init__(self, trace_length: int, result: int) -> None:
        self.trace_width = 2
        self.trace_length = trace_length
        self.max_constraint_degree = 1
        self.num_transition_constraints = 2
        self.result = result % fld.P

    def public_inputs(self) -> list[int]:
        return [self.result]

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        a, b = frame.cur
        a_next, b_next = frame.nxt
        return [
            a_next - b,      # a' = b
            b_next - a - b,  # b' = a + b
        ]

    def assertions(self) -> list[Assertion]:
        return [Assertion(0, 0, 1), Assertion(1, 0, 1),
                Assertion(1, self.trace_length - 1, self.result)]


def build_trace(trace_length: int) -> Arr:
    """The Fibonacci trace; rows are computed 2 at a time by Python ints (cheap: 2 adds per row)."""
    a = np.empty(trace_length, dtype=np.uint64)
    b = np.empty(trace_length, dtype=np.uint64)
    x, y = 1, 1
    p = fld.P
    for i in range(trace_length):
        a[i], b[i] = x, y
        x, y = y, (x + y) % p
    return np.stack([a, b])


def fibonacci_result(trace_length: int) -> int:
    return int(build_trace(trace_length)[1, -1])
