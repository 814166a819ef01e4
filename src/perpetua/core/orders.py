"""Orders: their kinds, flags and lifecycle.

Order types (dYdX v3 names where v3 has them):

- ``LIMIT``: rests at ``price`` unless IOC/FOK.
- ``MARKET``: IOC or FOK only; ``price`` is the worst acceptable price (v3 signs every order with one).
- ``STOP_LIMIT`` / ``STOP_MARKET``: wait until the trigger price source crosses ``trigger_price``
  against the trader (a buy stop at or above it, a sell stop at or below it), then act as LIMIT / MARKET.
- ``TAKE_PROFIT`` / ``TAKE_PROFIT_MARKET``: the mirror: a buy triggers at or below, a sell at or above.
- ``TRAILING_STOP``: a sell tracks the highest price seen since placement and triggers once the price
  falls ``trailing_ppm`` below it (a buy tracks the lowest and triggers ``trailing_ppm`` above it);
  then it acts as MARKET with ``price`` as its worst price.

Conditional orders trigger on the MARK price by default, or on the ORACLE price (``trigger_source``).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(IntEnum):
    """The sign a fill applies to the position: BUY = +1, SELL = -1."""

    BUY = 1
    SELL = -1


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP = "TRAILING_STOP"


CONDITIONAL_TYPES = frozenset(
    {
        OrderType.STOP_LIMIT,
        OrderType.STOP_MARKET,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TRAILING_STOP,
    }
)
MARKET_LIKE_TYPES = frozenset(
    {OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.TRAILING_STOP}
)


class TimeInForce(StrEnum):
    GTT = "GTT"
    """Good till time: rests until filled, canceled or ``expires_at_ns``."""
    IOC = "IOC"
    """Immediate or cancel: fills what it can now, the rest is canceled."""
    FOK = "FOK"
    """Fill or kill: fills completely now, or nothing happens."""


class TriggerSource(StrEnum):
    MARK = "MARK"
    ORACLE = "ORACLE"


class OrderStatus(StrEnum):
    UNTRIGGERED = "UNTRIGGERED"
    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELED = "CANCELED"


class Order:
    """A live order. Mutable on purpose (remaining size, status) and slotted: the book holds many."""

    __slots__ = (
        "account_id",
        "client_id",
        "created_ns",
        "expires_at_ns",
        "market_id",
        "order_id",
        "order_type",
        "post_only",
        "price",
        "reduce_only",
        "remaining",
        "side",
        "size",
        "status",
        "time_in_force",
        "trail_reference",
        "trailing_ppm",
        "trigger_price",
        "trigger_source",
    )

    def __init__(
        self,
        order_id: int,
        account_id: int,
        market_id: str,
        side: int,
        order_type: OrderType,
        time_in_force: TimeInForce,
        price: int,
        size: int,
        client_id: str,
        created_ns: int,
        expires_at_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        trigger_price: int | None = None,
        trigger_source: TriggerSource = TriggerSource.MARK,
        trailing_ppm: int | None = None,
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.market_id = market_id
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price = price
        self.size = size
        self.remaining = size
        self.client_id = client_id
        self.created_ns = created_ns
        self.expires_at_ns = expires_at_ns
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.trigger_price = trigger_price
        self.trigger_source = trigger_source
        self.trailing_ppm = trailing_ppm
        self.trail_reference: int | None = None
        self.status = OrderStatus.OPEN

    @property
    def filled(self) -> int:
        return self.size - self.remaining

    def __repr__(self) -> str:
        return (
            f"Order(id={self.order_id}, acct={self.account_id}, {self.market_id}, "
            f"{'BUY' if self.side > 0 else 'SELL'} {self.order_type.value} {self.time_in_force.value}, "
            f"price={self.price}, size={self.size}, remaining={self.remaining}, {self.status.value})"
        )

    def state_tuple(self) -> tuple[object, ...]:
        """Every field that defines this order, in a fixed order (for the state hash)."""
        return (
            self.order_id, self.account_id, self.market_id, self.side, self.order_type.value,
            self.time_in_force.value, self.price, self.size, self.remaining, self.client_id,
            self.created_ns, self.expires_at_ns, self.post_only, self.reduce_only, self.trigger_price,
            self.trigger_source.value, self.trailing_ppm, self.trail_reference, self.status.value,
        )
