"""The example strategies run unchanged through playback on recorded candles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from perpetua.core.markets import load_config
from perpetua.sim.candles import DEMO_CANDLES
from perpetua.sim.marketdata import Scale, load
from perpetua.sim.playback import Playback

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()


def example(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "cls"), [("trend_follower", "TrendFollower"), ("leveraged_grid", "LeveragedGrid"),
                                          ("funding_carry", "FundingCarry")])
def test_example_strategy_trades_through_the_core(name: str, cls: str) -> None:
    bars = list(load(ROOT / "src/perpetua/data" / DEMO_CANDLES, Scale(size=10**10), volume_in_quote=True))[:400]
    result = Playback(CONFIG, getattr(example(name), cls)()).run(bars)
    assert result.events == 400
    assert result.fills or name == "funding_carry"  # carry waits for a clear funding rate
    assert result.samples[-1]["equity"] is not None
