"""The sequencer: applies commands one at a time, in order, and returns the events each produced.

It is the only writer of ``ExchangeState``. Commands are validated completely before anything
changes, so a rejected command leaves the state exactly as it was and yields one rejection event.
Every command (rejected ones too) is appended to the command log; replaying the log on a fresh
sequencer reproduces the state hash (``replay``).

Per command:
1. time: ``timestamp_ns`` must not go backwards; the state's clock moves to it;
2. expiry: orders whose ``expires_at_ns`` has come are canceled (EXPIRED);
3. the command's handler (a dispatch table by type);
4. triggers: conditional orders fired by the new mark/oracle prices are executed, repeatedly, until
   none fires (a cascade is processed in order-id order).

After an oracle price change or a funding tick of a market (before its triggers), every account
holding that market and liquidatable is liquidated (core/liquidation.py), unless the market is stale
or ``auto_liquidate`` is off. Keepers liquidate with ``Liquidate``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

from perpetua.core.accounts import Account
from perpetua.core.book import OrderBook
from perpetua.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    DepositCollateral,
    FundingTick,
    Liquidate,
    OraclePricesTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.errors import CancelReason, RejectCode, RejectedError
from perpetua.core.events import (
    AccountCreated,
    CollateralDeposited,
    CollateralWithdrawn,
    CommandRejected,
    Event,
    FundingPaid,
    FundingPremiumSampled,
    FundingRateUpdated,
    InsuranceFundChanged,
    OraclePriceUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
    OrderTriggered,
)
from perpetua.core.funding import (
    FUNDING_INDEX_BOUND,
    impact_price,
    index_delta,
    interval_rate_ppb,
    premium_ppb,
    settle_market,
)
from perpetua.core.liquidation import (
    FUNDING_ROUNDING,
    apply_keeper_liquidation,
    check_keeper_liquidation,
    liquidate_market,
)
from perpetua.core.markets import ExchangeConfig, Market
from perpetua.core.matching import apply_plan, cancel_resting, match_now, plan_match, retire_order, settle
from perpetua.core.oracle import SignatureVerifier, check_tick
from perpetua.core.orders import (
    CONDITIONAL_TYPES,
    MARKET_LIKE_TYPES,
    Order,
    OrderStatus,
    TimeInForce,
    TriggerSource,
)
from perpetua.core.placement import (
    check_order_fields,
    check_order_margin,
    check_post_only,
    check_reduce_only,
    check_trigger_not_crossed,
    reject,
    worst_requirement,
)
from perpetua.core.risk import account_totals
from perpetua.core.state import ExchangeState
from perpetua.crypto.signatures import verify as verify_signature

_OPEN = OrderStatus.OPEN
_UNTRIGGERED = OrderStatus.UNTRIGGERED
_GTT = TimeInForce.GTT
_FOK = TimeInForce.FOK

Handler = Callable[["Sequencer", Command, list[Event]], None]


class Sequencer:
    """Single-threaded, deterministic command processor over an ``ExchangeState``.

    ``verify`` checks oracle signatures (default: ``perpetua.crypto.signatures.verify``). An edge that
    pre-verifies in a pool passes a verifier answering from its results; any correct verifier gives
    the same answers, so the state and the replay are the same (core/oracle.py).
    """

    def __init__(
        self, config: ExchangeConfig, verify: SignatureVerifier | None = None, keep_log: bool = True
    ) -> None:
        self.state = ExchangeState(config)
        self.keep_log = keep_log
        """Keep every applied command in ``log`` (off where a journal holds them, e.g. the server)."""
        self.log: list[Command] = []
        self.verify: SignatureVerifier = verify_signature if verify is None else verify

    # -- the entry point -------------------------------------------------------------------------

    def apply(self, cmd: Command) -> list[Event]:
        """Apply one command; return its events. Never raises on bad input: it rejects instead."""
        events: list[Event] = []
        if self.keep_log:
            self.log.append(cmd)
        state = self.state
        if cmd.timestamp_ns < state.time_ns:
            self._reject(cmd, RejectedError(RejectCode.TIMESTAMP_REGRESSED, "timestamp_ns",
                                            f"{cmd.timestamp_ns} is before the sequencer time {state.time_ns}"), events)
            return events
        state.time_ns = cmd.timestamp_ns
        expiries = state.expiries
        if expiries and expiries[0][0] <= cmd.timestamp_ns:
            self._expire_orders(events)
        handler = _HANDLERS.get(type(cmd))
        if handler is None:
            events.append(CommandRejected(type(cmd).__name__, RejectCode.INVALID_FIELD, "command", "unknown command"))
            return events
        try:
            handler(self, cmd, events)
        except RejectedError as err:
            self._reject(cmd, err, events)
        return events

    def apply_all(self, cmds: Iterable[Command]) -> list[Event]:
        out: list[Event] = []
        for cmd in cmds:
            out.extend(self.apply(cmd))
        return out

    def state_hash(self) -> str:
        return self.state.state_hash()

    # -- handlers --------------------------------------------------------------------------------

    def _create_account(self, cmd: CreateAccount, events: list[Event]) -> None:
        if cmd.position_id <= 0 or cmd.position_id >= 1 << 64:
            raise reject(RejectCode.INVALID_FIELD, "position_id", "must be in [1, 2^64)")
        if cmd.position_id in self.state.accounts:
            raise reject(RejectCode.ACCOUNT_EXISTS, "position_id", f"account {cmd.position_id} exists")
        if not 0 < cmd.public_key < 1 << 251:
            raise reject(RejectCode.INVALID_FIELD, "public_key", "must be a STARK field element in (0, 2^251)")
        self.state.accounts[cmd.position_id] = Account(cmd.position_id, cmd.public_key)
        events.append(AccountCreated(cmd.position_id, cmd.public_key))

    def _deposit(self, cmd: DepositCollateral, events: list[Event]) -> None:
        acct = self._account(cmd.position_id)
        if cmd.amount <= 0 or cmd.amount >= 1 << 63:
            raise reject(RejectCode.INVALID_FIELD, "amount", "must be in (0, 2^63)")
        acct.collateral += cmd.amount
        acct.net_deposits += cmd.amount
        events.append(CollateralDeposited(acct.position_id, cmd.amount, acct.collateral))

    def _withdraw(self, cmd: WithdrawCollateral, events: list[Event]) -> None:
        """A withdrawal must leave the account able to carry its positions and resting orders at
        initial margin (free collateral after the withdrawal >= 0)."""
        acct = self._account(cmd.position_id)
        if cmd.amount <= 0 or cmd.amount >= 1 << 63:
            raise reject(RejectCode.INVALID_FIELD, "amount", "must be in (0, 2^63)")
        free = self.free_collateral(acct)
        if cmd.amount > free:
            raise reject(RejectCode.INSUFFICIENT_COLLATERAL, "amount", f"exceeds the free collateral {free}")
        settle(self.state, acct, events)  # funding first (free collateral already counted it)
        acct.collateral -= cmd.amount
        acct.net_deposits -= cmd.amount
        events.append(CollateralWithdrawn(acct.position_id, cmd.amount, acct.collateral))

    def _set_oracle_price(self, cmd: SetOraclePrice, events: list[Event]) -> None:
        if cmd.market_id not in self.state.markets:
            raise reject(RejectCode.UNKNOWN_MARKET, "market_id", f"no market {cmd.market_id!r}")
        if not 0 < cmd.price < 1 << 64:
            raise reject(RejectCode.INVALID_FIELD, "price", "must be in (0, 2^64)")
        self._set_price(cmd.market_id, cmd.price, cmd.timestamp_ns, 0, events)
        self._liquidate(cmd.market_id, events)
        self._run_triggers(cmd.market_id, events)

    def _oracle_tick(self, cmd: OraclePricesTick, events: list[Event]) -> None:
        """Signed prices (core/oracle.py): every market's prices are checked before any is set."""
        state = self.state
        accepted = check_tick(
            state.markets, cmd.markets, cmd.timestamp_ns, state.oracle_prices, state.oracle_times_ns, self.verify
        )
        for a in accepted:
            self._set_price(a.market_id, a.price, a.timestamp_ns, a.signatures, events)
        for a in accepted:
            self._liquidate(a.market_id, events)
        for a in accepted:
            if state.triggers[a.market_id].count:
                self._run_triggers(a.market_id, events)

    def _set_price(self, market_id: str, price: int, timestamp_ns: int, signatures: int, events: list[Event]) -> None:
        state = self.state
        state.oracle_prices[market_id] = price
        state.oracle_times_ns[market_id] = timestamp_ns
        funding = state.funding[market_id]
        if not funding.started:  # the first price starts the market's funding clock
            funding.start(state.time_ns)
        events.append(OraclePriceUpdated(market_id, price, timestamp_ns, signatures))

    def _sample_premium(self, cmd: SampleFundingPremium, events: list[Event]) -> None:
        """One premium sample from the impact bid / ask and the index price (core/funding.py)."""
        state = self.state
        market = state.markets.get(cmd.market_id)
        if market is None:
            raise reject(RejectCode.UNKNOWN_MARKET, "market_id", f"no market {cmd.market_id!r}")
        index = state.index_price(cmd.market_id)
        if index is None or state.oracle_stale(cmd.market_id):
            raise reject(RejectCode.MARKET_DEGRADED, "market_id", "no fresh index price to sample against")
        funding = state.funding[cmd.market_id]
        if funding.last_sample_ns and cmd.timestamp_ns - funding.last_sample_ns < market.premium_sample_interval_ns:
            raise reject(RejectCode.PREMIUM_SAMPLE_NOT_DUE, "timestamp_ns",
                         f"the last sample was at {funding.last_sample_ns} ns; the cadence is "
                         f"{market.premium_sample_interval_ns} ns")
        book = state.books[cmd.market_id]
        bid = impact_price(book.bids, market.impact_notional, market.resolution)
        ask = impact_price(book.asks, market.impact_notional, market.resolution)
        premium = premium_ppb(bid, ask, index)
        funding.sample(cmd.timestamp_ns, premium)
        events.append(FundingPremiumSampled(cmd.market_id, cmd.timestamp_ns, premium, bid, ask, index))

    def _funding_tick(self, cmd: FundingTick, events: list[Event]) -> None:
        """Close the funding interval of one market (or of every due market): rate, index, settlement.

        A named market must be due (its interval elapsed) and fresh; with no market named, every due
        and fresh market ticks, in market-id order, and the command is refused if none is.
        """
        state = self.state
        now = cmd.timestamp_ns
        if cmd.market_id is not None:
            market = state.markets.get(cmd.market_id)
            if market is None:
                raise reject(RejectCode.UNKNOWN_MARKET, "market_id", f"no market {cmd.market_id!r}")
            if not self._funding_due(market, now):
                raise reject(RejectCode.FUNDING_NOT_DUE, "timestamp_ns",
                             f"the next funding tick of {cmd.market_id} is not due before "
                             f"{state.funding[cmd.market_id].last_tick_ns + market.funding_interval_ns} ns")
            if state.oracle_stale(cmd.market_id):
                raise reject(RejectCode.MARKET_DEGRADED, "market_id", "the oracle price is stale")
            due = [market]
        else:
            due = [m for mid, m in sorted(state.markets.items()) if not state.oracle_stale(mid) and self._funding_due(m, now)]
            if not due:
                raise reject(RejectCode.FUNDING_NOT_DUE, "timestamp_ns", "no market is due for a funding tick")
        for market in due:
            self._tick_market(market, now, events)
        for market in due:
            self._liquidate(market.market_id, events)

    def _funding_due(self, market: Market, now_ns: int) -> bool:
        funding = self.state.funding[market.market_id]
        return funding.started and now_ns - funding.last_tick_ns >= market.funding_interval_ns

    def _tick_market(self, market: Market, now_ns: int, events: list[Event]) -> None:
        state = self.state
        mid = market.market_id
        funding = state.funding[mid]
        price = state.oracle_prices[mid]
        interval, twap = funding.close_interval(now_ns)
        rate = interval_rate_ppb(market, twap, interval)
        delta = index_delta(rate, price, market.resolution)
        new_index = state.funding_indices[mid] + delta
        assert abs(new_index) < FUNDING_INDEX_BOUND, f"{mid}: funding index out of range"
        funding.rate_ppb = rate
        state.funding_indices[mid] = new_index
        paid, total = settle_market(state.accounts.values(), mid, new_index)
        rounding = -total
        assert rounding >= 0
        if rounding:
            state.insurance_fund.collateral += rounding
        events.append(FundingRateUpdated(mid, now_ns, interval, twap, rate, price, new_index, delta, len(paid), rounding))
        if rounding:
            events.append(InsuranceFundChanged(now_ns, mid, rounding, FUNDING_ROUNDING, 0, state.insurance_fund.collateral))
        events.extend(
            FundingPaid(acct.position_id, mid, now_ns, amount, size, rate, price, acct.collateral)
            for acct, amount, size in paid
        )

    def _place_order(self, cmd: PlaceOrder, events: list[Event]) -> None:
        state = self.state
        market, acct = check_order_fields(state, cmd)
        mid, side, size, price, otype = cmd.market_id, cmd.side, cmd.size, cmd.price, cmd.order_type
        conditional = otype in CONDITIONAL_TYPES
        reduce_only = cmd.reduce_only
        if reduce_only:
            check_reduce_only(acct, mid, side)
        if conditional:
            check_trigger_not_crossed(state, cmd)
        else:
            if cmd.post_only:
                check_post_only(state, mid, side, price)
            if not reduce_only:
                check_order_margin(state, acct, market, side, size, price)
        # Admitted: from here on the order exists.
        oid = state.next_order_id
        state.next_order_id = oid + 1
        pid, client_id = cmd.position_id, cmd.client_id
        order = Order(
            oid, pid, mid, side, otype, cmd.time_in_force, price, size, client_id, cmd.timestamp_ns,
            cmd.expires_at_ns, cmd.post_only, reduce_only, cmd.trigger_price, cmd.trigger_source, cmd.trailing_ppm,
        )
        state.orders[oid] = order
        acct.open_orders[oid] = None
        acct.client_orders[client_id] = oid
        events.append(OrderAccepted(oid, pid, mid, client_id, side, otype, price, size, conditional))
        triggers = state.triggers[mid]
        if conditional:
            order.status = _UNTRIGGERED
            if cmd.trailing_ppm is not None:
                order.trail_reference = self._trigger_price(mid, cmd.trigger_source)
            triggers.add(order)
            state.push_expiry(order)
        else:
            # The common add, a GTT limit order that does not cross, rests at once: what _execute and
            # _rest would do, inlined (a new price level goes through BookSide.add).
            book = state.books[mid]
            if side > 0:
                best = book.asks.best
                rests = best is None or best > price
            else:
                best = book.bids.best
                rests = best is None or best < price
            if rests and cmd.time_in_force is _GTT and otype not in MARKET_LIKE_TYPES:
                book_side = book.bids if side > 0 else book.asks
                level = book_side.levels.get(price)
                if level is None:
                    book_side.add(order)
                else:
                    level.orders.append(order)
                    level.size += size
                    level.live += 1
                open_sizes = acct.open_sizes
                sizes = open_sizes.get(mid)
                if sizes is None:
                    sizes = open_sizes[mid] = [0, 0]
                sizes[0 if side > 0 else 1] += size
                if cmd.expires_at_ns is not None:
                    state.push_expiry(order)
            else:
                self._execute(order, market, events)
        if triggers.count:
            self._run_triggers(mid, events)

    def _cancel_order(self, cmd: CancelOrder, events: list[Event]) -> None:
        state = self.state
        order = state.orders.get(cmd.order_id)
        if order is not None and order.account_id == cmd.position_id and order.status is _OPEN:
            cancel_resting(state, order, CancelReason.USER_CANCELED, events)  # the common case first
            if state.triggers[order.market_id].count:
                self._run_triggers(order.market_id, events)
            return
        acct = self._account(cmd.position_id)
        if order is None:
            if 0 < cmd.order_id < state.next_order_id:
                raise reject(RejectCode.ORDER_NOT_OPEN, "order_id", f"order {cmd.order_id} is already filled or canceled")
            raise reject(RejectCode.UNKNOWN_ORDER, "order_id", f"no order {cmd.order_id}")
        if order.account_id != acct.position_id:
            raise reject(RejectCode.NOT_ORDER_OWNER, "order_id", f"order {cmd.order_id} belongs to another account")
        self._cancel(order, CancelReason.USER_CANCELED, events)
        if state.triggers[order.market_id].count:
            self._run_triggers(order.market_id, events)

    def _cancel_all(self, cmd: CancelAllOrders, events: list[Event]) -> None:
        acct = self._account(cmd.position_id)
        if cmd.market_id is not None and cmd.market_id not in self.state.markets:
            raise reject(RejectCode.UNKNOWN_MARKET, "market_id", f"no market {cmd.market_id!r}")
        orders = self.state.orders
        doomed = [orders[oid] for oid in acct.open_orders if cmd.market_id in (None, orders[oid].market_id)]
        for order in doomed:
            self._cancel(order, CancelReason.USER_CANCELED, events)
        for mid in sorted({o.market_id for o in doomed}):
            if self.state.triggers[mid].count:
                self._run_triggers(mid, events)

    def _liquidate_cmd(self, cmd: Liquidate, events: list[Event]) -> None:
        """A keeper's liquidation (core/liquidation.py): every rule is checked before anything moves."""
        fill = check_keeper_liquidation(self.state, cmd, self.verify)
        apply_keeper_liquidation(self.state, cmd, fill, events)
        self._run_all_triggers(events)

    def _liquidate(self, market_id: str, events: list[Event]) -> None:
        """Liquidate the market's liquidatable accounts (after its price or funding index moved). The
        books liquidations traded on may fire conditional orders, in any market."""
        if self.state.config.auto_liquidate and liquidate_market(self.state, market_id, events):
            self._run_all_triggers(events)

    def _run_all_triggers(self, events: list[Event]) -> None:
        for mid, index in sorted(self.state.triggers.items()):
            if index.count:
                self._run_triggers(mid, events)

    # -- order execution -------------------------------------------------------------------------

    def _execute(self, order: Order, market: Market, events: list[Event]) -> None:
        """Match an admitted order; rest what is left of a GTT limit order, cancel the rest otherwise."""
        state = self.state
        book = state.books[order.market_id]
        if order.side > 0:
            opposite = book.asks
            best = opposite.best
            crosses = best is not None and best <= order.price
        else:
            opposite = book.bids
            best = opposite.best
            crosses = best is not None and best >= order.price
        tif = order.time_in_force
        if (
            crosses and tif is not _FOK and order.account_id != state.config.fee_position_id
            and order.market_id in state.oracle_prices
        ):
            # The common case in one pass (matching.match_now): the same steps as plan then apply.
            stop_reason = match_now(state, order, market, opposite, events)
            if order.remaining == 0:
                retire_order(state, order, OrderStatus.FILLED)
                return
            if stop_reason is not None:
                self._finish(order, stop_reason, events)
                return
        elif crosses:
            plan = plan_match(state, order, market, opposite)
            if tif is _FOK and plan.filled < order.remaining:
                self._finish(order, CancelReason.FOK_NOT_FILLABLE, events)
                return
            apply_plan(state, order, market, opposite, plan, events)
            if order.remaining == 0:
                retire_order(state, order, OrderStatus.FILLED)
                return
            stop_reason = plan.stop_reason
            if stop_reason is not None:
                self._finish(order, stop_reason, events)
                return
        if tif is _GTT and order.order_type not in MARKET_LIKE_TYPES:
            self._rest(order, book)
        else:
            self._finish(order, CancelReason.FOK_NOT_FILLABLE if tif is _FOK else CancelReason.IOC_REMAINDER, events)

    def _rest(self, order: Order, book: OrderBook) -> None:
        """Put an order in the book and count it in its account's open-order exposure."""
        state = self.state
        open_sizes = state.accounts[order.account_id].open_sizes
        mid = order.market_id
        sizes = open_sizes.get(mid)
        if sizes is None:
            sizes = open_sizes[mid] = [0, 0]
        if order.side > 0:
            book.bids.add(order)
            sizes[0] += order.remaining
        else:
            book.asks.add(order)
            sizes[1] += order.remaining
        if order.expires_at_ns is not None:
            state.push_expiry(order)

    def _finish(self, order: Order, reason: CancelReason, events: list[Event]) -> None:
        """Cancel the unfilled rest of an order that is not resting in the book."""
        retire_order(self.state, order, OrderStatus.CANCELED)
        events.append(OrderCanceled(order.order_id, order.account_id, order.market_id, order.remaining, reason,
                                    order.side, order.price))

    def _cancel(self, order: Order, reason: CancelReason, events: list[Event]) -> None:
        if order.status is _OPEN:
            cancel_resting(self.state, order, reason, events)
        else:
            self.state.triggers[order.market_id].discard(order)
            self._finish(order, reason, events)

    def _expire_orders(self, events: list[Event]) -> None:
        state = self.state
        expiries, now = state.expiries, state.time_ns
        while expiries and expiries[0][0] <= now:
            _, oid = heapq.heappop(expiries)
            order = state.orders.get(oid)
            if order is not None:
                self._cancel(order, CancelReason.EXPIRED, events)

    def _trigger_price(self, market_id: str, source: TriggerSource) -> int | None:
        if source is TriggerSource.MARK:
            return self.state.mark_price(market_id)
        return self.state.oracle_prices.get(market_id)

    def _run_triggers(self, market_id: str, events: list[Event]) -> None:
        """Fire conditional orders until the prices they move fire no more."""
        state = self.state
        index = state.triggers[market_id]
        market = state.markets[market_id]
        while index.count:
            prices = {s: self._trigger_price(market_id, s) for s in TriggerSource}
            fired = index.pop_fired(prices, state.orders)
            if not fired:
                return
            for order in fired:
                if order.status is not _UNTRIGGERED:
                    continue
                observed = prices[order.trigger_source]
                assert observed is not None
                events.append(OrderTriggered(order.order_id, market_id, observed))
                order.status = _OPEN
                acct = state.accounts[order.account_id]
                try:
                    if order.reduce_only:
                        check_reduce_only(acct, market_id, order.side)
                    else:
                        check_order_margin(state, acct, market, order.side, order.remaining, order.price)
                    if order.post_only:
                        check_post_only(state, market_id, order.side, order.price)
                except RejectedError:
                    self._finish(order, CancelReason.REJECTED_ON_TRIGGER, events)
                    continue
                self._execute(order, market, events)

    # -- queries ---------------------------------------------------------------------------------

    def free_collateral(self, acct: Account) -> int:
        """Equity less the initial requirement of the worst case of positions and resting orders."""
        state = self.state
        equity, _, _ = account_totals(acct, state.markets, state.oracle_prices, state.funding_indices)
        required = 0
        for mid in sorted(set(acct.positions) | set(acct.open_sizes)):
            required += worst_requirement(acct, state.markets[mid], acct.size(mid), state.oracle_prices[mid])
        return equity - required

    # -- helpers ---------------------------------------------------------------------------------

    def _account(self, position_id: int) -> Account:
        acct = self.state.accounts.get(position_id)
        if acct is None:
            raise reject(RejectCode.UNKNOWN_ACCOUNT, "position_id", f"no account {position_id}")
        return acct

    def _reject(self, cmd: Command, err: RejectedError, events: list[Event]) -> None:
        if isinstance(cmd, PlaceOrder):
            events.append(OrderRejected(cmd.position_id, cmd.market_id, cmd.client_id, err.code, err.field, err.message))
        else:
            events.append(CommandRejected(type(cmd).__name__, err.code, err.field, err.message))


_HANDLERS: dict[type, Handler] = {
    CreateAccount: Sequencer._create_account,  # type: ignore[dict-item]
    DepositCollateral: Sequencer._deposit,  # type: ignore[dict-item]
    WithdrawCollateral: Sequencer._withdraw,  # type: ignore[dict-item]
    SetOraclePrice: Sequencer._set_oracle_price,  # type: ignore[dict-item]
    OraclePricesTick: Sequencer._oracle_tick,  # type: ignore[dict-item]
    SampleFundingPremium: Sequencer._sample_premium,  # type: ignore[dict-item]
    FundingTick: Sequencer._funding_tick,  # type: ignore[dict-item]
    PlaceOrder: Sequencer._place_order,  # type: ignore[dict-item]
    CancelOrder: Sequencer._cancel_order,  # type: ignore[dict-item]
    CancelAllOrders: Sequencer._cancel_all,  # type: ignore[dict-item]
    Liquidate: Sequencer._liquidate_cmd,  # type: ignore[dict-item]
}


def replay(config: ExchangeConfig, commands: Iterable[Command], verify: SignatureVerifier | None = None) -> Sequencer:
    """A fresh sequencer with ``commands`` applied: the state the log describes."""
    seq = Sequencer(config, verify)
    for cmd in commands:
        seq.apply(cmd)
    return seq
