"""Candles for the live demo: a minute-candle file read through ``marketdata`` and snapped to a
market's tick."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from perpetua.core.markets import Market
from perpetua.sim.marketdata import Bar, Scale, load

DEMO_CANDLES = "btc-perp-2022-01-21-to-24-1m.csv"
"""Shipped with the package (perpetua/data/): the January 2022 crash, one-minute BTC candles."""


@dataclass(frozen=True, slots=True)
class Candle:
    """One candle; prices in collateral quantums per unit, snapped to the market's tick."""

    timestamp_ns: int
    open: int
    high: int
    low: int
    close: int

    def path(self) -> tuple[int, int, int, int]:
        """The four prices in the order they most plausibly happened: open, the extreme nearer the
        open, the other extreme, close."""
        if abs(self.high - self.open) <= abs(self.open - self.low):
            return (self.open, self.high, self.low, self.close)
        return (self.open, self.low, self.high, self.close)


def load_candles(market: Market, path: str | Path | None = None) -> list[Candle]:
    """Candles of ``path`` (any candle format ``marketdata`` reads), or of the shipped demo file."""
    tick = market.tick_size

    def snap(price: int) -> int:
        return max(tick, (price + tick // 2) // tick * tick)

    def read(p: Path) -> list[Candle]:
        return [
            Candle(e.timestamp_ns, snap(e.open), snap(e.high), snap(e.low), snap(e.close))
            for e in load(p, Scale(size=market.resolution))
            if isinstance(e, Bar)
        ]

    if path is not None:
        return read(Path(path))
    with resources.as_file(resources.files("perpetua.data").joinpath(DEMO_CANDLES)) as shipped:
        return read(shipped)
