"""Recorded candles: loading a minute-candle CSV into integer prices of a market."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

from perpetua.core.markets import Market
from perpetua.core.quantities import COLLATERAL_RESOLUTION

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
    volume_usd: Decimal

    def path(self) -> tuple[int, int, int, int]:
        """The four prices in the order they most plausibly happened: open, the extreme nearer the
        open, the other extreme, close."""
        if abs(self.high - self.open) <= abs(self.open - self.low):
            return (self.open, self.high, self.low, self.close)
        return (self.open, self.low, self.high, self.close)


def _snap(text: str, tick: int) -> int:
    value = Decimal(text) * COLLATERAL_RESOLUTION
    return max(tick, int(value / tick + Decimal("0.5")) * tick)


def load_candles(market: Market, path: str | Path | None = None) -> list[Candle]:
    """Read ``timestamp,open,high,low,close,volume`` rows (timestamps in UTC, ``YYYY-MM-DD HH:MM:SS``
    with optional fraction, or ISO 8601). Without ``path``, the shipped demo candles."""
    if path is None:
        text = resources.files("perpetua.data").joinpath(DEMO_CANDLES).read_text()
    else:
        text = Path(path).read_text()
    rows = csv.DictReader(text.splitlines())
    out: list[Candle] = []
    tick = market.tick_size
    for row in rows:
        stamp = row.get("timestamp") or row["time"]
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        ns = int(when.timestamp()) * 10**9 + when.microsecond * 1000
        out.append(
            Candle(
                ns,
                _snap(row["open"], tick),
                _snap(row["high"], tick),
                _snap(row["low"], tick),
                _snap(row["close"], tick),
                Decimal(row["volume"]),
            )
        )
    return out
