"""Historical playback: recorded market data replayed through the real sequencer, with a strategy.

There is no second, simplified simulator: every order (background liquidity, the recorded trade flow,
the strategy's) is a ``PlaceOrder`` through ``Sequencer.apply``, so matching, fees, margin checks and
funding settlement are exactly the live exchange's.

How each kind of recorded event drives the exchange (documented models):

- ``Bar``: the oracle walks the candle's path (open, nearer extreme, other extreme, close). Between
  two points the market traded through every price in between: a sweep (an IOC from the tape
  account to the new price) takes whatever rests on the way, the strategy's limit orders included.
  With no recorded book, background makers (``CandleMakers``) then requote a ladder around the new
  price: ``levels`` per side, ``spread_bps`` apart, each level's size a fixed fraction of the bar's
  traded volume (so liquidity thins in quiet minutes), never below the minimum order size. New maker
  quotes queue behind strategy orders already resting at the same price.
- ``BookSnapshot`` / ``BookDelta``: a replicator account mirrors the recorded book level by level
  (``BookReplicator``). A level that grows gets a new order at the back of its queue; a level that
  shrinks loses size from the back (the usual, slightly optimistic assumption for whoever queues
  there). Strategy orders therefore wait behind the recorded size that was there before them.
- ``Trade``: a tape account sends an IOC order of the recorded size and side at the recorded price
  (it takes liquidity the way the recorded aggressor did). With no oracle feed in the data, the
  oracle follows the traded price.
- Funding is the exchange's own: at each price point the playback sends ``SampleFundingPremium`` and
  ``FundingTick`` when the market's cadence says they are due (premium from the replayed book's
  impact prices against the index), and the strategy sees each payment (``on_funding``). Recorded
  ``FundingRate`` events are passed to ``on_funding_rate`` for comparison; they do not move money.

Deterministic: the same events, settings and strategy give the same results, byte for byte.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from perpetua.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
)
from perpetua.core.events import (
    AccountLiquidated,
    Event,
    FundingPaid,
    LiquidationFilled,
    LossSocialized,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    PositionDeleveraged,
)
from perpetua.core.markets import ExchangeConfig, Market
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM
from perpetua.core.risk import MarginSummary, liquidation_price, margin_summary
from perpetua.core.sequencer import Sequencer
from perpetua.core.state import MarketPriceStatus
from perpetua.sim.ledger import Ledger
from perpetua.sim.marketdata import Bar, BookDelta, BookSnapshot, FundingRate, MarketEvent, Trade

STRATEGY_ACCOUNT = 1000
MAKER_ACCOUNT = 900
REPLICATOR_ACCOUNT = 901
TAPE_ACCOUNT = 902
_BIG_COLLATERAL = 10**18  # background participants never run out of margin


class Strategy:
    """Override the hooks you need. The same strategy runs in a backtest and (through the API) live."""

    def on_start(self, ctx: StrategyContext) -> None:
        """Before the first event."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """After a candle has played out (the oracle is at its close)."""

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> None:
        """After a recorded trade has been sent to the book."""

    def on_book(self, ctx: StrategyContext, event: BookSnapshot | BookDelta) -> None:
        """After the recorded book changed."""

    def on_fill(self, ctx: StrategyContext, fill: OrderFilled) -> None:
        """One of the strategy's orders filled (maker or taker)."""

    def on_funding(self, ctx: StrategyContext, payment: FundingPaid) -> None:
        """The strategy's account paid (amount < 0) or received funding at a funding tick."""

    def on_funding_rate(self, ctx: StrategyContext, rate: FundingRate) -> None:
        """A recorded funding rate was published (information only)."""


@dataclass(slots=True)
class _ClientOrder:
    client_id: str
    order_id: int | None


class StrategyContext:
    """What a strategy may do and see: orders on its own account, and queries."""

    def __init__(self, playback: Playback) -> None:
        self._pb = playback
        self._seq = 0
        self._orders: dict[str, _ClientOrder] = {}
        self.rejections: list[OrderRejected] = []

    # -- orders ----------------------------------------------------------------------------------

    def place(
        self,
        side: int,
        size: int,
        price: int,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTT,
        *,
        post_only: bool = False,
        reduce_only: bool = False,
        trigger_price: int | None = None,
        trailing_ppm: int | None = None,
    ) -> str:
        """Send an order; returns its client id (see ``rejections`` for refused ones)."""
        self._seq += 1
        cid = f"s{self._seq}"
        pb = self._pb
        cmd = PlaceOrder(
            pb.now(), STRATEGY_ACCOUNT, pb.market.market_id, side, order_type, time_in_force, size, price, cid,
            post_only=post_only, reduce_only=reduce_only, trigger_price=trigger_price, trailing_ppm=trailing_ppm,
        )
        self._orders[cid] = _ClientOrder(cid, None)
        pb.submit(cmd)
        return cid

    def cancel(self, client_id: str) -> None:
        order = self._orders.get(client_id)
        if order is not None and order.order_id is not None:
            self._pb.submit(CancelOrder(self._pb.now(), STRATEGY_ACCOUNT, order.order_id))

    def cancel_all(self) -> None:
        self._pb.submit(CancelAllOrders(self._pb.now(), STRATEGY_ACCOUNT, self._pb.market.market_id))

    def amend(self, client_id: str, size: int, price: int) -> str:
        """Cancel and replace (loses queue priority, as on the exchange)."""
        live = self._pb.sequencer.state.orders
        order = self._orders.get(client_id)
        current = live.get(order.order_id) if order is not None and order.order_id is not None else None
        self.cancel(client_id)
        if current is None:
            return client_id
        return self.place(current.side, size, price, current.order_type, current.time_in_force,
                          post_only=current.post_only, reduce_only=current.reduce_only)

    def _accepted(self, client_id: str, order_id: int) -> None:
        if client_id in self._orders:
            self._orders[client_id].order_id = order_id

    # -- queries ---------------------------------------------------------------------------------

    @property
    def time_ns(self) -> int:
        return self._pb.clock_ns

    @property
    def market(self) -> Market:
        return self._pb.market

    def position(self) -> int:
        return self._pb.sequencer.state.accounts[STRATEGY_ACCOUNT].size(self._pb.market.market_id)

    def account(self) -> MarginSummary:
        s = self._pb.sequencer.state
        return margin_summary(s.accounts[STRATEGY_ACCOUNT], s.markets, s.oracle_prices, s.funding_indices)

    def liquidation_price(self) -> int | None:
        s = self._pb.sequencer.state
        return liquidation_price(s.accounts[STRATEGY_ACCOUNT], self._pb.market.market_id, s.markets,
                                 s.oracle_prices, s.funding_indices)

    def price_status(self) -> MarketPriceStatus:
        """Oracle, index and mark prices, staleness, the current premium and the next funding time."""
        return self._pb.sequencer.state.price_status(self._pb.market.market_id)

    def oracle_price(self) -> int:
        return self._pb.sequencer.state.oracle_prices[self._pb.market.market_id]

    def best_bid(self) -> int | None:
        return self._pb.sequencer.state.books[self._pb.market.market_id].best_bid()

    def best_ask(self) -> int | None:
        return self._pb.sequencer.state.books[self._pb.market.market_id].best_ask()

    def open_order_ids(self) -> list[int]:
        return list(self._pb.sequencer.state.accounts[STRATEGY_ACCOUNT].open_orders)


@dataclass(frozen=True, slots=True)
class CandleMakers:
    """Background liquidity from candles: a ladder around each oracle price."""

    levels: int = 2
    spread_bps: int = 2
    """Distance of the first level from the oracle; level k sits k times as far."""
    volume_fraction_ppm: int = 20_000
    """Each level's size as a fraction of the bar's volume (2%)."""


@dataclass(slots=True)
class PlaybackSettings:
    market_id: str = "BTC-USD"
    strategy_collateral: int = 100_000 * COLLATERAL_RESOLUTION
    makers: CandleMakers = field(default_factory=CandleMakers)
    sample_every_ns: int = 60 * 10**9
    """How often the strategy account is sampled into the results (data time)."""
    speed: float = 0.0
    """Pacing: data seconds per wall second (1 = real time); 0 replays as fast as possible."""


@dataclass(slots=True)
class PlaybackResult:
    samples: list[dict[str, int | None]]
    """One row per sample: time, oracle, position, average entry, collateral, equity, realised and
    unrealised PnL, fees, funding (net, to date), margin ratio (ppm), liquidation price."""
    fills: list[OrderFilled]
    fees_paid: int
    funding: list[FundingPaid]
    events: int
    commands: int
    state_hash: str
    trades: list[dict[str, int | str]] = field(default_factory=list)
    """Every change of the strategy's position (``Ledger.trades``): entries, exits, flips, and the
    ones liquidation and deleveraging made."""
    liquidations: list[dict[str, int | str]] = field(default_factory=list)
    """Every liquidation step, liquidation fill, deleverage (either side) and socialized loss that
    touched the strategy's account, one row each."""
    funding_times: list[int] = field(default_factory=list)
    """Data time of each ``funding`` payment."""

    def summary(self) -> dict[str, int | str | None]:
        start = self.samples[0]["equity"] if self.samples else None
        end = self.samples[-1]["equity"] if self.samples else None
        last = self.samples[-1] if self.samples else {}
        peak, max_drawdown = None, 0
        for row in self.samples:
            eq = row["equity"]
            assert eq is not None
            peak = eq if peak is None or eq > peak else peak
            max_drawdown = max(max_drawdown, peak - eq)
        return {
            "start_equity": start,
            "end_equity": end,
            "pnl": None if start is None or end is None else end - start,
            "realised_pnl": last.get("realised_pnl"),
            "unrealised_pnl": last.get("unrealised_pnl"),
            "max_drawdown": max_drawdown,
            "fees_paid": self.fees_paid,
            "funding_paid": sum(-p.amount for p in self.funding if p.amount < 0),
            "funding_received": sum(p.amount for p in self.funding if p.amount > 0),
            "funding_net": sum(p.amount for p in self.funding),
            "liquidation_penalties": last.get("liquidation_penalties"),
            "fills": len(self.fills),
            "liquidations": sum(1 for r in self.liquidations if r["kind"] == "liquidated"),
            "deleverages": sum(1 for r in self.liquidations if str(r["kind"]).startswith("delever")),
            "market_events": self.events,
            "commands": self.commands,
            "state_hash": self.state_hash,
        }

    def to_csv(self) -> str:
        return _csv(self.samples)

    def write_report(self, path: str | Path, title: str = "Backtest") -> Path:
        """One self-contained HTML file (Plotly inlined): price with entries, exits and liquidations,
        equity and PnL, position, funding, margin ratio; the summary and every liquidation as rows."""
        from perpetua.sim.report import backtest_report

        path = Path(path)
        path.write_text(backtest_report(self, title))
        return path

    def write(self, path: str | Path) -> list[Path]:
        """Samples as CSV, or Parquet when the name ends in ``.parquet`` (needs pyarrow); the trades
        and liquidations beside them (``NAME.trades.csv``, ``NAME.liquidations.csv``, same format)."""
        path = Path(path)
        written = []
        for rows, name in ((self.samples, path), (self.trades, path.with_suffix(".trades" + path.suffix)),
                           (self.liquidations, path.with_suffix(".liquidations" + path.suffix))):
            if name is not path and not rows:
                continue
            if path.suffix == ".parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.Table.from_pylist(rows), name)
            else:
                name.write_text(_csv(rows))
            written.append(name)
        return written


def _csv(rows: list[dict[str, int | None]] | list[dict[str, int | str]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


class Playback:
    """Replays market events through a fresh sequencer with one strategy account."""

    def __init__(self, config: ExchangeConfig, strategy: Strategy, settings: PlaybackSettings | None = None) -> None:
        self.settings = settings or PlaybackSettings()
        self.config = config
        self.market: Market = config.markets[self.settings.market_id]
        self.sequencer = Sequencer(config)
        self.strategy = strategy
        self.ctx = StrategyContext(self)
        self.clock_ns = 0
        self._t = 0
        self._fills: list[OrderFilled] = []
        self._funding: list[FundingPaid] = []
        self._funding_times: list[int] = []
        self._fees = 0
        self.ledger = Ledger(self.market.resolution)
        self._samples: list[dict[str, int | None]] = []
        self._next_sample = 0
        self._book: dict[int, dict[int, list[int]]] = {1: {}, -1: {}}
        """Replicator: side -> price -> its order ids at that level (oldest first)."""
        self._maker = MAKER_ACCOUNT
        self._tape = TAPE_ACCOUNT
        self._next_background_id = 100_000
        """Background accounts that take over from a maker or tape account near its position limit."""
        self._started = False

    # -- plumbing --------------------------------------------------------------------------------

    def now(self) -> int:
        """A fresh command timestamp: data time, made strictly increasing."""
        self._t = max(self._t + 1, self.clock_ns)
        return self._t

    def submit(self, cmd: Command) -> list[Event]:
        events = self.sequencer.apply(cmd)
        me = STRATEGY_ACCOUNT
        for e in events:
            if isinstance(e, OrderAccepted) and e.position_id == me:
                self.ctx._accepted(e.client_id, e.order_id)
            elif isinstance(e, OrderFilled):
                if me in (e.taker_position_id, e.maker_position_id):
                    taker = e.taker_position_id == me
                    fee = e.taker_fee if taker else e.maker_fee
                    self._fills.append(e)
                    self._fees += fee
                    self.ledger.trade(self.clock_ns, e.taker_side if taker else -e.taker_side, e.size, e.price, fee)
                    self.strategy.on_fill(self.ctx, e)
            elif isinstance(e, OrderRejected) and e.position_id == me:
                self.ctx.rejections.append(e)
            elif isinstance(e, FundingPaid) and e.position_id == me:
                self._funding.append(e)
                self._funding_times.append(self.clock_ns)
                self.ledger.funding(e.amount)
                self.strategy.on_funding(self.ctx, e)
            elif isinstance(e, (AccountLiquidated, LiquidationFilled, PositionDeleveraged, LossSocialized)):
                self._liquidation_event(e)
        return events

    def _liquidation_event(self, e: AccountLiquidated | LiquidationFilled | PositionDeleveraged | LossSocialized) -> None:
        """Rows for every liquidation/deleverage touching the strategy's account; position changes the
        order flow did not already report (keeper fills, deleveraging) go to the ledger."""
        me, t, led = STRATEGY_ACCOUNT, self.clock_ns, self.ledger
        row: dict[str, int | str] | None = None
        if isinstance(e, AccountLiquidated) and e.position_id == me:
            row = {"kind": "liquidated", "size": e.deleveraged_size, "price": 0, "amount": e.closed_notional,
                   "penalty": e.penalty, "counterparty": e.liquidator_position_id,
                   "equity_before": e.equity_before, "equity_after": e.equity_after}
        elif isinstance(e, LiquidationFilled) and me in (e.liquidated_position_id, e.counterparty_position_id):
            ours = e.liquidated_position_id == me
            keeper = e.maker_order_id == 0  # a keeper's Liquidate: no OrderFilled reported this fill
            side = e.liquidated_side if ours else -e.liquidated_side
            if keeper:
                led.trade(t, side, e.size, e.price, source="liquidation")
            if ours:
                led.penalties += e.penalty if keeper else e.fund_delta
            row = {"kind": "liquidation_fill" if ours else "liquidation_counterparty", "size": side * e.size,
                   "price": e.price, "amount": e.size * e.price // self.market.resolution,
                   "penalty": e.penalty if ours else -e.keeper_reward,
                   "counterparty": e.counterparty_position_id if ours else e.liquidated_position_id,
                   "equity_before": 0, "equity_after": 0}
        elif isinstance(e, PositionDeleveraged) and me in (e.deleveraged_position_id, e.deleverager_position_id):
            ours = e.deleveraged_position_id == me
            side = e.deleveraged_side if ours else -e.deleveraged_side
            paid = -e.collateral_amount if ours else e.collateral_amount
            led.trade(t, side, e.size, e.price, source="deleverage", cash=paid)
            row = {"kind": "deleveraged" if ours else "deleverager", "size": side * e.size, "price": e.price,
                   "amount": -paid, "penalty": 0,
                   "counterparty": e.deleverager_position_id if ours else e.deleveraged_position_id,
                   "equity_before": 0, "equity_after": 0}
        elif isinstance(e, LossSocialized) and e.position_id != me and self.ledger.position:
            row = {"kind": "loss_socialized", "size": 0, "price": 0, "amount": e.amount, "penalty": 0,
                   "counterparty": e.position_id, "equity_before": 0, "equity_after": 0}
        if row is not None:
            led.liquidation({"time_ns": t, **row})

    def _setup(self, first_ns: int) -> None:
        self.clock_ns = first_ns
        for pid, amount in (
            (STRATEGY_ACCOUNT, self.settings.strategy_collateral),
            (MAKER_ACCOUNT, _BIG_COLLATERAL),
            (REPLICATOR_ACCOUNT, _BIG_COLLATERAL),
            (TAPE_ACCOUNT, _BIG_COLLATERAL),
        ):
            self.submit(CreateAccount(self.now(), pid, 0x5EED + pid))
            self.submit(DepositCollateral(self.now(), pid, amount))

    def _set_oracle(self, price: int) -> None:
        tick = self.market.tick_size
        self.submit(SetOraclePrice(self.now(), self.market.market_id, max(tick, price)))
        self._run_funding()

    def _run_funding(self) -> None:
        """Premium samples and funding ticks, when the market's cadence makes them due."""
        m = self.market
        funding = self.sequencer.state.funding[m.market_id]
        now = self.clock_ns
        if not funding.started:
            return
        if not funding.last_sample_ns or now - funding.last_sample_ns >= m.premium_sample_interval_ns:
            self.submit(SampleFundingPremium(self.now(), m.market_id))
        if now - funding.last_tick_ns >= m.funding_interval_ns:
            self.submit(FundingTick(self.now(), m.market_id))

    def _snap(self, price: int) -> int:
        tick = self.market.tick_size
        return max(tick, (price + tick // 2) // tick * tick)

    def _sample(self) -> None:
        if self.clock_ns < self._next_sample:
            return
        self._next_sample = self.clock_ns + self.settings.sample_every_ns
        s = self.sequencer.state
        acct = s.accounts[STRATEGY_ACCOUNT]
        m = margin_summary(acct, s.markets, s.oracle_prices, s.funding_indices)
        led = self.ledger
        oracle = s.oracle_prices.get(self.market.market_id)
        self._samples.append({
            "time_ns": self.clock_ns,
            "oracle": oracle,
            "position": acct.size(self.market.market_id),
            "average_entry": led.average_entry(),
            "collateral": acct.collateral,
            "equity": m.equity,
            "realised_pnl": led.realised,
            "unrealised_pnl": led.unrealised(oracle),
            "fees": led.fees,
            "funding": led.funding_received - led.funding_paid,
            "liquidation_penalties": led.penalties,
            "margin_ratio_ppm": m.margin_ratio_ppm,
            "liquidation_price": self.ctx.liquidation_price(),
        })

    # -- drivers ---------------------------------------------------------------------------------

    def _play_bar(self, bar: Bar) -> None:
        m, mk = self.market, self.settings.makers
        mid = m.market_id
        path = (bar.open, bar.high, bar.low, bar.close)
        if abs(bar.low - bar.open) < abs(bar.high - bar.open):
            path = (bar.open, bar.low, bar.high, bar.close)
        volume = bar.volume
        if volume is None and bar.quote_volume is not None and bar.close > 0:
            volume = bar.quote_volume * m.resolution // bar.close
        level_size = (volume or 0) * mk.volume_fraction_ppm // PPM // m.step_size * m.step_size
        level_size = max(level_size, m.min_order_size)
        state = self.sequencer.state
        for i, raw in enumerate(path):
            self.clock_ns = bar.timestamp_ns + i * 15 * 10**9
            price = self._snap(raw)
            previous = state.oracle_prices.get(mid)
            self._set_oracle(price)
            if previous is not None and price != previous:
                # The market traded through every price between the two points: a sweep to the new
                # price takes everything resting on the way (the strategy's orders included).
                side = 1 if price > previous else -1
                book = state.books[mid]
                opposite = book.asks if side > 0 else book.bids
                sweep = sum(opposite.levels[p].size for p in opposite.prices_from_best(price))
                sweep = -(-sweep // m.step_size) * m.step_size
                if sweep >= m.min_order_size:
                    self.submit(PlaceOrder(self.now(), self._tape, mid, side, OrderType.LIMIT, TimeInForce.IOC,
                                           sweep, price, f"sw{self._t}"))
            self.submit(CancelAllOrders(self.now(), self._maker, mid))
            for level in range(1, mk.levels + 1):
                step = max(m.tick_size, price * mk.spread_bps * level // 10_000 // m.tick_size * m.tick_size)
                for side in (1, -1):
                    self.submit(PlaceOrder(self.now(), self._maker, mid, side, OrderType.LIMIT, TimeInForce.GTT,
                                           level_size, price - side * step, f"mk{self._t}", post_only=True))
            self._sample()
        self._rotate_full_accounts()
        self.strategy.on_bar(self.ctx, bar)

    def _rotate_full_accounts(self) -> None:
        """Background makers and the tape absorb one-way flow. Before either reaches half the
        market's maximum position (where the order-margin check would refuse its orders and one side
        of the book would vanish), it hands over to a fresh account; the old one keeps its position."""
        mid, limit = self.market.market_id, self.market.max_position_size // 2
        accounts = self.sequencer.state.accounts
        for role in ("_maker", "_tape"):
            pid = getattr(self, role)
            if abs(accounts[pid].size(mid)) <= limit:
                continue
            self._next_background_id += 1
            fresh = self._next_background_id
            if role == "_maker":
                self.submit(CancelAllOrders(self.now(), pid, mid))
            self.submit(CreateAccount(self.now(), fresh, 0x5EED + fresh))
            self.submit(DepositCollateral(self.now(), fresh, _BIG_COLLATERAL))
            setattr(self, role, fresh)

    def _set_level(self, side: int, price: int, size: int) -> None:
        """Mirror one recorded level: grow at the back of the queue, shrink from the back."""
        m = self.market
        size = size // m.step_size * m.step_size
        orders = self.sequencer.state.orders
        ids = [oid for oid in self._book[side].get(price, []) if oid in orders]  # fills removed some
        self._book[side][price] = ids
        current = sum(orders[oid].remaining for oid in ids)
        while current > size and ids:  # shrink from the back
            oid = ids.pop()
            current -= orders[oid].remaining
            self.submit(CancelOrder(self.now(), REPLICATOR_ACCOUNT, oid))
        if size > current:  # grow at the back (also re-adds what a cancel took beyond the shrink)
            for e in self.submit(PlaceOrder(self.now(), REPLICATOR_ACCOUNT, m.market_id, side, OrderType.LIMIT,
                                            TimeInForce.GTT, size - current, price, f"rp{self._t}")):
                if isinstance(e, OrderAccepted) and e.order_id in orders:
                    ids.append(e.order_id)

    def _play_book(self, event: BookSnapshot | BookDelta) -> None:
        self.clock_ns = event.timestamp_ns
        if isinstance(event, BookSnapshot):
            self.submit(CancelAllOrders(self.now(), REPLICATOR_ACCOUNT, self.market.market_id))
            self._book = {1: {}, -1: {}}
            bid, ask = event.bids[0][0] if event.bids else None, event.asks[0][0] if event.asks else None
            if bid is not None and ask is not None:
                self._set_oracle(self._snap((bid + ask) // 2))
            for side, levels in ((1, event.bids), (-1, event.asks)):
                for price, size in levels:
                    self._set_level(side, self._snap(price), size)
        else:
            self._set_level(event.side, self._snap(event.price), event.size)
            self._refresh_oracle_from_book()
        self._sample()
        self.strategy.on_book(self.ctx, event)

    def _refresh_oracle_from_book(self) -> None:
        """With only a book to go by, the oracle follows its mid, at most once a second of data time."""
        state = self.sequencer.state
        mid = self.market.market_id
        last = state.oracle_times_ns.get(mid)
        if last is not None and self.clock_ns - last < 10**9:
            return
        bid, ask = state.books[mid].best_bid(), state.books[mid].best_ask()
        if bid is not None and ask is not None:
            self._set_oracle(self._snap((bid + ask) // 2))

    def _play_trade(self, trade: Trade) -> None:
        m = self.market
        self.clock_ns = trade.timestamp_ns
        price = self._snap(trade.price)
        if self.sequencer.state.oracle_prices.get(m.market_id) != price:
            self._set_oracle(price)
        size = trade.size // m.step_size * m.step_size
        if size >= m.min_order_size and trade.aggressor != 0:
            self.submit(PlaceOrder(self.now(), self._tape, m.market_id, trade.aggressor, OrderType.LIMIT,
                                   TimeInForce.IOC, size, price, f"tp{self._t}"))
        self._sample()
        self.strategy.on_trade(self.ctx, trade)

    def run(self, events: Iterable[MarketEvent], progress: Callable[[int], None] | None = None) -> PlaybackResult:
        """Replay ``events`` (in time order) and return the strategy's results. ``progress`` is called
        with the number of events done every 1,000 events. With ``settings.speed`` > 0 the replay is
        paced to data time / speed (wall clock); the results do not depend on it."""
        n = 0
        speed = self.settings.speed
        wall0 = data0 = 0.0
        for event in events:
            if not self._started:
                self._setup(event.timestamp_ns)
                self._started = True
                self.strategy.on_start(self.ctx)
                wall0, data0 = time.monotonic(), event.timestamp_ns / 1e9
            n += 1
            if speed > 0:
                ahead = (event.timestamp_ns / 1e9 - data0) / speed - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
            if progress is not None and n % 1000 == 0:
                progress(n)
            if isinstance(event, Bar):
                if not event.is_mark:
                    self._play_bar(event)
            elif isinstance(event, (BookSnapshot, BookDelta)):
                self._play_book(event)
            elif isinstance(event, Trade):
                self._play_trade(event)
            elif isinstance(event, FundingRate):
                self.clock_ns = max(self.clock_ns, event.timestamp_ns)
                self.strategy.on_funding_rate(self.ctx, event)
        self._next_sample = 0
        if self._started:
            self._sample()
        if progress is not None:
            progress(n)
        return PlaybackResult(self._samples, self._fills, self._fees, self._funding, n, len(self.sequencer.log),
                              self.sequencer.state_hash(), self.ledger.trades, self.ledger.liquidations,
                              self._funding_times)


__all__ = [
    "CandleMakers",
    "Playback",
    "PlaybackResult",
    "PlaybackSettings",
    "Strategy",
    "StrategyContext",
]
