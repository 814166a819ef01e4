"""The order book of one market: price levels in price-time priority.

Layout, chosen for pure-Python speed (see shared/research/style.md, Hot paths):

- each side maps price -> ``Level``; the level's orders sit in a ``deque`` in arrival order;
- each side keeps its prices in a plain ascending ``list`` (best bid = last, best ask = first), kept
  sorted with ``bisect``; it also lets matching walk levels outward in order without mutating
  anything. A book holds a few hundred levels per side, where a C-level insert or delete in one
  list (a short memmove) is cheaper than any tree or ``SortedList`` bookkeeping in Python;
- cancels are lazy: the order is marked, the level's live size and count drop at once, and the dead
  entry is dropped when it reaches the front of its queue or when the level is compacted.

Invariants (``check``): no empty level is kept; each level's size is the sum of its live orders'
remaining sizes; the book never crosses at rest (best bid < best ask).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator

from perpetua.core.orders import Order, OrderStatus

_OPEN = OrderStatus.OPEN


class Level:
    """The orders resting at one price."""

    __slots__ = ("live", "orders", "price", "size")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.size = 0
        """Sum of the remaining sizes of the live orders."""
        self.live = 0
        """Number of live (OPEN) orders in ``orders``; the deque may also hold dead ones."""

    def drop_dead_front(self) -> None:
        orders = self.orders
        while orders and orders[0].status is not _OPEN:
            orders.popleft()

    def compact(self) -> None:
        """Drop dead orders once they outnumber the live ones (keeps memory bounded under cancels)."""
        if len(self.orders) > 2 * self.live + 8:
            self.orders = deque(o for o in self.orders if o.status is _OPEN)


class BookSide:
    """One side of the book. ``is_bid`` decides which end of the price list is best."""

    __slots__ = ("best", "is_bid", "levels", "prices")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.prices: list[int] = []
        """The prices of ``levels``, ascending."""
        self.best: int | None = None
        """Cached best price (highest bid / lowest ask), None when the side is empty."""

    def best_price(self) -> int | None:
        return self.best

    def add(self, order: Order) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(price)
            insort(self.prices, price)
            best = self.best
            if best is None or (price > best if self.is_bid else price < best):
                self.best = price
        level.orders.append(order)
        level.size += order.remaining
        level.live += 1

    def remove(self, order: Order) -> None:
        """Take a live order's remaining size off its level. The caller changes the order's status."""
        level = self.levels[order.price]
        level.size -= order.remaining
        level.live -= 1
        if level.live == 0:
            self.drop_level(level.price)
        else:
            level.compact()

    def drop_level(self, price: int) -> None:
        del self.levels[price]
        prices = self.prices
        del prices[bisect_left(prices, price)]
        if price == self.best:
            self.best = (prices[-1] if self.is_bid else prices[0]) if prices else None

    def prices_from_best(self, limit: int | None = None) -> Iterator[int]:
        """Prices from the best outward, stopping past ``limit`` (inclusive bound) when given."""
        if self.is_bid:
            for price in reversed(self.prices):
                if limit is not None and price < limit:
                    return
                yield price
        else:
            for price in self.prices:
                if limit is not None and price > limit:
                    return
                yield price

    def depth(self, max_levels: int | None = None) -> list[tuple[int, int]]:
        """(price, total size) from the best outward."""
        out: list[tuple[int, int]] = []
        for price in self.prices_from_best():
            if max_levels is not None and len(out) >= max_levels:
                break
            out.append((price, self.levels[price].size))
        return out

    def live_orders(self) -> Iterator[Order]:
        """Live orders in priority order (best price first, then time)."""
        for price in self.prices_from_best():
            for order in self.levels[price].orders:
                if order.status is _OPEN:
                    yield order


class OrderBook:
    """Bids and asks of one market."""

    __slots__ = ("asks", "bids", "market_id")

    def __init__(self, market_id: str) -> None:
        self.market_id = market_id
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)

    def side_of(self, side: int) -> BookSide:
        """The side an order of ``side`` (+1 buy, -1 sell) rests on."""
        return self.bids if side > 0 else self.asks

    def best_bid(self) -> int | None:
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        return self.asks.best_price()

    def check(self) -> None:
        """Assert every invariant of the book (used by tests and stress runs)."""
        for side in (self.bids, self.asks):
            assert list(side.prices) == sorted(side.levels), "price index out of sync with levels"
            for price, level in side.levels.items():
                live = [o for o in level.orders if o.status is _OPEN]
                assert live, f"empty level kept at {price}"
                assert level.live == len(live), f"live count wrong at {price}"
                assert level.size == sum(o.remaining for o in live), f"level size wrong at {price}"
                assert all(o.price == price and o.remaining > 0 for o in live), f"bad order at {price}"
                sides = {o.side for o in live}
                assert sides == ({1} if side.is_bid else {-1}), f"order on the wrong side at {price}"
        for side in (self.bids, self.asks):
            expected = (side.prices[-1] if side.is_bid else side.prices[0]) if side.prices else None
            assert side.best == expected, f"cached best price {side.best} != {expected}"
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid < ask, f"book crossed at rest: bid {bid} >= ask {ask}"
