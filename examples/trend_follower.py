"""A trend follower with stops, backtested on the January 2022 BTC crash through the real exchange core.

Rule: a fast and a slow moving average of minute closes; long when fast > slow, short when below;
each entry is an IOC market order sized to `LEVERAGE` x equity, protected by a reduce-only stop-market
order `STOP_PPM` away. Run: python examples/trend_follower.py [candles.csv]
"""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

from perpetua.core.markets import load_config
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import PPM
from perpetua.sim.marketdata import Bar, Scale, load
from perpetua.sim.playback import Playback, Strategy, StrategyContext

FAST, SLOW = 20, 120
LEVERAGE_PPM = 3 * PPM
STOP_PPM = 20_000  # 2%


class TrendFollower(Strategy):
    def __init__(self) -> None:
        self.closes: deque[int] = deque(maxlen=SLOW)
        self.stop: str | None = None

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self.closes.append(bar.close)
        if len(self.closes) < SLOW:
            return
        fast = sum(list(self.closes)[-FAST:]) // FAST
        slow = sum(self.closes) // SLOW
        want = 1 if fast > slow else -1
        pos = ctx.position()
        if pos * want > 0:
            return
        market = ctx.market
        price = ctx.oracle_price()
        if self.stop is not None:
            ctx.cancel(self.stop)
        equity = ctx.account().equity
        size = equity * LEVERAGE_PPM // PPM * market.resolution // price // market.step_size * market.step_size
        size += abs(pos)  # flip: close the old position as well
        worst = price * (PPM + want * 10_000) // PPM // market.tick_size * market.tick_size
        ctx.place(want, size, worst, OrderType.MARKET, TimeInForce.IOC)
        stop_px = price * (PPM - want * STOP_PPM) // PPM // market.tick_size * market.tick_size
        worst_stop = stop_px * (PPM - want * 20_000) // PPM // market.tick_size * market.tick_size
        self.stop = ctx.place(-want, size - abs(pos), worst_stop, OrderType.STOP_MARKET, TimeInForce.IOC,
                              reduce_only=True, trigger_price=stop_px)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src/perpetua/data/btc-perp-2022-01-21-to-24-1m.csv"
    config = load_config()
    result = Playback(config, TrendFollower()).run(load(path, Scale(size=config.markets["BTC-USD"].resolution), volume_in_quote=True))
    for key, value in result.summary().items():
        print(f"{key:>16}: {value}")
    if len(sys.argv) > 2:
        print("report:", result.write_report(sys.argv[2], "Trend follower with stops, BTC-USD, January 2022"))


if __name__ == "__main__":
    main()
