"""Playback through the real sequencer: hand-checked fills, queue position, determinism, results."""

from __future__ import annotations

from pathlib import Path

import pytest

from perpetua.core.events import OrderFilled
from perpetua.core.markets import load_config
from perpetua.core.orders import TimeInForce
from perpetua.sim.marketdata import Bar, BookDelta, BookSnapshot, Scale, Trade, load
from perpetua.sim.playback import CandleMakers, Playback, PlaybackSettings, Strategy, StrategyContext

CONFIG = load_config()
FINE = load_config(Path(__file__).resolve().parents[2] / "src/perpetua/config/playback-markets.toml")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
M = 60 * 10**9
BTC = CONFIG.markets["BTC-USD"]


def usd(x: int) -> int:
    return x * 10**6


class BuyOnceAndHold(Strategy):
    """Buys 1 BTC with an IOC at the first bar's close + 1%, then holds."""

    def __init__(self) -> None:
        self.fills: list[OrderFilled] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if ctx.position() == 0 and not self.fills:
            ctx.place(1, 10**10, ctx.oracle_price() * 101 // 100 // BTC.tick_size * BTC.tick_size,
                      time_in_force=TimeInForce.IOC)

    def on_fill(self, ctx: StrategyContext, fill: OrderFilled) -> None:
        self.fills.append(fill)


def bars(*closes: int, volume_usd: int = 50_000_000) -> list[Bar]:
    out, prev = [], closes[0]
    for i, c in enumerate(closes):
        out.append(Bar(i * M, usd(prev), usd(max(prev, c)), usd(min(prev, c)), usd(c),
                       quote_volume=usd(volume_usd)))
        prev = c
    return out


def test_a_held_long_earns_the_price_move_less_fees_exactly() -> None:
    strategy = BuyOnceAndHold()
    settings = PlaybackSettings(makers=CandleMakers(levels=2, spread_bps=2, volume_fraction_ppm=100_000))
    result = Playback(CONFIG, strategy, settings).run(bars(40000, 40000, 41000, 40500))
    # The makers quote 2 bps (8 USD) and 4 bps (16 USD) around 40,000; each level holds 10% of
    # 50,000,000 USD / 40,000 = 125 BTC. The 1 BTC IOC buy fills at the first ask, 40,008.
    assert [(f.price, f.size) for f in strategy.fills] == [(usd(40008), 10**10)]
    fee = 40008 * 500  # 0.05% taker fee on 40,008 USD = 20.004 USD, in quantums
    assert result.fees_paid == fee
    # Marked at the last close 40,500: PnL = (40,500 - 40,008) - 20.004 = 471.996 USD.
    assert result.samples[-1]["equity"] == usd(100_000) + usd(40500 - 40008) - fee
    assert result.summary()["pnl"] == result.samples[-1]["equity"] - result.samples[0]["equity"]  # type: ignore[operator]


def test_the_bar_sweep_fills_resting_strategy_orders_the_price_passes() -> None:
    class BidBelow(Strategy):
        def on_start(self, ctx: StrategyContext) -> None:
            self.placed = False

        def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
            if not self.placed:
                ctx.place(1, 10**9, usd(39900))
                self.placed = True

    s = BidBelow()
    result = Playback(CONFIG, s).run(bars(40000, 40000, 39800, 39950))
    assert [(f.price, f.size, f.maker_position_id) for f in result.fills] == [(usd(39900), 10**9, 1000)]


def test_l2_replica_puts_strategy_orders_behind_recorded_size() -> None:
    class JoinBestBid(Strategy):
        def on_book(self, ctx: StrategyContext, event: BookSnapshot | BookDelta) -> None:
            if isinstance(event, BookSnapshot):
                ctx.place(1, 2 * 10**6, event.bids[0][0])

    xrp = 10**6
    events = [
        BookSnapshot(0, ((usd(2), 100 * xrp), (19_999 * 100, 50 * xrp)), ((20_001 * 100, 80 * xrp),)),
        Trade(1_000, usd(2), 60 * xrp, -1),  # sellers take 60 of the 100 ahead of us
        Trade(2_000, usd(2), 41 * xrp, -1),  # 40 left ahead of us, then 1 of ours
    ]
    settings = PlaybackSettings(market_id="XRP-USD")
    result = Playback(FINE, JoinBestBid(), settings).run(events)
    assert [(f.price, f.size) for f in result.fills] == [(usd(2), 1 * xrp)]


def test_playback_is_deterministic_and_writes_results(tmp_path: Path) -> None:
    runs = [Playback(CONFIG, BuyOnceAndHold()).run(bars(40000, 40100, 39900, 40300, 40250)) for _ in range(2)]
    assert runs[0].summary() == runs[1].summary()
    assert runs[0].to_csv() == runs[1].to_csv()
    runs[0].write(tmp_path / "r.csv")
    runs[0].write(tmp_path / "r.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "r.parquet").to_pylist() == runs[0].samples
    assert (tmp_path / "r.csv").read_text().splitlines()[0].startswith("time_ns,oracle,position")


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data is beside the checkout in CI and dev")
def test_recorded_l2_stream_and_trade_tape_replay() -> None:
    l2 = Playback(FINE, Strategy(), PlaybackSettings(market_id="XRP-USD")).run(
        load(SHARED / "xrpusdt-perp-l2-2024-12-01.jsonl", Scale(size=10**6)))
    assert l2.events == 2967
    tape = Playback(FINE, Strategy()).run(load(SHARED / "btcusdt-trades-2021-01-08.csv", Scale(size=10**10)))
    assert tape.events == 2001


def test_a_long_held_across_three_funding_periods_returns_price_pnl_minus_funding_minus_fees() -> None:
    strategy = BuyOnceAndHold()
    settings = PlaybackSettings(makers=CandleMakers(levels=2, spread_bps=2, volume_fraction_ppm=100_000))
    # 200 flat minutes at 40,000 and a last close at 40,500. The book is symmetric around the index,
    # so the premium is 0 and each hourly rate is the interest alone: 0.01% per 8 h, pro rata. Ticks
    # come at the first price point at least an hour after the last (points are 15 s apart): every
    # 3,615 s, so rate = 100,000 ppb * 3,615 / 28,800 = 12,552 ppb (floored).
    # Index move = 12,552e-9 * 40,000e6 quantums / 1e10 per synthetic quantum * 2^32 = 215,641.7 -> 215,641;
    # the long 1 BTC (1e10) pays floor(-215,641 * 1e10 / 2^32) = floor(-502,078.33) = -502,079 a tick.
    result = Playback(CONFIG, strategy, settings).run(bars(*([40000] * 200 + [40500])))
    assert [(p.rate_ppb, p.amount) for p in result.funding] == [(12_552, -502_079)] * 3
    fee = 40008 * 500  # taker 0.05% of 40,008 USD at the first ask
    price_pnl = usd(40500 - 40008)
    summary = result.summary()
    assert summary["pnl"] == price_pnl - fee - 3 * 502_079
    assert (summary["funding_paid"], summary["funding_received"], summary["funding_net"]) == (3 * 502_079, 0, -3 * 502_079)
    # Average-entry books from the fills: nothing realised, the price move unrealised at 40,500.
    assert (summary["realised_pnl"], summary["unrealised_pnl"], summary["fees_paid"]) == (0, price_pnl, fee)
    assert result.samples[-1]["average_entry"] == usd(40008)
    assert [(t["side"], t["price"], t["kind"]) for t in result.trades] == [(1, usd(40008), "entry")]


def test_realised_and_unrealised_pnl_add_up_to_the_equity_change_exactly() -> None:
    class InAndOut(Strategy):
        """Buys 1 BTC, sells 1.5 (a flip to short 0.5), then buys 0.25 back, at market."""

        def on_start(self, ctx: StrategyContext) -> None:
            self.n = 0

        def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
            self.n += 1
            plan = {2: (1, 10**10), 5: (-1, 15 * 10**9), 8: (1, 25 * 10**8)}
            if self.n in plan:
                side, size = plan[self.n]
                worst = ctx.oracle_price() * (100 + side) // 100 // BTC.tick_size * BTC.tick_size
                ctx.place(side, size, worst, time_in_force=TimeInForce.IOC)

    settings = PlaybackSettings(makers=CandleMakers(levels=2, spread_bps=2, volume_fraction_ppm=10_000))
    result = Playback(CONFIG, InAndOut(), settings).run(bars(40000, 40300, 40700, 40100, 39800, 40050, 40600,
                                                             39900, 39500, 39700))
    assert [t["kind"] for t in result.trades] == ["entry", "flip", "exit"]
    first, last = result.samples[0], result.samples[-1]
    assert last["position"] == -25 * 10**8 and last["realised_pnl"] != 0
    assert last["equity"] - first["equity"] == (  # type: ignore[operator]
        last["realised_pnl"] + last["unrealised_pnl"] - last["fees"] + last["funding"]  # type: ignore[operator]
        - last["liquidation_penalties"])  # type: ignore[operator]


def test_a_liquidation_of_the_strategy_is_reported_row_by_row(tmp_path: Path) -> None:
    class AllIn(Strategy):
        """Goes long at close to the maximum leverage, then holds through a 15% fall."""

        def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
            if ctx.position() == 0 and not ctx.rejections and not hasattr(self, "done"):
                self.done = True
                price = ctx.oracle_price()
                size = ctx.account().equity * 12 * BTC.resolution // price // BTC.step_size * BTC.step_size
                ctx.place(1, size, price * 101 // 100 // BTC.tick_size * BTC.tick_size, time_in_force=TimeInForce.IOC)

    settings = PlaybackSettings(strategy_collateral=usd(10_000), makers=CandleMakers(levels=3, spread_bps=2, volume_fraction_ppm=50_000))
    result = Playback(CONFIG, AllIn(), settings).run(bars(40000, 40000, 39000, 38000, 36000, 34000, 34000))
    kinds = [r["kind"] for r in result.liquidations]
    # The fall to 38,000 puts the 12x long below maintenance: the liquidation engine sells its 3 BTC into
    # the background makers' bids (37,993) with the 1% penalty (1,139.79 USDC) to the insurance fund.
    assert kinds == ["liquidation_fill", "liquidated"]
    fill = result.liquidations[0]
    assert (fill["size"], fill["price"], fill["penalty"]) == (-3 * 10**10, usd(37993), 1_139_790_000)
    assert result.summary()["liquidations"] == kinds.count("liquidated") >= 1
    assert any(t["source"] != "order" or t["kind"] == "exit" for t in result.trades)
    last = result.samples[-1]
    assert last["equity"] - result.samples[0]["equity"] == (  # type: ignore[operator]
        last["realised_pnl"] + last["unrealised_pnl"] - last["fees"] + last["funding"]  # type: ignore[operator]
        - last["liquidation_penalties"])  # type: ignore[operator]
    page = result.write_report(tmp_path / "r.html", "liquidated").read_text()
    assert "Liquidations and deleverages (2)" in page and all(f"<td>{k}</td>" in page for k in kinds)
    assert len(result.write(tmp_path / "r.csv")) == 3
