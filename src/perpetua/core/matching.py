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


def _overlay(account: Account, mid: str, index_now: int, oracle: int | None) -> tuple[int, int, int, int | None]:
    """A fresh planning overlay for ``account`` in market ``mid`` (see ``plan_match``)."""
    positions = account.positions
    if oracle is not None:
        if not positions:
            return 0, 0, 0, account.collateral
        if len(positions) == 1:
            pos = positions.get(mid)
            if pos is not None and pos.funding_index == index_now:
                return 0, 0, pos.size, account.collateral
    return 0, 0, 0, None


def plan_match(
    state: ExchangeState, taker: Order, market: Market, opposite: BookSide, liquidation: bool = False
) -> Plan:
    """Decide the fills and maker cancellations for ``taker`` without changing anything.

    ``liquidation``: the taker is a liquidation order (core/liquidation.py): it pays no trading fee
    and its account is not held to the trade rule (StarkEx checks the liquidated position only for
    being liquidatable and shrinking; the penalty and the bankruptcy bound are applied afterwards).
    Makers are judged as always.

    The trade rule per fill, fast path: an account whose only position (if any) is in this market at
    the current funding index has TV = collateral + size * oracle / r and IMR = the requirement of
    that one position, so "TV >= IMR after the fill" is computed inline from the overlay. Any other
    account, and any fill that fails that test, goes through ``_fill_allowed`` (``account_totals``
    and ``is_valid_trade``): the same decision, computed in full.
    """
    plan = Plan()
    steps = plan.steps
    append = steps.append
    remaining = taker.remaining
    filled = 0
    side = taker.side
    accounts = state.accounts
    taker_id = taker.account_id
    taker_acct = accounts[taker_id]
    mid = market.market_id
    res = market.resolution
    fee_den = res * PPM
    oracle = state.oracle_prices.get(mid)
    index_now = state.funding_indices[mid]
    baseline = market.baseline_position_size
    imf0 = market.initial_margin_ppm
    # Overlay per account: (size delta, collateral delta, size before, collateral or None). The last
    # is None when the fast path does not apply (other markets, unsettled funding, no oracle price).
    t_size, t_coll, t_size0, t_base = _overlay(taker_acct, mid, index_now, oracle)
    maker_prior: dict[int, tuple[int, int, int, int | None]] = {}
    # Fees as in Market.fee (rounded up), inlined: this loop runs once per fill.
    taker_fee_ppm, maker_fee_ppm = (0 if liquidation else market.taker_fee_ppm), market.maker_fee_ppm
    taker_reduce_only = taker.reduce_only
    levels = opposite.levels
    limit = taker.price
    away = -1 if opposite.is_bid else 1  # (price - limit) * away > 0: past the taker's limit
    prices = opposite.prices
    for price in reversed(prices) if opposite.is_bid else prices:
        if (price - limit) * away > 0:
            break
        for maker in levels[price].orders:
            if maker.status is not _OPEN:
                continue
            maker_id = maker.account_id
            if maker_id == taker_id:
                append((maker, 0, CancelReason.SELF_TRADE, 0, 0))
                continue
            maker_remaining = maker.remaining
            qty = remaining if remaining < maker_remaining else maker_remaining
            if taker_reduce_only:
                pos = taker_acct.size(taker.market_id) + t_size
                reducible = -pos if side > 0 else pos
                if reducible <= 0:  # the position is closed: nothing left to reduce
                    plan.filled = filled
                    plan.stop_reason = CancelReason.REDUCE_ONLY
                    return plan
                qty = min(qty, reducible)
            maker_acct = accounts[maker_id]
            mp = maker_prior.get(maker_id)
            if mp is None:
                mp = _overlay(maker_acct, mid, index_now, oracle)
            m_size, m_coll, m_size0, m_base = mp
            if maker.reduce_only:
                pos = maker_acct.size(maker.market_id) + m_size
                reducible = pos if side > 0 else -pos
                if reducible <= 0:
                    maker_prior[maker_id] = mp
                    append((maker, 0, CancelReason.REDUCE_ONLY, 0, 0))
                    continue
                qty = min(qty, reducible)
            notional = qty * price
            cost = notional // res
            taker_fee = -((-notional * taker_fee_ppm) // fee_den)
            maker_fee = -((-notional * maker_fee_ppm) // fee_den)
            # A buyer pays the cost, a seller receives it; both pay their fee.
            maker_coll = side * cost - maker_fee
            taker_coll = -side * cost - taker_fee
            delta = side * qty
            # The maker's fill: fast path (see the docstring), else in full.
            if m_base is not None:
                s = m_size0 + m_size - delta
                a = s if s > 0 else -s
                imf = imf0 if a <= baseline else market.initial_margin_fraction_ppm(a)
                allowed = m_base + m_coll + maker_coll + s * oracle // res >= -((-a * oracle * imf) // fee_den)  # type: ignore[operator]
            else:
                allowed = False
            if not allowed and not _fill_allowed(state, maker_acct, market, [m_size, m_coll], -delta, maker_coll):
                maker_prior[maker_id] = mp
                append((maker, 0, CancelReason.UNDERMARGINED, 0, 0))
                continue
            if not liquidation:
                if t_base is not None:
                    s = t_size0 + t_size + delta
                    a = s if s > 0 else -s
                    imf = imf0 if a <= baseline else market.initial_margin_fraction_ppm(a)
                    allowed = t_base + t_coll + taker_coll + s * oracle // res >= -((-a * oracle * imf) // fee_den)  # type: ignore[operator]
                else:
                    allowed = False
                if not allowed and not _fill_allowed(state, taker_acct, market, [t_size, t_coll], delta, taker_coll):
                    plan.filled = filled
                    plan.stop_reason = CancelReason.UNDERMARGINED
                    return plan
            append((maker, qty, None, taker_fee, maker_fee))
            if maker.reduce_only and qty < maker_remaining and qty < remaining:
                # The maker's position is now closed: its rest could only open one. Cancel it, so
                # matching never moves past a maker that is still resting (the book must not cross).
                append((maker, 0, CancelReason.REDUCE_ONLY, 0, 0))
            maker_prior[maker_id] = (m_size - delta, m_coll + maker_coll, m_size0, m_base)
            t_size += delta
            t_coll += taker_coll
            remaining -= qty
            filled += qty
            if remaining == 0:
                plan.filled = filled
                return plan
            if taker_reduce_only and qty == reducible:
                plan.filled = filled
                plan.stop_reason = CancelReason.REDUCE_ONLY  # closed the position; the rest would open one
                return plan
    plan.filled = filled
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
    """Cancel an OPEN order resting in the book: off its level (``BookSide.remove``, inlined), off the
    account's open-order exposure, out of the live indices (``retire_order``, inlined)."""
    book = state.books[order.market_id]
    oid, remaining, side, price = order.order_id, order.remaining, order.side, order.price
    acct = state.accounts[order.account_id]
    book_side = book.bids if side > 0 else book.asks
    level = book_side.levels[price]
    level.size -= remaining
    live = level.live = level.live - 1
    if live == 0:
        book_side.drop_level(price)
    elif len(level.orders) > 2 * live + 8:
        level.compact()
    acct.open_sizes[order.market_id][0 if side > 0 else 1] -= remaining
    order.status = _CANCELED
    del state.orders[oid]
    del acct.open_orders[oid]
    del acct.client_orders[order.client_id]
    events.append(OrderCanceled(oid, order.account_id, order.market_id, remaining, reason, side, price, True))


def apply_plan(
    state: ExchangeState, taker: Order, market: Market, opposite: BookSide, plan: Plan, events: list[Event]
) -> None:
    """Carry out a plan: fills and maker cancellations, in order.

    Per fill: settle both accounts' funding, move collateral (cost and fees), move positions, shrink
    both orders and the level, retire a filled maker (as ``retire_order`` does), emit ``OrderFilled``.
    Inlined on purpose: this loop runs once per fill (the taker's remaining size and the fill id
    counter are kept in locals and written back once).
    """
    accounts = state.accounts
    orders = state.orders
    indices = state.funding_indices
    taker_id = taker.account_id
    taker_oid = taker.order_id
    taker_acct = accounts[taker_id]
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
    append = events.append
    fill_id = state.next_fill_id
    taker_remaining = taker.remaining
    level_price = -1
    level: Level | None = None
    for maker, qty, reason, taker_fee, maker_fee in plan.steps:
        if reason is not None:
            cancel_resting(state, maker, reason, events)
            continue
        maker_id = maker.account_id
        maker_acct = accounts[maker_id]
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
            holders[taker_id] = taker_acct
        else:
            taker_pos.size += delta
            if taker_pos.size == 0:
                del taker_positions[mid]
                del holders[taker_id]
        maker_pos = maker_positions.get(mid)
        if maker_pos is None:
            maker_positions[mid] = Position(-delta, index_now)
            holders[maker_id] = maker_acct
        else:
            maker_pos.size -= delta
            if maker_pos.size == 0:
                del maker_positions[mid]
                del holders[maker_id]
        taker_remaining -= qty
        maker_remaining = maker.remaining = maker.remaining - qty
        if price != level_price or level is None:
            level = levels[price]
            level_price = price
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
        append(
            OrderFilled(
                fill_id, mid, price, qty, taker_oid, taker_id, side, taker_fee,
                maker.order_id, maker_id, maker_fee, taker_remaining, maker_remaining,
            )
        )
        fill_id += 1
    taker.remaining = taker_remaining
    state.next_fill_id = fill_id
    for level in touched:
        if level.live == 0:
            if levels.get(level.price) is level:
                opposite.drop_level(level.price)
        else:
            level.drop_dead_front()


def match_now(
    state: ExchangeState, taker: Order, market: Market, opposite: BookSide, events: list[Event]
) -> CancelReason | None:
    """``plan_match`` then ``apply_plan`` in one pass, for a taker that is neither fill-or-kill nor a
    liquidation and whose account is not the fee account (the sequencer's common case). Returns the
    plan's ``stop_reason``.

    Each step is decided exactly as ``plan_match`` decides it and carried out at once, exactly as
    ``apply_plan`` carries it out, in the same order (so the events and the state are the same). The
    decisions read the real accounts, which after the steps so far equal the planning overlay:
    settling funding leaves TV unchanged (``account_totals`` floors the unsettled funding once, as
    ``settle_funding`` does), a position opened here starts at the current funding index, and the only
    other change is the fees the fee account receives, taken off when it is the maker. The fast
    inline trade rule and ``_fill_allowed`` give the same decision, so either may judge any fill.
    The caller checks that the market has an oracle price.
    """
    accounts = state.accounts
    orders = state.orders
    indices = state.funding_indices
    taker_id = taker.account_id
    taker_oid = taker.order_id
    taker_acct = accounts[taker_id]
    fee_acct = state.fee_account
    mid = market.market_id
    res = market.resolution
    fee_den = res * PPM
    oracle: int = state.oracle_prices[mid]
    index_now = indices[mid]
    baseline = market.baseline_position_size
    imf0 = market.initial_margin_ppm
    taker_fee_ppm, maker_fee_ppm = market.taker_fee_ppm, market.maker_fee_ppm
    side = taker.side
    maker_slot = 1 if side > 0 else 0  # the maker rests on the other side: index into open_sizes
    holders = state.holders[mid]
    levels = opposite.levels
    touched: list[Level] = []
    settle(state, taker_acct, events)
    taker_positions = taker_acct.positions
    append = events.append
    fill_id = state.next_fill_id
    remaining = taker.remaining
    taker_reduce_only = taker.reduce_only
    fee_recv = 0  # fees the fee account received in this match (the planning overlay leaves them out)
    stop_reason: CancelReason | None = None
    reducible = 0
    limit = taker.price
    is_bid = opposite.is_bid
    away = -1 if is_bid else 1  # (price - limit) * away > 0: past the taker's limit
    prices = opposite.prices
    # Walk the prices by index: a cancellation may drop the current level from ``prices``.
    i = len(prices) - 1 if is_bid else 0
    done = False
    while 0 <= i < len(prices):
        price = prices[i]
        if (price - limit) * away > 0:
            break
        level = levels[price]
        for maker in level.orders:
            if maker.status is not _OPEN:
                continue
            maker_id = maker.account_id
            if maker_id == taker_id:
                cancel_resting(state, maker, CancelReason.SELF_TRADE, events)
                continue
            maker_remaining = maker.remaining
            qty = remaining if remaining < maker_remaining else maker_remaining
            if taker_reduce_only:
                tpos = taker_positions.get(mid)
                pos = tpos.size if tpos is not None else 0
                reducible = -pos if side > 0 else pos
                if reducible <= 0:  # the position is closed: nothing left to reduce
                    stop_reason = CancelReason.REDUCE_ONLY
                    done = True
                    break
                qty = min(qty, reducible)
            maker_acct = accounts[maker_id]
            maker_positions = maker_acct.positions
            if maker.reduce_only:
                mpos = maker_positions.get(mid)
                pos = mpos.size if mpos is not None else 0
                # (``reducible`` is shared with the taker's check below, exactly as in plan_match.)
                reducible = pos if side > 0 else -pos
                if reducible <= 0:
                    cancel_resting(state, maker, CancelReason.REDUCE_ONLY, events)
                    continue
                qty = min(qty, reducible)
            notional = qty * price
            cost = notional // res
            taker_fee = -((-notional * taker_fee_ppm) // fee_den)
            maker_fee = -((-notional * maker_fee_ppm) // fee_den)
            maker_coll = side * cost - maker_fee
            taker_coll = -side * cost - taker_fee
            delta = side * qty
            # The maker's fill: fast path (one position, in this market, funding current), else in full.
            adj = fee_recv if maker_acct is fee_acct else 0
            n = len(maker_positions)
            allowed = False
            if n < 2:
                if n == 0:
                    s = -delta
                    fast = True
                else:
                    mpos = maker_positions.get(mid)
                    fast = mpos is not None and mpos.funding_index == index_now
                    s = mpos.size - delta if mpos is not None else 0
                if fast:
                    a = s if s > 0 else -s
                    imf = imf0 if a <= baseline else market.initial_margin_fraction_ppm(a)
                    allowed = (
                        maker_acct.collateral - adj + maker_coll + s * oracle // res
                        >= -((-a * oracle * imf) // fee_den)
                    )
            if not allowed and not _fill_allowed(state, maker_acct, market, [0, -adj], -delta, maker_coll):
                cancel_resting(state, maker, CancelReason.UNDERMARGINED, events)
                continue
            # The taker's fill, likewise (its funding was settled above).
            n = len(taker_positions)
            allowed = False
            if n < 2:
                if n == 0:
                    s = delta
                    fast = True
                else:
                    tpos = taker_positions.get(mid)
                    fast = tpos is not None and tpos.funding_index == index_now
                    s = tpos.size + delta if tpos is not None else 0
                if fast:
                    a = s if s > 0 else -s
                    imf = imf0 if a <= baseline else market.initial_margin_fraction_ppm(a)
                    allowed = (
                        taker_acct.collateral + taker_coll + s * oracle // res >= -((-a * oracle * imf) // fee_den)
                    )
            if not allowed and not _fill_allowed(state, taker_acct, market, [0, 0], delta, taker_coll):
                stop_reason = CancelReason.UNDERMARGINED
                done = True
                break
            # Carry the fill out, as apply_plan does.
            for pmid, held in maker_positions.items():
                if indices[pmid] != held.funding_index:
                    settle(state, maker_acct, events)
                    break
            taker_acct.collateral += taker_coll
            maker_acct.collateral += maker_coll
            fee_acct.collateral += taker_fee + maker_fee
            fee_recv += taker_fee + maker_fee
            taker_pos = taker_positions.get(mid)
            if taker_pos is None:
                taker_positions[mid] = Position(delta, index_now)
                holders[taker_id] = taker_acct
            else:
                taker_pos.size += delta
                if taker_pos.size == 0:
                    del taker_positions[mid]
                    del holders[taker_id]
            maker_pos = maker_positions.get(mid)
            if maker_pos is None:
                maker_positions[mid] = Position(-delta, index_now)
                holders[maker_id] = maker_acct
            else:
                maker_pos.size -= delta
                if maker_pos.size == 0:
                    del maker_positions[mid]
                    del holders[maker_id]
            remaining -= qty
            left = maker.remaining = maker_remaining - qty
            level.size -= qty
            maker_acct.open_sizes[mid][maker_slot] -= qty
            if left == 0:
                level.live -= 1
                maker.status = _FILLED
                oid = maker.order_id
                del orders[oid]
                del maker_acct.open_orders[oid]
                del maker_acct.client_orders[maker.client_id]
                touched.append(level)
            append(
                OrderFilled(
                    fill_id, mid, price, qty, taker_oid, taker_id, side, taker_fee,
                    maker.order_id, maker_id, maker_fee, remaining, left,
                )
            )
            fill_id += 1
            if maker.reduce_only and qty < maker_remaining and qty < remaining + qty:
                # The maker's position is now closed: cancel its rest (see plan_match).
                cancel_resting(state, maker, CancelReason.REDUCE_ONLY, events)
            if remaining == 0:
                done = True
                break
            if taker_reduce_only and qty == reducible:
                stop_reason = CancelReason.REDUCE_ONLY  # closed the position; the rest would open one
                done = True
                break
        if done:
            break
        if is_bid:
            i -= 1
        elif price in levels:
            i += 1
    taker.remaining = remaining
    state.next_fill_id = fill_id
    for level in touched:
        if level.live == 0:
            if levels.get(level.price) is level:
                opposite.drop_level(level.price)
        else:
            level.drop_dead_front()
    return stop_reason
