"""Untriggered conditional orders of one market, indexed so a price change costs O(1) when nothing fires.

Each order waits for its trigger source (mark or oracle price) to reach a threshold from below
("rises to") or from above ("falls to"):

- a stop buy and a take-profit sell fire when the price rises to the trigger price;
- a stop sell and a take-profit buy fire when the price falls to it;
- a trailing sell tracks the highest price seen and fires when the price falls ``trailing_ppm`` below it;
  a trailing buy tracks the lowest and fires when the price rises ``trailing_ppm`` above it.

Thresholds sit in heaps (lazy deletion: a canceled order is skipped when it surfaces). Fired orders are
returned sorted by order id, so a cascade is processed in a deterministic order.
"""

from __future__ import annotations

import heapq

from perpetua.core.orders import Order, OrderStatus, OrderType, TriggerSource
from perpetua.core.quantities import PPM, ceil_div

_UNTRIGGERED = OrderStatus.UNTRIGGERED


def fires_when_rising(order_type: OrderType, side: int) -> bool:
    """True if such an order fires when the price rises to its threshold (stop buy, take-profit sell)."""
    is_stop = order_type in (OrderType.STOP_LIMIT, OrderType.STOP_MARKET, OrderType.TRAILING_STOP)
    return (side > 0) == is_stop


def trailing_threshold(order: Order) -> int:
    """The price at which a trailing stop fires, from its tracked reference price."""
    assert order.trail_reference is not None and order.trailing_ppm is not None
    if order.side < 0:
        return order.trail_reference * (PPM - order.trailing_ppm) // PPM
    return ceil_div(order.trail_reference * (PPM + order.trailing_ppm), PPM)


def has_fired(order: Order, price: int) -> bool:
    """Whether ``price`` fires ``order`` (trailing stops: against their current reference)."""
    threshold = trailing_threshold(order) if order.order_type is OrderType.TRAILING_STOP else order.trigger_price
    assert threshold is not None
    return price >= threshold if fires_when_rising(order.order_type, order.side) else price <= threshold


class TriggerIndex:
    """Untriggered orders of one market."""

    __slots__ = ("_falling", "_rising", "_trailing", "count")

    def __init__(self) -> None:
        # Per trigger source: heap of (threshold, order id) for "rises to"; (-threshold, id) for "falls to".
        self._rising: dict[TriggerSource, list[tuple[int, int]]] = {s: [] for s in TriggerSource}
        self._falling: dict[TriggerSource, list[tuple[int, int]]] = {s: [] for s in TriggerSource}
        self._trailing: dict[int, Order] = {}
        self.count = 0
        """Number of untriggered orders (live ones only)."""

    def add(self, order: Order) -> None:
        self.count += 1
        if order.order_type is OrderType.TRAILING_STOP:
            self._trailing[order.order_id] = order
            return
        assert order.trigger_price is not None
        if fires_when_rising(order.order_type, order.side):
            heapq.heappush(self._rising[order.trigger_source], (order.trigger_price, order.order_id))
        else:
            heapq.heappush(self._falling[order.trigger_source], (-order.trigger_price, order.order_id))

    def discard(self, order: Order) -> None:
        """Forget a canceled order (heap entries are skipped lazily)."""
        self.count -= 1
        self._trailing.pop(order.order_id, None)

    def pop_fired(self, prices: dict[TriggerSource, int | None], orders: dict[int, Order]) -> list[Order]:
        """Remove and return the orders the current prices fire, sorted by order id. Trailing stops
        first move their reference with the price."""
        fired: list[Order] = []
        for source, price in prices.items():
            if price is None:
                continue
            rising = self._rising[source]
            while rising and rising[0][0] <= price:
                _, oid = heapq.heappop(rising)
                o = orders.get(oid)
                if o is not None and o.status is _UNTRIGGERED:
                    fired.append(o)
            falling = self._falling[source]
            while falling and -falling[0][0] >= price:
                _, oid = heapq.heappop(falling)
                o = orders.get(oid)
                if o is not None and o.status is _UNTRIGGERED:
                    fired.append(o)
        for oid in list(self._trailing):
            o = self._trailing[oid]
            price = prices.get(o.trigger_source)
            if price is None:
                continue
            ref = o.trail_reference
            if ref is None or (o.side < 0 and price > ref) or (o.side > 0 and price < ref):
                o.trail_reference = price
            if has_fired(o, price):
                del self._trailing[oid]
                fired.append(o)
        self.count -= len(fired)
        fired.sort(key=lambda o: o.order_id)
        return fired
