"""Security estimates: the formula's terms and the default parameters' level."""

from __future__ import annotations

import math

import pytest

from perpetua.stark.params import LOG2_FIELD_EXT, ProofOptions, security_bits


@pytest.mark.parametrize("log_t", [10, 16, 20, 23])
def test_defaults_reach_100_conjectured_bits(log_t: int) -> None:
    level = security_bits(ProofOptions(), 1 << log_t)
    assert level.conjectured_bits >= 100
    assert 0 < level.proven_bits < level.conjectured_bits


def test_conjectured_formula_terms() -> None:
    # query term: 30 * log2(8) + 16 = 106 (below the field term at 2^10)
    assert security_bits(ProofOptions(), 1 << 10).conjectured_bits == 106
    # field term caps large traces: log2 |F_ext| - log2 T
    assert security_bits(ProofOptions(), 1 << 20).conjectured_bits == round(LOG2_FIELD_EXT - 20, 2)
    assert math.isclose(LOG2_FIELD_EXT, 4 * math.log2(2013265921))
    # with many queries the field term binds (the 128-bit hash term never does for F_p^4)
    assert security_bits(ProofOptions(blowup=64, num_queries=200), 16).conjectured_bits == 119.63


def test_more_queries_never_hurt() -> None:
    a = security_bits(ProofOptions(num_queries=20), 1 << 16)
    b = security_bits(ProofOptions(num_queries=40), 1 << 16)
    assert b.conjectured_bits >= a.conjectured_bits and b.proven_bits > a.proven_bits


def test_options_are_validated() -> None:
    for bad in (dict(blowup=3), dict(num_queries=0), dict(folding_factor=3), dict(grinding_bits=40),
                dict(max_remainder_degree=3)):
        with pytest.raises(ValueError):
            ProofOptions(**bad)  # type: ignore[arg-type]
