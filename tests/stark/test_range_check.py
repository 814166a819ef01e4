"""LogUp range check (auxiliary randomised column): completeness and soundness."""

from __future__ import annotations

import random

import pytest

from perpetua.stark.errors import ProverError
from perpetua.stark.examples.range_check import RangeCheckAir, build_trace
from perpetua.stark.prover import prove
from perpetua.stark.verifier import is_valid, verify


def test_values_in_range_prove() -> None:
    rng = random.Random(4)
    values = [rng.randrange(256) for _ in range(400)]
    air = RangeCheckAir(512, 8)
    verify(air, prove(air, build_trace(values, 8, 512)))


@pytest.mark.parametrize("bad", [256, 1000, 2013265920])
def test_value_out_of_range_is_rejected(bad: int) -> None:
    values = [3, 7, bad, 255, 0]
    air = RangeCheckAir(512, 8)
    trace = build_trace(values, 8, 512)
    with pytest.raises(ProverError):
        prove(air, trace)
    assert not is_valid(air, prove(air, trace, check_trace=False))


def test_forged_multiplicity_is_rejected() -> None:
    air = RangeCheckAir(512, 8)
    trace = build_trace([1, 2, 3], 8, 512)
    trace[2, 1] += 1  # claim value 1 occurs twice
    assert not is_valid(air, prove(air, trace, check_trace=False))
