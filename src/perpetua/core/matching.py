"""Matching: an incoming (taker) order against the resting book, in price-time priority.

Matching runs in two steps so that fill-or-kill is exact and a refused fill changes nothing:

1. ``plan_match`` reads the book outward from the best price and decides, maker by maker, what happens:
   a fill of some size, or the maker's cancellation (self-trade, reduce-only with nothing left to
   reduce, or a fill its account may not take). Each fill is judged on the accounts as they would be
   after the fills planned before it (an overlay of size and collateral deltas), with the StarkEx
   trade rule (``risk.is_valid_trade``). It mutates nothing.
2. ``apply_plan`` carries the plan out: funding settlement, positions, collateral, fees, queues and
   events. A fill-or-kill order whose plan does not fill it completely applies nothing.

Rules:
- the maker's price is the fill price;
- self-trade prevention cancels the resting (maker) order and matching continues;
- a reduce-only order is clipped to the position it can still reduce; when nothing is left, a taker
  stops and a maker is canceled (so matching only moves past a maker it filled or canceled: the book
  cannot be left crossed);
- if a fill would leave the maker's account below initial margin without reducing its risk, the maker
  order is canceled; for the taker, matching stops and the remainder is canceled (UNDERMARGINED);
- fees: taker pays ``taker_fee_ppm``, maker ``maker_fee_ppm`` (both rounded up), to the fee position.
"""

from __future__ import annotations

from perpetua.core.accounts import Account, Position
from perpetua.core.book import BookSide, Level
from perpetua.core.errors import CancelReason
from perpetua.core.events import Event, FundingSettled, OrderCanceled, OrderFilled
from perpetua.core.funding import settle_funding
from perpetua.core.markets import Market
from perpetua.core.orders import Order, OrderStatus
from perpetua.core.quantities import PPM
from perpetua.core.risk import account_totals, is_valid_trade
from perpetua.core.state import ExchangeState

_OPEN = OrderStatus.OPEN
_FILLED = OrderStatus.FILLED
_CANCELED = OrderStatus.CANCELED

Step = tuple[Order, int, CancelReason | None, int, int]
"""(maker, fill size, None, taker fee, maker fee) for a fill, or (maker, 0, reason, 0, 0) for the
maker's cancellation."""


class Plan:
    """What matching a taker would do. ``filled`` is the taker size the fills cover."""

    __slots__ = ("filled", "steps", "stop_reason")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.filled = 0
        self.stop_reason: CancelReason | None = None
        """Why matching stopped before the price limit or the book ran out (reduce-only, margin)."""


def _fill_allowed(
    state: ExchangeState, account: Account, market: Market, prior: list[int], size_delta: int, coll_delta: int
) -> bool:
    """Whether ``account``, after the ``prior`` [size, collateral] deltas, may take one more fill."""
    mid = market.market_id
    markets, prices, indices = state.markets, state.oracle_prices, state.funding_indices
    after = account_totals(account, markets, prices, indices, mid, prior[0] + size_delta, prior[1] + coll_delta)
    if after[0] >= after[1]:
        return True
    before = account_totals(account, markets, prices, indices, mid, prior[0], prior[1])
    size0 = account.size(mid) + prior[0]
    return is_valid_trade(before, after, size0, size0 + size_delta)


def plan_match(
    state: ExchangeState, taker: Order, market: Market, opposite: BookSide, liquidation: bool = False
) -> Plan:
    """Decide the fills and maker cancellations for ``taker`` without changing anything.

    ``liquidation``: the taker is a liquidation order (core/liquidation.py): it pays no trading fee
    and its account is not held to the trade rule (StarkEx checks the liquidated position only for
    being liquidatable and shrinking; the penalty and the bankruptcy bound are applied afterwards).
    Makers are judged as always.
    """
    plan = Plan()
    steps = plan.steps
    remaining = taker.remaining
    side = taker.side
    accounts = state.accounts
    taker_acct = accounts[taker.account_id]
    taker_prior = [0, 0]
    maker_prior: dict[int, list[int]] = {}
    res = market.resolution
    fee_den = res * PPM
    # Fees as in Market.fee (rounded up), inlined: this loop runs once per fill.
    taker_fee_ppm, maker_fee_ppm = (0 if liquidation else market.taker_fee_ppm), market.maker_fee_ppm
    levels = opposite.levels
    for price in opposite.prices_from_best(taker.price):
        for maker in levels[price].orders:
            if maker.status is not _OPEN:
                continue
            if maker.account_id == taker.account_id:
                steps.append((maker, 0, CancelReason.SELF_TRADE, 0, 0))
                continue
            qty = remaining if remaining < maker.remaining else maker.remaining
            if taker.reduce_only:
                pos = taker_acct.size(taker.market_id) + taker_prior[0]
                reducible = -pos if side > 0 else pos
                if reducible <= 0:  # the position is closed: nothing left to reduce
                    plan.stop_reason = CancelReason.REDUCE_ONLY
                    return plan
                qty = min(qty, reducible)
            maker_acct = accounts[maker.account_id]
            mp = maker_prior.get(maker.account_id)
            if mp is None:
                mp = maker_prior[maker.account_id] = [0, 0]
            if maker.reduce_only:
                pos = maker_acct.size(maker.market_id) + mp[0]
                reducible = pos if side > 0 else -pos
                if reducible <= 0:
                    steps.append((maker, 0, CancelReason.REDUCE_ONLY, 0, 0))
                    continue
                qty = min(qty, reducible)
            cost = qty * price // res
            taker_fee = -((-qty * price * taker_fee_ppm) // fee_den)
            maker_fee = -((-qty * price * maker_fee_ppm) // fee_den)
            # A buyer pays the cost, a seller receives it; both pay their fee.
            maker_coll = side * cost - maker_fee
            taker_coll = -side * cost - taker_fee
            if not _fill_allowed(state, maker_acct, market, mp, -side * qty, maker_coll):
                steps.append((maker, 0, CancelReason.UNDERMARGINED, 0, 0))
                continue
            if not liquidation and not _fill_allowed(state, taker_acct, market, taker_prior, side * qty, taker_coll):
                plan.stop_reason = CancelReason.UNDERMARGINED
                return plan
            steps.append((maker, qty, None, taker_fee, maker_fee))
            if maker.reduce_only and qty < maker.remaining and qty < remaining:
                # The maker's position is now closed: its rest could only open one. Cancel it, so
                # matching never moves past a maker that is still resting (the book must not cross).
                steps.append((maker, 0, CancelReason.REDUCE_ONLY, 0, 0))
            mp[0] -= side * qty
            mp[1] += maker_coll
            taker_prior[0] += side * qty
            taker_prior[1] += taker_coll
            remaining -= qty
            plan.filled += qty
            if remaining == 0:
                return plan
            if taker.reduce_only and qty == reducible:
                plan.stop_reason = CancelReason.REDUCE_ONLY  # closed the position; the rest would open one
                return plan
    return plan


def settle(state: ExchangeState, account: Account, events: list[Event]) -> None:
    """Settle the account's funding before its positions change."""
    indices = state.funding_indices
    for mid, pos in account.positions.items():
        if indices[mid] != pos.funding_index:
            break
    else:
        return  # every cached index is current: nothing to settle (the common case)
    amount = settle_funding(account, indices)
    if amount:
        events.append(FundingSettled(account.position_id, amount))


def retire_order(state: ExchangeState, order: Order, status: OrderStatus) -> None:
    """Remove a finished order from the live indices (not from the book: callers handle that)."""
    order.status = status
    del state.orders[order.order_id]
    acct = state.accounts[order.account_id]
    del acct.open_orders[order.order_id]
    del acct.client_orders[order.client_id]


def cancel_resting(state: ExchangeState, order: Order, reason: CancelReason, events: list[Event]) -> None:
    """Cancel an OPEN order resting in the book: off its level, off the account's open-order exposure,
    out of the live indices (``retire_order``, inlined)."""
    book = state.books[order.market_id]
    oid, remaining = order.order_id, order.remaining
    acct = state.accounts[order.account_id]
    if order.side > 0:
        book.bids.remove(order)
        acct.open_sizes[order.market_id][0] -= remaining
    else:
        book.asks.remove(order)
        acct.open_sizes[order.market_id][1] -= remaining
    order.status = _CANCELED
    del state.orders[oid]
    del acct.open_orders[oid]
    del acct.client_orders[order.client_id]
    events.append(OrderCanceled(oid, order.account_id, order.market_id, remaining, reason, order.side, order.price, True))


def apply_plan(
    state: ExchangeState, taker: Order, market: Market, opposite: BookSide, plan: Plan, events: list[Event]
) -> None:
    """Carry out a plan: fills and maker cancellations, in order.

    Per fill: settle both accounts' funding, move collateral (cost and fees), move positions, shrink
    both orders and the level, retire a filled maker (as ``retire_order`` does), emit ``OrderFilled``.
    Inlined on purpose: this loop runs once per fill.
    """
    accounts = state.accounts
    orders = state.orders
    indices = state.funding_indices
    taker_acct = accounts[taker.account_id]
    fee_acct = state.fee_account
    mid = market.market_id
    res = market.resolution
    side = taker.side
    maker_slot = 1 if side > 0 else 0  # the maker rests on the other side: index into open_sizes
    index_now = indices[mid]
    holders = state.holders[mid]
    levels = opposite.levels
    touched: list[Level] = []
    settle(state, taker_acct, events)
    taker_positions = taker_acct.positions
    for maker, qty, reason, taker_fee, maker_fee in plan.steps:
        if reason is not None:
            cancel_resting(state, maker, reason, events)
            continue
        maker_acct = accounts[maker.account_id]
        maker_positions = maker_acct.positions
        for pmid, held in maker_positions.items():
            if indices[pmid] != held.funding_index:
                settle(state, maker_acct, events)
                break
        price = maker.price
        cost = qty * price // res
        taker_acct.collateral += -side * cost - taker_fee
        maker_acct.collateral += side * cost - maker_fee
        fee_acct.collateral += taker_fee + maker_fee
        # Positions: a new one starts at the current funding index; one back at zero is removed.
        delta = side * qty
        # The holders index follows every open and close (O(1)).
        taker_pos = taker_positions.get(mid)
        if taker_pos is None:
            taker_positions[mid] = Position(delta, index_now)
            holders[taker.account_id] = taker_acct
        else:
            taker_pos.size += delta
            if taker_pos.size == 0:
                del taker_positions[mid]
                del holders[taker.account_id]
        maker_pos = maker_positions.get(mid)
        if maker_pos is None:
            maker_positions[mid] = Position(-delta, index_now)
            holders[maker.account_id] = maker_acct
        else:
            maker_pos.size -= delta
            if maker_pos.size == 0:
                del maker_positions[mid]
                del holders[maker.account_id]
        taker.remaining -= qty
        maker_remaining = maker.remaining = maker.remaining - qty
        level = levels[price]
        level.size -= qty
        maker_acct.open_sizes[mid][maker_slot] -= qty
        if maker_remaining == 0:
            level.live -= 1
            maker.status = _FILLED
            oid = maker.order_id
            del orders[oid]
            del maker_acct.open_orders[oid]
            del maker_acct.client_orders[maker.client_id]
            touched.append(level)
        fill_id = state.next_fill_id
        state.next_fill_id = fill_id + 1
        events.append(
            OrderFilled(
                fill_id, mid, price, qty, taker.order_id, taker.account_id, side, taker_fee,
                maker.order_id, maker.account_id, maker_fee, taker.remaining, maker_remaining,
            )
        )
    for level in touched:
        if level.live == 0:
            if levels.get(level.price) is level:
                opposite.drop_level(level.price)
        else:
            level.drop_dead_front()
