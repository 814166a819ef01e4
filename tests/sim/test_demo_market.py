"""The live demo market: real candles through the real sequencer, deterministic, invariants intact."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from perpetua.core.commands import Command, OraclePricesTick, SetOraclePrice
from perpetua.core.events import CollateralDeposited, Event, OraclePriceUpdated, OrderFilled
from perpetua.core.markets import Market, load_config
from perpetua.core.sequencer import Sequencer
from perpetua.sim.candles import load_candles
from perpetua.sim.demo_market import DEMO_ACCOUNT, DemoMarket, DemoSettings

CONFIG = load_config()
CANDLES = load_candles(CONFIG.markets["BTC-USD"])


def test_shipped_candles_are_the_january_2022_crash_window() -> None:
    assert len(CANDLES) == 4 * 24 * 60
    first = CANDLES[0]
    assert (first.open, first.high, first.low, first.close) == (40_689_000_000, 40_754_000_000, 40_663_000_000, 40_683_000_000)
    assert min(c.low for c in CANDLES) < 33_500_000_000 < 39_000_000_000 < max(c.high for c in CANDLES)


def test_demo_market_trades_and_keeps_every_invariant() -> None:
    demo = DemoMarket(CONFIG, CANDLES[:40], DemoSettings(seed=3))
    assert demo.sequencer is not None
    state = demo.sequencer.state
    fills = 0
    deposits = None
    for n, (candle, events) in enumerate(demo.run()):
        state.check()
        fills += sum(isinstance(e, OrderFilled) for e in events)
        if n == 0:  # the genesis: every participant and the demo account funded once
            deposits = state.total_collateral()
            assert DEMO_ACCOUNT in state.accounts
        else:
            assert not any(isinstance(e, CollateralDeposited) for e in events)
        assert state.total_collateral() == deposits
        # the oracle follows the candle by signed ticks from the development signers (all five)
        moved = [e for e in events if isinstance(e, OraclePriceUpdated)]
        assert moved and all(e.signatures == 5 for e in moved)
        assert state.oracle_prices["BTC-USD"] == candle.close
    assert fills > 100
    assert state.open_interest("BTC-USD") > 0
    assert demo.stats.rejected < demo.stats.fills


def test_demo_market_is_deterministic() -> None:
    hashes = set()
    for _ in range(2):
        demo = DemoMarket(CONFIG, CANDLES[:15], DemoSettings(seed=9))
        for _ in demo.run():
            pass
        assert demo.sequencer is not None
        hashes.add(demo.sequencer.state_hash())
    assert len(hashes) == 1
    other = DemoMarket(CONFIG, CANDLES[:15], DemoSettings(seed=10))
    for _ in other.run():
        pass
    assert other.sequencer is not None
    assert other.sequencer.state_hash() not in hashes


def test_participants_submit_through_the_callable_given() -> None:
    """An outside exchange (here a sequencer behind an async submit, as the main job's API exchange)
    receives every command, in batches, and the market reads that exchange's state; an oracle feed
    given by the caller replaces the signed default."""
    seq = Sequencer(CONFIG)
    batches: list[list[Command]] = []

    async def submit(cmds: Sequence[Command]) -> list[list[Event]]:
        batches.append(list(cmds))
        return [seq.apply(c) for c in cmds]

    def unsigned(market: Market, price: int, t_ns: int) -> Command:
        return SetOraclePrice(t_ns, market.market_id, price)

    demo = DemoMarket(CONFIG, CANDLES[:5], DemoSettings(seed=3), submit=lambda c: [], state=seq.state, oracle=unsigned)

    async def drive() -> int:
        fills = 0
        for _ in range(5):
            _, events = await demo.step_async(submit)
            fills += sum(isinstance(e, OrderFilled) for e in events)
        return fills

    assert asyncio.run(drive()) > 10
    flat = [c for b in batches for c in b]
    assert any(isinstance(c, SetOraclePrice) for c in flat) and not any(isinstance(c, OraclePricesTick) for c in flat)
    assert seq.state.oracle_prices["BTC-USD"] == CANDLES[4].close
    assert len(batches) < len(flat)  # makers requote in one batch (cancel all + ladder)
    seq.state.check()
