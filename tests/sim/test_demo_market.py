"""The live demo market: real candles through the real sequencer, deterministic, invariants intact."""

from __future__ import annotations

import pytest

from perpetua.cli import main
from perpetua.core.events import CollateralDeposited, OrderFilled
from perpetua.core.markets import load_config
from perpetua.sim.candles import load_candles
from perpetua.sim.demo_market import DemoMarket, DemoSettings

CONFIG = load_config()
CANDLES = load_candles(CONFIG.markets["BTC-USD"])


def test_shipped_candles_are_the_january_2022_crash_window() -> None:
    assert len(CANDLES) == 4 * 24 * 60
    first = CANDLES[0]
    assert (first.open, first.high, first.low, first.close) == (40_689_000_000, 40_754_000_000, 40_663_000_000, 40_683_000_000)
    assert min(c.low for c in CANDLES) < 33_500_000_000 < 39_000_000_000 < max(c.high for c in CANDLES)


def test_demo_market_trades_and_keeps_every_invariant() -> None:
    demo = DemoMarket(CONFIG, CANDLES[:40], DemoSettings(seed=3))
    deposits = demo.sequencer.state.total_collateral()
    fills = 0
    for _, events in demo.run():
        demo.sequencer.state.check()
        fills += sum(isinstance(e, OrderFilled) for e in events)
        assert not any(isinstance(e, CollateralDeposited) for e in events)
        assert demo.sequencer.state.total_collateral() == deposits
    assert fills > 100
    assert demo.sequencer.state.open_interest("BTC-USD") > 0


def test_demo_market_is_deterministic() -> None:
    hashes = set()
    for _ in range(2):
        demo = DemoMarket(CONFIG, CANDLES[:15], DemoSettings(seed=9))
        for _ in demo.run():
            pass
        hashes.add(demo.sequencer.state_hash())
    assert len(hashes) == 1
    other = DemoMarket(CONFIG, CANDLES[:15], DemoSettings(seed=10))
    for _ in other.run():
        pass
    assert other.sequencer.state_hash() not in hashes


def test_perpetua_up_runs_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--speed", "0", "--candles-limit", "12", "--every", "6"]) == 0
    out = capsys.readouterr().out
    assert "Demo account: position id 1000" in out
    assert out.count("oracle ") == 2
    assert "State hash" in out
