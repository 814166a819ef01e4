"""Fibonacci AIR: completeness across parameter choices, and rejection of false statements."""

from __future__ import annotations

import pytest

from perpetua.stark.errors import ProverError, VerificationError
from perpetua.stark.examples.fibonacci import FibonacciAir, build_trace
from perpetua.stark.params import ProofOptions
from perpetua.stark.prover import prove
from perpetua.stark.verifier import is_valid, verify


@pytest.mark.parametrize(
    ("trace_length", "options"),
    [
        (8, ProofOptions()),
        (64, ProofOptions(folding_factor=2, max_remainder_degree=1)),
        (256, ProofOptions(folding_factor=4, blowup=4, num_queries=42)),
        (1024, ProofOptions(folding_factor=16, blowup=16, num_queries=22)),
        (2048, ProofOptions()),
    ],
)
def test_fibonacci_proof_verifies(trace_length: int, options: ProofOptions) -> None:
    trace = build_trace(trace_length)
    air = FibonacciAir(trace_length, int(trace[1, -1]))
    verify(air, prove(air, trace, options))


def test_wrong_result_is_rejected() -> None:
    trace = build_trace(128)
    proof = prove(FibonacciAir(128, int(trace[1, -1])), trace)
    with pytest.raises(VerificationError):
        verify(FibonacciAir(128, int(trace[1, -1]) + 1), proof)


def test_honest_prover_refuses_broken_trace() -> None:
    trace = build_trace(128)
    air = FibonacciAir(128, int(trace[1, -1]))
    trace[0, 50] += 1
    with pytest.raises(ProverError, match="row 49"):
        prove(air, trace)


@pytest.mark.parametrize("row", [0, 1, 63, 126, 127])
def test_trace_breaking_one_constraint_at_one_row_is_rejected(row: int) -> None:
    trace = build_trace(128)
    air = FibonacciAir(128, int(trace[1, -1]))
    trace[1, row] = (int(trace[1, row]) + 1) % 2013265921
    proof = prove(air, trace, check_trace=False)
    assert not is_valid(air, proof)


def test_proofs_are_deterministic() -> None:
    trace = build_trace(64)
    air = FibonacciAir(64, int(trace[1, -1]))
    assert prove(air, trace) == prove(air, trace)
