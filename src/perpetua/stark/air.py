"""Algebraic intermediate representation (AIR): what a STARK proves.

How to write an AIR (see ``examples/fibonacci.py`` for one that fits on a screen):

1. Subclass ``Air``; set ``name`` and, in ``__init__``, ``trace_width``, ``trace_length`` (a power
   of two >= 8) and ``max_constraint_degree`` (count each trace cell and each periodic column as
   degree 1; the prover splits the quotient into ``max_constraint_degree - 1`` chunks).
2. ``public_inputs()``: every public value as field elements; all of them enter the transcript.
3. ``evaluate_transition(frame)``: one ``FieldVec`` per transition constraint, zero when the
   rows ``frame.cur`` -> ``frame.nxt`` are valid; enforced on every row but the last.
   ``num_transition_constraints`` must equal the length of that list.
4. ``assertions()``: boundary constraints ``Assertion(column, row, value)``.
5. Optional: ``periodic_columns()`` (each a power-of-two list of values repeated down the
   trace) and randomised auxiliary columns: ``num_aux_columns`` extension columns built by
   ``build_aux_trace`` after the main trace is committed, from ``num_aux_random`` challenges
   (for LogUp / permutation arguments), with ``aux_assertions``.

Constraint code uses only +, -, * and ``**`` on ``FieldVec`` values and ints, so it runs both
over the whole LDE domain (prover) and at one out-of-domain point (verifier).
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from perpetua.stark import field as fld
from perpetua.stark.algebra import FieldVec
from perpetua.stark.field import Arr


@dataclass(frozen=True, slots=True)
class Assertion:
    """Main-trace column ``column`` equals ``value`` at row ``row``."""

    column: int
    row: int
    value: int


@dataclass(frozen=True, slots=True)
class AuxAssertion:
    """Auxiliary column ``column`` equals the extension element ``value`` at row ``row``."""

    column: int
    row: int
    value: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Frame:
    """Two consecutive rows and the values that constraints may read.

    ``cur``/``nxt``: main columns; ``aux_cur``/``aux_nxt``: auxiliary (extension) columns;
    ``periodic``: periodic column values; ``rand``: the auxiliary-trace challenges.
    """

    cur: list[FieldVec]
    nxt: list[FieldVec]
    periodic: list[FieldVec]
    aux_cur: list[FieldVec]
    aux_nxt: list[FieldVec]
    rand: list[FieldVec]


class Air(ABC):
    """A statement: a trace of ``trace_length`` x ``trace_width`` satisfying the constraints."""

    name: str = "air"
    trace_width: int
    trace_length: int
    max_constraint_degree: int
    num_transition_constraints: int
    num_aux_columns: int = 0
    num_aux_random: int = 0

    @abstractmethod
    def public_inputs(self) -> list[int]:
        """All public inputs as field elements."""

    @abstractmethod
    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        """Transition constraint values (zero on valid consecutive rows)."""

    @abstractmethod
    def assertions(self) -> list[Assertion]:
        """Boundary constraints on the main trace."""

    def periodic_columns(self) -> list[list[int]]:
        return []

    def build_aux_trace(self, main: Arr, rand: list[Arr]) -> Arr:
        """Auxiliary columns, shape (num_aux_columns, 4, trace_length)."""
        raise NotImplementedError(f"{self.name} has no auxiliary columns")

    def aux_assertions(self, rand: list[Arr]) -> list[AuxAssertion]:
        return []

    def parameters(self) -> bytes:
        """AIR shape bound into the transcript (subclasses may append more)."""
        return struct.pack("<7I", self.trace_width, self.trace_length, self.max_constraint_degree,
                           self.num_transition_constraints, self.num_aux_columns,
                           self.num_aux_random, len(self.periodic_columns()))

    def check_shape(self) -> None:
        """Raise ValueError if the declared shape cannot be proven."""
        n = self.trace_length
        if n < 8 or n & (n - 1):
            raise ValueError("trace length must be a power of two >= 8")
        if n.bit_length() - 1 > fld.TWO_ADICITY - 4:
            raise ValueError("trace too long for BabyBear NTT domains")
        for col in self.periodic_columns():
            m = len(col)
            if m < 1 or m & (m - 1) or m > n:
                raise ValueError("periodic column length must be a power of two <= trace length")

    def check_trace(self, trace: Arr) -> list[str]:
        """Evaluate all constraints on the trace itself; return a description of each failure."""
        from perpetua.stark.algebra import BaseVec, ExtVec

        errors: list[str] = []
        w, n = trace.shape
        if (w, n) != (self.trace_width, self.trace_length):
            return [f"trace shape {(w, n)} != {(self.trace_width, self.trace_length)}"]
        for a in self.assertions():
            if int(trace[a.column, a.row]) != a.value % fld.P:
                errors.append(f"assertion column {a.column} row {a.row}")
        periodic: list[FieldVec] = [BaseVec(np.tile(fld.array(c), n // len(c))) for c in self.periodic_columns()]
        nxt = np.roll(trace, -1, axis=1)
        frame = Frame([BaseVec(c) for c in trace], [BaseVec(c) for c in nxt], periodic, [], [],
                      [ExtVec(np.zeros(4, dtype=np.uint64)) for _ in range(self.num_aux_random)])
        if self.num_aux_columns == 0:
            for i, value in enumerate(self.evaluate_transition(frame)):
                v = value.v if isinstance(value, BaseVec) else np.zeros(n, dtype=np.uint64)
                bad = np.nonzero(v[: n - 1])[0]
                if bad.size:
                    errors.append(f"transition {i} fails at row {int(bad[0])}")
        return errors
