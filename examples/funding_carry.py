"""Funding-rate carry: hold the side that receives funding, sized small, switching when the sign flips.

The exchange's own funding (premium samples against the index, hourly ticks) pays the strategy; this
example reads the last interval's funding rate from the core's price status before each decision, and
reports the funding it received against the fees it paid.
Run: python examples/funding_carry.py [candles.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

from perpetua.core.events import FundingPaid
from perpetua.core.markets import load_config
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import PPM
from perpetua.sim.marketdata import Bar, Scale, load
from perpetua.sim.playback import Playback, Strategy, StrategyContext

LEVERAGE_PPM = PPM  # 1x: carry, not a directional bet
THRESHOLD_PPB = 5_000  # act only on a clear hourly rate, so noise does not churn fees


class FundingCarry(Strategy):
    def __init__(self) -> None:
        self.received = 0

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        rate = ctx.price_status().funding_rate_ppb  # the last interval's rate: it changes hourly
        if abs(rate) < THRESHOLD_PPB:
            return
        want = -1 if rate > 0 else 1  # a positive rate means longs pay: be short
        pos = ctx.position()
        if pos * want > 0:
            return
        m = ctx.market
        price = ctx.oracle_price()
        size = ctx.account().equity * LEVERAGE_PPM // PPM * m.resolution // price // m.step_size * m.step_size
        worst = price * (PPM + want * 10_000) // PPM // m.tick_size * m.tick_size
        ctx.place(want, size + abs(pos), worst, OrderType.MARKET, TimeInForce.IOC)

    def on_funding(self, ctx: StrategyContext, payment: FundingPaid) -> None:
        self.received += payment.amount


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src/perpetua/data/btc-perp-2022-01-21-to-24-1m.csv"
    config = load_config()
    strategy = FundingCarry()
    result = Playback(config, strategy).run(load(path, Scale(size=config.markets["BTC-USD"].resolution), volume_in_quote=True))
    for key, value in result.summary().items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
