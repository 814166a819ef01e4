"""Seeded long random flows through the sequencer, every invariant checked after every command
(the same checks as tests/property/test_core_flows.py, on longer runs)."""

from __future__ import annotations

import random

import pytest

from tests.property import test_core_flows as flows

run_flow = flows.test_random_flows_keep_every_invariant.hypothesis.inner_test  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(24))
def test_long_seeded_flows(seed: int) -> None:
    run_flow(random.Random(seed), 3000)
