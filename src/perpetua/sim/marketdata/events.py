"""Market-data events, in integers. Timestamps are nanoseconds since the Unix epoch (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from perpetua.core.quantities import COLLATERAL_RESOLUTION


@dataclass(frozen=True, slots=True)
class Scale:
    """How decimal prices and sizes become integers: collateral quantums per unit of price and
    synthetic quantums per unit of size (a market's resolution). Values finer than a quantum round to
    the nearest (half to even); recorded data rarely carries more than 8 decimals."""

    price: int = COLLATERAL_RESOLUTION
    size: int = 10**10

    def to_price(self, text: str | float | Decimal) -> int:
        return int((Decimal(str(text)) * self.price).to_integral_value(ROUND_HALF_EVEN))

    def to_size(self, text: str | float | Decimal) -> int:
        return int((Decimal(str(text)) * self.size).to_integral_value(ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Bar:
    """A candle. ``volume`` in synthetic quantums, or None when the source gives only quote volume."""

    timestamp_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int | None = None
    quote_volume: int | None = None
    """Quote (collateral) volume in collateral quantums, when the source has it."""
    is_mark: bool = False
    """A mark-price candle rather than a trade candle."""


@dataclass(frozen=True, slots=True)
class Trade:
    timestamp_ns: int
    price: int
    size: int
    aggressor: int
    """+1 when the buyer took liquidity, -1 when the seller did, 0 when unknown."""
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The whole visible book: levels best first, (price, size)."""

    timestamp_ns: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """One level changed: ``size`` 0 removes it. ``side`` +1 bid, -1 ask."""

    timestamp_ns: int
    side: int
    price: int
    size: int


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A funding rate paid at ``timestamp_ns``, in parts per billion of notional per interval (0.0001 =
    100,000 ppb), with the mark price when the source gives it."""

    timestamp_ns: int
    rate_ppb: int
    mark_price: int | None = None
    interval_s: int | None = None


MarketEvent = Bar | Trade | BookSnapshot | BookDelta | FundingRate
