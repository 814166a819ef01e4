"""A leveraged grid: resting buys below and sells above the price, re-armed as they fill.

Every `STEP_BPS` around the first close, `LEVELS` post-only limits per side of `LOT` each; when a
level fills, the opposite order is placed one step away (buy filled -> sell one step up). Shows
queue-aware limit fills and margin use through the real core.
Run: python examples/leveraged_grid.py [candles.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

from perpetua.core.events import OrderFilled
from perpetua.core.markets import load_config
from perpetua.sim.marketdata import Bar, Scale, load
from perpetua.sim.playback import Playback, Strategy, StrategyContext

LEVELS, STEP_BPS = 6, 30
LOT = 5 * 10**8  # 0.05 BTC


class LeveragedGrid(Strategy):
    def __init__(self) -> None:
        self.armed = False

    def _snap(self, ctx: StrategyContext, price: int) -> int:
        tick = ctx.market.tick_size
        return price // tick * tick

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if self.armed:
            return
        self.armed = True
        for k in range(1, LEVELS + 1):
            step = bar.close * STEP_BPS * k // 10_000
            ctx.place(1, LOT, self._snap(ctx, bar.close - step), post_only=True)
            ctx.place(-1, LOT, self._snap(ctx, bar.close + step), post_only=True)

    def on_fill(self, ctx: StrategyContext, fill: OrderFilled) -> None:
        mine_buy = (fill.taker_position_id == 1000 and fill.taker_side > 0) or (
            fill.maker_position_id == 1000 and fill.taker_side < 0)
        step = fill.price * STEP_BPS // 10_000
        side = -1 if mine_buy else 1
        ctx.place(side, fill.size, self._snap(ctx, fill.price - side * step), post_only=True)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src/perpetua/data/btc-perp-2022-01-21-to-24-1m.csv"
    config = load_config()
    result = Playback(config, LeveragedGrid()).run(load(path, Scale(size=config.markets["BTC-USD"].resolution), volume_in_quote=True))
    for key, value in result.summary().items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
