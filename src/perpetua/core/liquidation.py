"""Liquidations, the insurance fund and deleveraging (docs/liquidations.md).

Trigger (StarkEx): an account is liquidatable when TV < MMR at oracle prices. After every oracle price
change and funding tick of a market, the sequencer checks the accounts holding a position there
(``state.holders``, kept O(1) per fill), never on a stale market (degraded mode).

Bankruptcy amount (``bankruptcy_collateral``). Changing the position by ``delta`` (a close) at the
bankruptcy amount c leaves the account's TV / MMR exactly where it was: c = ceil(TV0 * MMR1 / MMR0) -
TV1', with TV1' and MMR1 the totals after the change before any collateral moves. It is the least
collateral that keeps the ratio (StarkEx's Deleverage "best for the deleverager"), rounded toward the
account. Per unit this is dYdX v3's close price P * (1 - MMF * TV / MMR) for a long (P * (1 + ...)
for a short) and v4's bankruptcy price of a partial close; for an account with one position it is the
price at which closing everything leaves TV = 0. Closing the whole account at bankruptcy amounts
leaves TV = 0 exactly.

One liquidation step of an account (``liquidate_account``):

1. its open and untriggered orders are canceled (``LIQUIDATED``);
2. positions are taken in the configured order (largest maintenance requirement first, ties by
   market id; or by market id), one at a time, until TV >= MMR or none is left. The first close is
   partial: the size that brings the account to TV >= MMR * (1 + buffer) at the oracle price after the
   penalty (``close_size``); if that was not enough (slippage), the following closes are whole
   positions (full liquidation);
3. a close is an IOC reduce-only liquidation order through the real matching (``plan_match`` with
   ``liquidation=True``: no taker fee, makers judged as always), limited to the bankruptcy price
   while TV > 0, or to the oracle price -/+ one MMF when the account is already under water;
4. per fill, surplus = what the fill pays the account - the bankruptcy amount. When surplus >= 0 the
   account pays a penalty min(penalty fraction * fill notional, surplus) to the insurance fund; when
   surplus < 0 the fund pays -surplus (a fill below bankruptcy), if its balance and the market's
   per-window cap allow; the first fill the fund cannot cover ends the order;
5. what the book did not take is deleveraged (``deleverage``) at the bankruptcy amount against the
   opposite positions, ranked: profit share of equity times leverage, (PnL / TV) * (notional / TV)
   with PnL = TV - net deposits, accounts in profit first, then by leverage, then by position id. A
   deleverager must be healthy before (TV >= MMR, TV > 0) and after, and pass the StarkEx trade rule
   (it only reduces, so: well leveraged after, or TV / MMR not lower). (StarkEx allows Deleverage only
   for TV < 0; we also deleverage a TV >= 0 remainder the book cannot take within the bankruptcy
   bound, which is at or better than the oracle price for the deleverager.)
6. Socialized-loss mode (``socialized_loss``, off by default): fills below bankruptcy proceed even
   when the fund cannot cover them; the fund pays what it can and the rest of the account's negative
   balance, once its positions are closed, is charged to the accounts holding the other side of the
   market pro rata to their size (``LossSocialized``).

Keepers (``Liquidate``, ``check_keeper_liquidation``): a liquidator's signed StarkEx limit order takes
over part of a liquidatable account's position at its price, which must pay the account at least its
bankruptcy amount; the penalty is split, ``keeper_reward_ppm`` to the keeper, the rest to the fund.

Every transfer is between accounts (the fund and the fee position included), so total collateral is
conserved exactly; the fund's balance never goes below zero.
"""

from __future__ import annotations

from collections.abc import Callable

from perpetua.core.accounts import Account, Position
from perpetua.core.commands import Liquidate
from perpetua.core.errors import CancelReason, RejectCode, RejectedError
from perpetua.core.events import (
    AccountLiquidated,
    Event,
    InsuranceFundChanged,
    LiquidationFilled,
    LossSocialized,
    OrderAccepted,
    OrderCanceled,
    PositionDeleveraged,
)
from perpetua.core.funding import FUNDING_INDEX_ONE
from perpetua.core.markets import Market
from perpetua.core.matching import Plan, apply_plan, cancel_resting, plan_match, retire_order, settle
from perpetua.core.oracle import SignatureVerifier
from perpetua.core.orders import Order, OrderStatus, OrderType, TimeInForce
from perpetua.core.quantities import NS_PER_S, PPM, ceil_div
from perpetua.core.risk import account_totals, is_valid_trade
from perpetua.core.state import ExchangeState
from perpetua.crypto.messages import LimitOrder, hash_limit_order

PENALTY = "LIQUIDATION_PENALTY"
SHORTFALL = "LIQUIDATION_SHORTFALL"
FUNDING_ROUNDING = "FUNDING_ROUNDING"
"""``InsuranceFundChanged.reason`` values."""

_MAX_CLOSES_PER_POSITION = 2
"""A step closes each position at most twice (a partial close, then the rest)."""


# -- the trigger -------------------------------------------------------------------------------------


def scan_market(state: ExchangeState, market_id: str) -> list[int]:
    """Ids (increasing) of the accounts holding ``market_id`` that are liquidatable at oracle prices.

    O(holders of the market). One-position accounts (the common case) are judged inline with
    ``risk.account_totals``'s arithmetic (tests compare the two); others call it.
    """
    holders = state.holders[market_id]
    if not holders:
        return []
    markets, prices, indices = state.markets, state.oracle_prices, state.funding_indices
    m = markets[market_id]
    price, r, f = prices[market_id], m.resolution, m.maintenance_margin_ppm
    den = r * PPM
    index = indices[market_id]
    one = FUNDING_INDEX_ONE
    out = []
    for pid, acct in holders.items():
        positions = acct.positions
        if len(positions) == 1:
            pos = positions[market_id]
            size = pos.size
            tv = acct.collateral + size * price // r
            d = index - pos.funding_index
            if d:
                tv += (-d * size) // one
            a = size if size > 0 else -size
            if tv < -((-a * price * f) // den):
                out.append(pid)
        else:
            tv, _, mmr = account_totals(acct, markets, prices, indices)
            if tv < mmr:
                out.append(pid)
    out.sort()
    return out


def is_liquidatable(state: ExchangeState, account: Account) -> bool:
    """TV < MMR at oracle prices, with every market of the account fresh (never on a stale price)."""
    if not account.positions or any(state.oracle_stale(mid) for mid in account.positions):
        return False
    tv, _, mmr = account_totals(account, state.markets, state.oracle_prices, state.funding_indices)
    return tv < mmr


# -- the arithmetic ----------------------------------------------------------------------------------


def bankruptcy_collateral(
    state: ExchangeState, account: Account, market_id: str, delta: int, prior_size: int = 0, prior_collateral: int = 0
) -> int:
    """Collateral the account must receive (negative: pay) for changing its position in ``market_id``
    by ``delta`` (after ``prior_*`` changes) so that TV / MMR stays where it is (module docstring)."""
    markets, prices, indices = state.markets, state.oracle_prices, state.funding_indices
    tv0, _, mmr0 = account_totals(account, markets, prices, indices, market_id, prior_size, prior_collateral)
    tv1, _, mmr1 = account_totals(account, markets, prices, indices, market_id, prior_size + delta, prior_collateral)
    if mmr0 == 0:
        return tv0 - tv1
    return ceil_div(tv0 * mmr1, mmr0) - tv1


def unit_price(collateral: int, size: int, resolution: int, selling: bool) -> int:
    """A collateral amount for ``size`` quantums as a price per unit, rounded toward the account
    (up for a sale, down for a purchase)."""
    return ceil_div(collateral * resolution, size) if selling else collateral * resolution // size


def close_size(
    market: Market, size: int, price: int, tv: int, mmr: int, buffer_ppm: int, full: bool
) -> int:
    """How much of a position of ``size`` to close (quantums, positive).

    Partial: the least q with TV - q P p >= (MMR - q P f)(1 + b) (oracle price P, penalty p, MMF f,
    buffer b, per unit of q / resolution):
        q >= (MMR (1 + b) - TV) r / (P (f (1 + b) - p)),
    rounded up to the step size, at least the minimum order size, at most the position. ``full``, or
    TV <= 0, closes the whole position.
    """
    a = abs(size)
    if full or tv <= 0:
        return a
    f, p = market.maintenance_margin_ppm, market.liquidation_penalty_ppm
    num = (mmr * (PPM + buffer_ppm) - tv * PPM) * market.resolution * PPM
    den = price * (f * (PPM + buffer_ppm) - p * PPM)
    if den <= 0 or num <= 0:
        return a if num > 0 else min(a, market.min_order_size)
    q = ceil_div(num, den)
    step = market.step_size
    q = max(ceil_div(q, step) * step, market.min_order_size)
    return min(q, a)


def penalty_amount(market: Market, qty: int, price: int) -> int:
    """The penalty fraction of a fill's notional, rounded up."""
    return ceil_div(qty * price * market.liquidation_penalty_ppm, market.resolution * PPM)


def _position_order(state: ExchangeState, account: Account) -> list[str]:
    """Which positions to close first (``ExchangeConfig.liquidation_order``)."""
    mids = sorted(account.positions)
    if state.config.liquidation_order == "market_id":
        return mids
    prices, markets = state.oracle_prices, state.markets

    def risk(mid: str) -> int:
        m = markets[mid]
        return abs(account.positions[mid].size) * prices[mid] * m.maintenance_margin_ppm // m.resolution

    return sorted(mids, key=lambda mid: -risk(mid))  # stable: ties stay in market-id order


# -- positions and the fund ----------------------------------------------------------------------------


def shift_position(state: ExchangeState, account: Account, market_id: str, delta: int) -> None:
    """Add ``delta`` to the account's position (funding settled before), keeping ``state.holders``."""
    pos = account.positions.get(market_id)
    if pos is None:
        account.positions[market_id] = Position(delta, state.funding_indices[market_id])
        state.holders[market_id][account.position_id] = account
    else:
        pos.size += delta
        if pos.size == 0:
            del account.positions[market_id]
            del state.holders[market_id][account.position_id]


def fund_capacity(state: ExchangeState, market: Market) -> int:
    """What the insurance fund may still pay for ``market`` now: its balance, and the rest of the
    market's per-window cap."""
    window = state.insurance_windows[market.market_id]
    number = state.time_ns // market.insurance_loss_window_ns
    used = window[1] if window[0] == number else 0
    return max(0, min(state.insurance_fund.collateral, market.insurance_loss_cap - used))


def move_fund(
    state: ExchangeState, market: Market, account: Account, amount: int, reason: str, events: list[Event]
) -> None:
    """Move ``amount`` from ``account`` into the fund (negative: out of the fund, within its capacity)."""
    if amount == 0:
        return
    fund = state.insurance_fund
    if amount < 0:
        assert -amount <= fund_capacity(state, market), "the insurance fund cannot pay this"
        window = state.insurance_windows[market.market_id]
        number = state.time_ns // market.insurance_loss_window_ns
        if window[0] != number:
            window[0], window[1] = number, 0
        window[1] += -amount
    account.collateral -= amount
    fund.collateral += amount
    events.append(InsuranceFundChanged(state.time_ns, market.market_id, amount, reason, account.position_id,
                                       fund.collateral))


# -- one liquidation step ------------------------------------------------------------------------------


class _Step:
    """Running totals of one account's liquidation step (for ``AccountLiquidated``)."""

    __slots__ = ("closed_notional", "deleveraged", "fund_delta", "penalty")

    def __init__(self) -> None:
        self.closed_notional = 0
        self.penalty = 0
        self.fund_delta = 0
        self.deleveraged = 0


def cancel_account_orders(state: ExchangeState, account: Account, events: list[Event]) -> None:
    """Cancel every open and untriggered order of ``account`` (``CancelReason.LIQUIDATED``)."""
    orders = state.orders
    for oid in list(account.open_orders):
        order = orders[oid]
        if order.status is OrderStatus.OPEN:
            cancel_resting(state, order, CancelReason.LIQUIDATED, events)
        else:
            state.triggers[order.market_id].discard(order)
            retire_order(state, order, OrderStatus.CANCELED)
            events.append(OrderCanceled(oid, order.account_id, order.market_id, order.remaining,
                                        CancelReason.LIQUIDATED, order.side, order.price))


def liquidate_account(state: ExchangeState, account: Account, events: list[Event]) -> None:
    """One liquidation step of a liquidatable account (module docstring). Afterwards the account is
    not liquidatable or has no positions, unless no counterparty could take a remainder
    (``AccountLiquidated.complete`` is then False)."""
    markets = state.markets
    tv0, _, mmr0 = account_totals(account, markets, state.oracle_prices, state.funding_indices)
    cancel_account_orders(state, account, events)
    settle(state, account, events)
    step = _Step()
    closes: dict[str, int] = {}
    full = False
    complete = True
    last_mid, last_side = "", 0
    while account.positions:
        tv, _, mmr = account_totals(account, markets, state.oracle_prices, state.funding_indices)
        if tv >= mmr:
            break
        candidates = [mid for mid in _position_order(state, account) if closes.get(mid, 0) < _MAX_CLOSES_PER_POSITION]
        if not candidates:
            complete = False
            break
        mid = candidates[0]
        last_mid, last_side = mid, -1 if account.positions[mid].size > 0 else 1
        closes[mid] = closes.get(mid, 0) + 1
        market = markets[mid]
        size = account.positions[mid].size
        qty = close_size(market, size, state.oracle_prices[mid], tv, mmr, state.config.liquidation_buffer_ppm,
                         full or closes[mid] > 1)
        full = True  # a second close of anything is a full one
        filled = _close_on_book(state, account, market, qty, step, events)
        if filled < qty and not _deleverage(state, account, market, qty - filled, step, events):
            complete = False
            break
    if state.config.socialized_loss and not account.positions and account.collateral < 0 and last_mid:
        _socialize(state, account, last_mid, last_side, events)
    tv1, _, mmr1 = account_totals(account, markets, state.oracle_prices, state.funding_indices)
    events.append(AccountLiquidated(
        account.position_id, state.time_ns, tv0, mmr0, tv1, mmr1, step.closed_notional, step.penalty,
        step.fund_delta, step.deleveraged, not account.positions, 0, complete and (tv1 >= mmr1 or not account.positions),
    ))


def _limit_price(state: ExchangeState, account: Account, market: Market, side: int) -> int:
    """The liquidation order's limit: the bankruptcy price of the whole position while TV > 0; the
    oracle price -/+ one MMF when the account is under water. On the tick grid, toward the account."""
    mid = market.market_id
    size = account.positions[mid].size
    tv, _, _ = account_totals(account, state.markets, state.oracle_prices, state.funding_indices)
    price, tick = state.oracle_prices[mid], market.tick_size
    selling = side < 0
    if tv > 0:
        amount = bankruptcy_collateral(state, account, mid, -size)
        limit = unit_price(amount if selling else -amount, abs(size), market.resolution, selling)
    else:
        f = market.maintenance_margin_ppm
        limit = ceil_div(price * (PPM - f), PPM) if selling else price * (PPM + f) // PPM
    limit = ceil_div(limit, tick) * tick if selling else limit // tick * tick
    return max(limit, tick)


def _close_on_book(
    state: ExchangeState, account: Account, market: Market, qty: int, step: _Step, events: list[Event]
) -> int:
    """Close up to ``qty`` of the position with an IOC liquidation order; return the size filled."""
    mid = market.market_id
    size = account.positions[mid].size
    side = -1 if size > 0 else 1
    limit = _limit_price(state, account, market, side)
    oid = state.next_order_id
    state.next_order_id = oid + 1
    order = Order(oid, account.position_id, mid, side, OrderType.MARKET, TimeInForce.IOC, limit, qty,
                  f"liquidation-{oid}", state.time_ns, reduce_only=True)
    state.orders[oid] = order
    account.open_orders[oid] = None
    account.client_orders[order.client_id] = oid
    events.append(OrderAccepted(oid, account.position_id, mid, order.client_id, side, order.order_type, limit, qty,
                                False))
    book = state.books[mid]
    opposite = book.asks if side > 0 else book.bids
    best = opposite.best
    crosses = best is not None and (best <= limit if side > 0 else best >= limit)
    plan = plan_match(state, order, market, opposite, liquidation=True) if crosses else Plan()
    # Decide each fill's penalty or fund payment, in order; stop at the first the fund cannot cover.
    decisions: list[tuple[Order, int, int, int, int]] = []  # (maker, qty, bankruptcy amount, penalty, fund delta)
    kept = []
    prior = [0, 0]
    capacity = fund_capacity(state, market)
    socialize = state.config.socialized_loss
    res = market.resolution
    for maker, fill, reason, taker_fee, maker_fee in plan.steps:
        if reason is None:
            delta = side * fill
            cash = -delta * maker.price // res
            bankrupt = bankruptcy_collateral(state, account, mid, delta, prior[0], prior[1])
            surplus = cash - bankrupt
            if surplus >= 0:
                penalty = min(penalty_amount(market, fill, maker.price), surplus)
                fund_delta = penalty
            else:
                penalty = 0
                if -surplus > capacity and not socialize:
                    break
                fund_delta = -min(-surplus, capacity)
                capacity += fund_delta
            decisions.append((maker, fill, bankrupt, penalty, fund_delta))
            prior[0] += delta
            prior[1] += cash - fund_delta
        kept.append((maker, fill, reason, taker_fee, maker_fee))
    plan.steps = kept
    plan.filled = sum(d[1] for d in decisions)
    fill_id = state.next_fill_id  # apply_plan numbers the fills in order from here
    if plan.steps:
        apply_plan(state, order, market, opposite, plan, events)
    fund = state.insurance_fund
    for maker, fill, bankrupt, penalty, fund_delta in decisions:
        price = maker.price
        move_fund(state, market, account, fund_delta, PENALTY if fund_delta > 0 else SHORTFALL, events)
        events.append(LiquidationFilled(
            fill_id, mid, account.position_id, side, maker.account_id, maker.order_id, price, fill,
            unit_price(bankrupt if side < 0 else -bankrupt, fill, res, side < 0), penalty, fund_delta, 0,
            account.collateral, fund.collateral,
        ))
        fill_id += 1
        step.closed_notional += fill * price // res
        step.penalty += penalty
        step.fund_delta += fund_delta
    if order.remaining == 0:
        retire_order(state, order, OrderStatus.FILLED)
    else:
        retire_order(state, order, OrderStatus.CANCELED)
        events.append(OrderCanceled(oid, account.position_id, mid, order.remaining, CancelReason.IOC_REMAINDER,
                                    side, limit))
    return plan.filled


# -- deleveraging ---------------------------------------------------------------------------------------


def rank_deleveragers(state: ExchangeState, account: Account, market_id: str) -> list[tuple[int, Account]]:
    """The accounts holding the other side of ``market_id``, healthy (TV > 0, TV >= MMR), best first,
    with their score: (PnL / TV) * (notional / TV) in ppm for accounts in profit (PnL = TV - net
    deposits), -1 for the others (ranked after, by leverage); ties by position id."""
    size = account.size(market_id)
    markets, prices, indices = state.markets, state.oracle_prices, state.funding_indices
    skip = (account.position_id, state.config.insurance_fund_position_id, state.config.fee_position_id)
    ranked = []
    for pid, other in state.holders[market_id].items():
        if pid in skip or other.positions[market_id].size * size >= 0:
            continue
        tv, _, mmr = account_totals(other, markets, prices, indices)
        if tv <= 0 or tv < mmr:
            continue
        notional = sum(abs(p.size) * prices[mid] // markets[mid].resolution for mid, p in other.positions.items())
        pnl = tv - other.net_deposits
        score = pnl * notional * PPM // (tv * tv) if pnl > 0 else -1
        leverage = notional * PPM // tv
        ranked.append((-score, -leverage, pid, other))
    ranked.sort(key=lambda k: (k[0], k[1], k[2]))
    return [(-k[0], k[3]) for k in ranked]


def _deleverage(
    state: ExchangeState, account: Account, market: Market, qty: int, step: _Step, events: list[Event]
) -> bool:
    """Close ``qty`` of the account's position against ranked opposite positions at the bankruptcy
    amount. Returns whether all of it was closed."""
    mid = market.market_id
    side = -1 if account.positions[mid].size > 0 else 1
    markets, prices, indices = state.markets, state.oracle_prices, state.funding_indices
    remaining = qty
    for rank, (score, other) in enumerate(rank_deleveragers(state, account, mid)):
        if remaining == 0:
            break
        other_size = other.positions[mid].size
        take = min(remaining, abs(other_size))
        delta = side * take
        amount = bankruptcy_collateral(state, account, mid, delta)
        before = account_totals(other, markets, prices, indices)
        after = account_totals(other, markets, prices, indices, mid, -delta, -amount)
        if after[0] < after[2] or not is_valid_trade(before, after, other_size, other_size - delta):
            continue
        settle(state, other, events)
        account.collateral += amount
        other.collateral -= amount
        shift_position(state, account, mid, delta)
        shift_position(state, other, mid, -delta)
        remaining -= take
        step.deleveraged += take
        price = unit_price(amount if side < 0 else -amount, take, market.resolution, side < 0)
        step.closed_notional += take * price // market.resolution
        events.append(PositionDeleveraged(
            mid, account.position_id, other.position_id, side, take, price, amount, rank, score,
            account.collateral, other.collateral, other.size(mid),
        ))
    return remaining == 0


def _socialize(state: ExchangeState, account: Account, market_id: str, side: int, events: list[Event]) -> None:
    """Socialized-loss mode: charge the negative balance of an emptied account to the holders of the
    other side of the market it was last closed in, pro rata to size (floors; the rest to the largest
    holder, then the lowest id), so collateral stays conserved."""
    loss = -account.collateral
    # The liquidated sold (side -1): it was long, and the other side is the shorts.
    payers = sorted(
        (pid, other) for pid, other in state.holders[market_id].items() if other.positions[market_id].size * side > 0
    )
    total = sum(abs(o.positions[market_id].size) for _, o in payers)
    if total == 0:
        return
    charged = 0
    for _, other in payers:
        share = loss * abs(other.positions[market_id].size) // total
        other.collateral -= share
        charged += share
    largest = max(payers, key=lambda p: (abs(p[1].positions[market_id].size), -p[0]))[1]
    largest.collateral -= loss - charged
    account.collateral += loss
    events.append(LossSocialized(market_id, account.position_id, loss, len(payers)))


# -- keepers -----------------------------------------------------------------------------------------------


def _reject(code: RejectCode, field: str, message: str) -> RejectedError:
    return RejectedError(code, field, message)


class KeeperFill:
    """A checked ``Liquidate``: what applying it does."""

    __slots__ = ("cash", "liquidated", "liquidator", "market", "order_hash", "penalty", "reward", "side")

    def __init__(self, market: Market, liquidator: Account, liquidated: Account, side: int, cash: int,
                 penalty: int, reward: int, order_hash: int) -> None:
        self.market = market
        self.liquidator = liquidator
        self.liquidated = liquidated
        self.side = side
        """The liquidated account's trade side."""
        self.cash = cash
        """Collateral the liquidated account receives for the fill (negative: pays)."""
        self.penalty = penalty
        self.reward = reward
        self.order_hash = order_hash


def check_keeper_liquidation(state: ExchangeState, cmd: Liquidate, verify: SignatureVerifier) -> KeeperFill:
    """The rules of a keeper's ``Liquidate``, first broken one raised; changes nothing."""
    market = state.markets.get(cmd.market_id)
    if market is None:
        raise _reject(RejectCode.UNKNOWN_MARKET, "market_id", f"no market {cmd.market_id!r}")
    liquidator = state.accounts.get(cmd.liquidator_position_id)
    liquidated = state.accounts.get(cmd.liquidated_position_id)
    if liquidator is None:
        raise _reject(RejectCode.UNKNOWN_ACCOUNT, "liquidator_position_id", f"no account {cmd.liquidator_position_id}")
    if liquidated is None:
        raise _reject(RejectCode.UNKNOWN_ACCOUNT, "liquidated_position_id", f"no account {cmd.liquidated_position_id}")
    special = (state.config.insurance_fund_position_id, state.config.fee_position_id)
    if liquidator is liquidated or liquidator.position_id in special:
        raise _reject(RejectCode.INVALID_FIELD, "liquidator_position_id", "must be another trader's account")
    if cmd.size <= 0 or cmd.size % market.step_size:
        raise _reject(RejectCode.STEP_SIZE, "size", f"must be a positive multiple of the step size {market.step_size}")
    if not (0 < cmd.amount_synthetic < 1 << 64 and 0 < cmd.amount_collateral < 1 << 64 and 0 <= cmd.max_amount_fee < 1 << 64
            and 0 <= cmd.nonce < 1 << 32 and 0 < cmd.expiration_hours < 1 << 32):
        raise _reject(RejectCode.INVALID_FIELD, "amount_synthetic", "order amounts out of range")
    if cmd.expiration_hours * 3600 * NS_PER_S <= state.time_ns:
        raise _reject(RejectCode.LIQUIDATION_ORDER_EXPIRED, "expiration_hours", "the liquidator's order has expired")
    message = LimitOrder(market.synthetic_asset_id, state.config.collateral_asset_id, state.config.collateral_asset_id,
                         cmd.is_buying_synthetic, cmd.amount_synthetic, cmd.amount_collateral, cmd.max_amount_fee,
                         cmd.nonce, liquidator.position_id, cmd.expiration_hours)
    order_hash = hash_limit_order(message)
    if not verify(liquidator.public_key, order_hash, cmd.signature_r, cmd.signature_s):
        raise _reject(RejectCode.LIQUIDATION_SIGNATURE_INVALID, "signature", "the liquidator's signature does not verify")
    used = state.keeper_orders.get(order_hash, 0)
    if used + cmd.size > cmd.amount_synthetic:
        raise _reject(RejectCode.LIQUIDATION_ORDER_FILLED, "size",
                      f"{used} of the order's {cmd.amount_synthetic} is used; {cmd.size} more does not fit")
    for mid in sorted(set(liquidated.positions) | {cmd.market_id}):
        if state.oracle_stale(mid):
            raise _reject(RejectCode.MARKET_DEGRADED, "market_id", f"the oracle price of {mid} is stale")
    if not is_liquidatable(state, liquidated):
        raise _reject(RejectCode.NOT_LIQUIDATABLE, "liquidated_position_id",
                      f"account {liquidated.position_id} is not below its maintenance requirement")
    held = liquidated.size(cmd.market_id)
    side = -1 if cmd.is_buying_synthetic else 1
    if held == 0 or held * side > 0:
        raise _reject(RejectCode.LIQUIDATION_WRONG_SIDE, "is_buying_synthetic",
                      "the order must take over the liquidated position (buy a long, sell a short)")
    if cmd.size > abs(held):
        raise _reject(RejectCode.INVALID_FIELD, "size", f"more than the liquidated position {abs(held)}")
    # StarkEx fairness: a buyer pays at most its limit, a seller receives at least its limit.
    if cmd.is_buying_synthetic:
        paid = cmd.size * cmd.amount_collateral // cmd.amount_synthetic
        cash = paid
    else:
        cash = -ceil_div(cmd.size * cmd.amount_collateral, cmd.amount_synthetic)
    delta = side * cmd.size
    bankrupt = bankruptcy_collateral(state, liquidated, cmd.market_id, delta)
    surplus = cash - bankrupt
    if surplus < 0:
        raise _reject(RejectCode.LIQUIDATION_PRICE_OUT_OF_BOUNDS, "amount_collateral",
                      f"pays the account {cash}, less than its bankruptcy amount {bankrupt}")
    penalty = min(penalty_amount(market, cmd.size, abs(cash) * market.resolution // cmd.size), surplus)
    reward = penalty * state.config.keeper_reward_ppm // PPM
    new_size = liquidator.size(cmd.market_id) - delta
    if abs(new_size) > market.max_position_size:
        raise _reject(RejectCode.MAX_POSITION_SIZE, "size", f"the liquidator's position would exceed {market.max_position_size}")
    markets, prices, indices = state.markets, state.oracle_prices, state.funding_indices
    before = account_totals(liquidator, markets, prices, indices)
    after = account_totals(liquidator, markets, prices, indices, cmd.market_id, -delta, -cash + reward)
    if not is_valid_trade(before, after, liquidator.size(cmd.market_id), new_size):
        raise _reject(RejectCode.INSUFFICIENT_MARGIN, "size", "the liquidator's account cannot carry the position")
    return KeeperFill(market, liquidator, liquidated, side, cash, penalty, reward, order_hash)


def apply_keeper_liquidation(state: ExchangeState, cmd: Liquidate, fill: KeeperFill, events: list[Event]) -> None:
    """Carry out a checked ``Liquidate``: cancel the liquidated account's orders, move the position and
    the collateral, split the penalty, and report."""
    market, liquidated, liquidator = fill.market, fill.liquidated, fill.liquidator
    mid = market.market_id
    tv0, _, mmr0 = account_totals(liquidated, state.markets, state.oracle_prices, state.funding_indices)
    cancel_account_orders(state, liquidated, events)
    settle(state, liquidated, events)
    settle(state, liquidator, events)
    delta = fill.side * cmd.size
    liquidated.collateral += fill.cash
    liquidator.collateral -= fill.cash
    shift_position(state, liquidated, mid, delta)
    shift_position(state, liquidator, mid, -delta)
    state.keeper_orders[fill.order_hash] = state.keeper_orders.get(fill.order_hash, 0) + cmd.size
    liquidated.collateral -= fill.reward
    liquidator.collateral += fill.reward
    move_fund(state, market, liquidated, fill.penalty - fill.reward, PENALTY, events)
    fill_id = state.next_fill_id
    state.next_fill_id = fill_id + 1
    price = abs(fill.cash) * market.resolution // cmd.size
    fund = state.insurance_fund
    events.append(LiquidationFilled(
        fill_id, mid, liquidated.position_id, fill.side, liquidator.position_id, 0, price, cmd.size, price,
        fill.penalty, fill.penalty - fill.reward, fill.reward, liquidated.collateral, fund.collateral,
        cmd.amount_synthetic, cmd.amount_collateral, cmd.max_amount_fee, cmd.nonce, cmd.expiration_hours,
        cmd.signature_r, cmd.signature_s,
    ))
    tv1, _, mmr1 = account_totals(liquidated, state.markets, state.oracle_prices, state.funding_indices)
    events.append(AccountLiquidated(
        liquidated.position_id, state.time_ns, tv0, mmr0, tv1, mmr1, cmd.size * price // market.resolution,
        fill.penalty, fill.penalty - fill.reward, 0, not liquidated.positions, liquidator.position_id,
        tv1 >= mmr1 or not liquidated.positions,
    ))


# -- the sweep ---------------------------------------------------------------------------------------------


def liquidate_market(state: ExchangeState, market_id: str, events: list[Event],
                     after: Callable[[], None] | None = None) -> int:
    """Liquidate every liquidatable account holding ``market_id`` (in position-id order); return how
    many steps ran. Nothing happens on a stale market."""
    if state.oracle_stale(market_id):
        return 0
    steps = 0
    for _ in range(8):  # socialized losses can make more accounts liquidatable: a few passes
        ran = 0
        for pid in scan_market(state, market_id):
            account = state.accounts[pid]
            if is_liquidatable(state, account):
                liquidate_account(state, account, events)
                ran += 1
        steps += ran
        if ran == 0 or not state.config.socialized_loss:
            break
    if after is not None:
        after()
    return steps
