"""Admission rules for an order: its fields, and the margin it needs before it may rest or trade.

Every function here only reads state and raises ``RejectedError``; a refused order changes nothing.

Order margin (the check at placement). The account must be able to carry its worst case: every resting
order of a market filling on the same side at once. For each market with a position or resting
orders, the worst exposure is max(|s + B|, |s - S|) (s position, B and S open buy and sell sizes); the
requirement is the initial requirement at that exposure and the oracle price. An order that does not
raise its market's worst exposure (it can only reduce risk) is always admitted. Otherwise the account
must satisfy  TV - loss_at_limit - taker_fee >= sum of worst-case requirements, where loss_at_limit is
what the order would lose at once against the oracle price if filled at its limit. While the market's
oracle price is stale (degraded mode, core/oracle.py) an order that raises the worst exposure is
refused (MARKET_DEGRADED).
"""

from __future__ import annotations

from perpetua.core.accounts import Account
from perpetua.core.commands import PlaceOrder
from perpetua.core.errors import RejectCode, RejectedError
from perpetua.core.funding import FUNDING_INDEX_ONE
from perpetua.core.markets import Market
from perpetua.core.orders import CONDITIONAL_TYPES, MARKET_LIKE_TYPES, OrderType, TimeInForce, TriggerSource
from perpetua.core.quantities import PPM, ceil_div
from perpetua.core.state import ExchangeState
from perpetua.core.triggers import fires_when_rising

MAX_CLIENT_ID_LENGTH = 64
_LIMIT_LIKE_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT})


def reject(code: RejectCode, field: str, message: str) -> RejectedError:
    return RejectedError(code, field, message)


def check_order_fields(state: ExchangeState, cmd: PlaceOrder) -> tuple[Market, Account]:
    """The static rules: market, account, side, size and price grids, type/flag combinations, expiry."""
    market = state.markets.get(cmd.market_id)
    if market is None:
        raise reject(RejectCode.UNKNOWN_MARKET, "market_id", f"no market {cmd.market_id!r}")
    account = state.accounts.get(cmd.position_id)
    if account is None:
        raise reject(RejectCode.UNKNOWN_ACCOUNT, "position_id", f"no account {cmd.position_id}")
    if cmd.side not in (1, -1):
        raise reject(RejectCode.INVALID_FIELD, "side", "must be +1 (buy) or -1 (sell)")
    if not isinstance(cmd.order_type, OrderType):
        raise reject(RejectCode.INVALID_FIELD, "order_type", f"unknown order type {cmd.order_type!r}")
    if not isinstance(cmd.time_in_force, TimeInForce):
        raise reject(RejectCode.INVALID_FIELD, "time_in_force", f"unknown time in force {cmd.time_in_force!r}")
    size, price = cmd.size, cmd.price
    if size <= 0:
        raise reject(RejectCode.INVALID_FIELD, "size", "must be positive")
    if size % market.step_size:
        raise reject(RejectCode.STEP_SIZE, "size", f"must be a multiple of the step size {market.step_size}")
    if size < market.min_order_size:
        raise reject(RejectCode.MIN_SIZE, "size", f"must be at least the minimum order size {market.min_order_size}")
    if price <= 0:
        raise reject(RejectCode.INVALID_FIELD, "price", "must be positive")
    if price % market.tick_size:
        raise reject(RejectCode.TICK_SIZE, "price", f"must be a multiple of the tick size {market.tick_size}")
    if not cmd.client_id or len(cmd.client_id) > MAX_CLIENT_ID_LENGTH:
        raise reject(RejectCode.INVALID_FIELD, "client_id", f"must be 1 to {MAX_CLIENT_ID_LENGTH} characters")
    if cmd.client_id in account.client_orders:
        raise reject(RejectCode.DUPLICATE_CLIENT_ID, "client_id", "a live order of this account already uses it")
    otype, tif = cmd.order_type, cmd.time_in_force
    # A plain limit order (not post-only, no expiry, trailing percent or trigger price) passes every
    # type / flag rule by construction; every other order is checked against them all.
    if not (
        otype is OrderType.LIMIT and not cmd.post_only and cmd.expires_at_ns is None
        and cmd.trailing_ppm is None and cmd.trigger_price is None
    ):
        _check_type_rules(state, cmd, market, otype, tif)
    if cmd.market_id not in state.oracle_prices:
        raise reject(RejectCode.NO_ORACLE_PRICE, "market_id", "the market has no oracle price yet")
    return market, account


def _check_type_rules(
    state: ExchangeState, cmd: PlaceOrder, market: Market, otype: OrderType, tif: TimeInForce
) -> None:
    """The type / flag / expiry rules of ``check_order_fields`` (every order but a plain limit one)."""
    if otype in MARKET_LIKE_TYPES and tif is TimeInForce.GTT:
        raise reject(RejectCode.INVALID_FIELD, "time_in_force", f"{otype.value} orders must be IOC or FOK")
    if cmd.post_only and (tif is not TimeInForce.GTT or otype not in _LIMIT_LIKE_TYPES):
        raise reject(RejectCode.INVALID_FIELD, "post_only", "only resting (GTT) limit orders can be post-only")
    if cmd.expires_at_ns is not None and cmd.expires_at_ns <= state.time_ns:
        raise reject(RejectCode.EXPIRED, "expires_at_ns", "the expiry is not in the future")
    if otype is OrderType.TRAILING_STOP:
        if cmd.trailing_ppm is None or not 0 < cmd.trailing_ppm < PPM:
            raise reject(RejectCode.INVALID_FIELD, "trailing_ppm", "a trailing stop needs 0 < trailing percent < 100%")
    elif cmd.trailing_ppm is not None:
        raise reject(RejectCode.INVALID_FIELD, "trailing_ppm", "only trailing stops take a trailing percent")
    if otype in CONDITIONAL_TYPES and otype is not OrderType.TRAILING_STOP:
        tp = cmd.trigger_price
        if tp is None or tp <= 0:
            raise reject(RejectCode.INVALID_FIELD, "trigger_price", f"{otype.value} orders need a positive trigger price")
        if tp % market.tick_size:
            raise reject(RejectCode.TICK_SIZE, "trigger_price", f"must be a multiple of the tick size {market.tick_size}")
    elif cmd.trigger_price is not None:
        raise reject(RejectCode.INVALID_FIELD, "trigger_price", f"{otype.value} orders take no trigger price")


def check_reduce_only(account: Account, market_id: str, side: int) -> None:
    """A reduce-only order needs a position on the other side to reduce."""
    if account.size(market_id) * side >= 0:
        raise reject(RejectCode.REDUCE_ONLY_WOULD_INCREASE, "reduce_only", "there is no opposite position to reduce")


def check_post_only(state: ExchangeState, market_id: str, side: int, price: int) -> None:
    book = state.books[market_id]
    best = book.best_ask() if side > 0 else book.best_bid()
    if best is not None and (price >= best if side > 0 else price <= best):
        raise reject(RejectCode.POST_ONLY_WOULD_CROSS, "post_only", f"the order would take liquidity at {best}")


def check_order_margin(
    state: ExchangeState, account: Account, market: Market, side: int, size: int, price: int
) -> None:
    """The order-margin rule of the module docstring (also enforces the maximum position size).

    Runs for every order that adds risk, so it is written flat: no helper calls on the common path
    (one market, current funding), the same arithmetic as ``worst_requirement`` otherwise.
    """
    mid = market.market_id
    open_sizes = account.open_sizes.get(mid)
    pos = account.positions.get(mid)
    s = pos.size if pos is not None else 0
    if open_sizes is None:
        long_worst, short_worst = s, -s
    else:
        long_worst, short_worst = s + open_sizes[0], open_sizes[1] - s
    # exposure = max(|long_worst|, |short_worst|) = max(long_worst, short_worst): one of them is >= 0
    # and each is >= minus the other (long_worst + short_worst = buy + sell >= 0).
    old_exposure = long_worst if long_worst > short_worst else short_worst
    if side > 0:
        long_worst += size
    else:
        short_worst += size
    new_exposure = long_worst if long_worst > short_worst else short_worst
    if new_exposure <= old_exposure:
        return
    if state.time_ns - state.oracle_times_ns[mid] > market.oracle_max_age_ns:  # degraded (core/oracle.py)
        raise reject(
            RejectCode.MARKET_DEGRADED, "market_id",
            f"the oracle price of {mid} is stale: orders that add risk are refused until a fresh tick",
        )
    if new_exposure > market.max_position_size:
        raise reject(
            RejectCode.MAX_POSITION_SIZE, "size",
            f"the position could reach {new_exposure}, above the maximum {market.max_position_size}",
        )
    prices = state.oracle_prices
    oracle = prices[mid]
    r = market.resolution
    imf = (
        market.initial_margin_ppm
        if new_exposure <= market.baseline_position_size
        else market.initial_margin_fraction_ppm(new_exposure)
    )
    required = -((-new_exposure * oracle * imf) // (r * PPM))
    equity = account.collateral
    positions = account.positions
    if positions:
        indices = state.funding_indices
        owed = 0  # unsettled funding, as funding.unsettled_funding computes it
        for other_id, other in positions.items():
            delta_index = indices[other_id] - other.funding_index
            if delta_index:
                owed -= delta_index * other.size
            if other_id == mid:
                equity += other.size * oracle // r
            else:
                m = state.markets[other_id]
                p = prices[other_id]
                equity += other.size * p // m.resolution
                required += worst_requirement(account, m, other.size, p)
        if owed:
            equity += owed // FUNDING_INDEX_ONE
    if len(account.open_sizes) > 1:
        for other_id in account.open_sizes:
            if other_id != mid and other_id not in positions:
                required += worst_requirement(account, state.markets[other_id], 0, prices[other_id])
    adverse = side * (price - oracle)
    loss_at_limit = -((-adverse * size) // r) if adverse > 0 else 0
    fee = -((-size * price * market.taker_fee_ppm) // (r * PPM))
    if equity - loss_at_limit - fee < required:
        raise reject(
            RejectCode.INSUFFICIENT_MARGIN, "size",
            f"needs {required} of initial margin; equity {equity} less {loss_at_limit} at the limit price "
            f"and {fee} of fees leaves {equity - loss_at_limit - fee}",
        )


def worst_requirement(account: Account, market: Market, size: int, price: int) -> int:
    """Initial requirement at the worst exposure the account's resting orders allow in ``market``."""
    open_sizes = account.open_sizes.get(market.market_id)
    buy, sell = (open_sizes[0], open_sizes[1]) if open_sizes else (0, 0)
    exposure = max(abs(size + buy), abs(size - sell))
    return ceil_div(exposure * price * market.initial_margin_fraction_ppm(exposure), market.resolution * PPM)


def check_trigger_not_crossed(state: ExchangeState, cmd: PlaceOrder) -> None:
    """A stop or take-profit whose trigger the current price has already reached is refused
    (it would fire at once; send a plain order instead)."""
    if cmd.order_type is OrderType.TRAILING_STOP or cmd.trigger_price is None:
        return
    if cmd.trigger_source is TriggerSource.MARK:
        price = state.mark_price(cmd.market_id)
    else:
        price = state.oracle_prices.get(cmd.market_id)
    if price is None:
        return
    rising = fires_when_rising(cmd.order_type, cmd.side)
    if (price >= cmd.trigger_price) if rising else (price <= cmd.trigger_price):
        raise reject(
            RejectCode.TRIGGER_ALREADY_CROSSED, "trigger_price",
            f"the {cmd.trigger_source.value.lower()} price {price} has already reached it",
        )
