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
from collections.abc import Iterable
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
from perpetua.core.events import Event, FundingPaid, OrderAccepted, OrderFilled, OrderRejected
from perpetua.core.markets import ExchangeConfig, Market
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, format_units
from perpetua.core.risk import MarginSummary, liquidation_price, margin_summary
from perpetua.core.sequencer import Sequencer
from perpetua.core.state import MarketPriceStatus
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


@dataclass(slots=True)
class PlaybackResult:
    samples: list[dict[str, int | None]]
    """One row per sample: time, oracle, position, collateral, equity, margin ratio (ppm), liquidation price."""
    fills: list[OrderFilled]
    fees_paid: int
    funding: list[FundingPaid]
    events: int
    commands: int
    state_hash: str

    def summary(self) -> dict[str, int | str | None]:
        start = self.samples[0]["equity"] if self.samples else None
        end = self.samples[-1]["equity"] if self.samples else None
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
            "max_drawdown": max_drawdown,
            "fees_paid": self.fees_paid,
            "funding_received": sum(p.amount for p in self.funding),
            "fills": len(self.fills),
            "market_events": self.events,
            "commands": self.commands,
            "state_hash": self.state_hash,
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        if self.samples:
            writer = csv.DictWriter(out, fieldnames=list(self.samples[0]))
            writer.writeheader()
            writer.writerows(self.samples)
        return out.getvalue()

    def write_report(self, path: str | Path, title: str = "Backtest") -> Path:
        """An offline HTML report: equity, position and margin ratio over time, and the summary."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        t = [row["time_ns"] for row in self.samples]
        from datetime import UTC, datetime

        when = [datetime.fromtimestamp(int(x or 0) / 1e9, UTC) for x in t]
        usd = COLLATERAL_RESOLUTION

        def series(key: str, scale: float = 1.0) -> list[float | None]:
            return [None if row[key] is None else int(row[key] or 0) / scale for row in self.samples]

        fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                            subplot_titles=("Equity (USDC) and oracle price", "Position", "Margin ratio (%)"),
                            specs=[[{"secondary_y": True}], [{}], [{}]])
        fig.add_trace(go.Scatter(x=when, y=series("equity", usd), name="equity"), row=1, col=1)
        fig.add_trace(go.Scatter(x=when, y=series("oracle", usd), name="oracle", line={"dash": "dot"}),
                      row=1, col=1, secondary_y=True)
        fig.add_trace(go.Scatter(x=when, y=series("position"), name="position (quantums)"), row=2, col=1)
        fig.add_trace(go.Scatter(x=when, y=series("margin_ratio_ppm", PPM / 100), name="margin ratio %"), row=3, col=1)
        fig.update_layout(height=800, title=title)
        money = {"start_equity", "end_equity", "pnl", "max_drawdown", "fees_paid", "funding_received"}
        summary = "".join(
            f"<tr><td>{k}</td><td>{format_units(v, usd) + ' USDC' if k in money and isinstance(v, int) else v}</td></tr>"
            for k, v in self.summary().items()
        )
        path = Path(path)
        path.write_text(
            "<!doctype html><html><head><meta charset='utf-8'><title>" + title + "</title></head>"
            "<body style='font-family:sans-serif'><h1>" + title + "</h1><table>" + summary + "</table>"
            + fig.to_html(full_html=False, include_plotlyjs="inline") + "</body></html>"
        )
        return path

    def write(self, path: str | Path) -> None:
        """Samples as CSV, or Parquet when the name ends in ``.parquet`` (needs pyarrow)."""
        path = Path(path)
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(self.samples), path)
        else:
            path.write_text(self.to_csv())


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
        self._fees = 0
        self._samples: list[dict[str, int | None]] = []
        self._next_sample = 0
        self._book: dict[int, dict[int, list[int]]] = {1: {}, -1: {}}
        """Replicator: side -> price -> its order ids at that level (oldest first)."""
        self._started = False

    # -- plumbing --------------------------------------------------------------------------------

    def now(self) -> int:
        """A fresh command timestamp: data time, made strictly increasing."""
        self._t = max(self._t + 1, self.clock_ns)
        return self._t

    def submit(self, cmd: Command) -> list[Event]:
        events = self.sequencer.apply(cmd)
        for e in events:
            if isinstance(e, OrderAccepted) and e.position_id == STRATEGY_ACCOUNT:
                self.ctx._accepted(e.client_id, e.order_id)
            elif isinstance(e, OrderFilled):
                if STRATEGY_ACCOUNT in (e.taker_position_id, e.maker_position_id):
                    self._fills.append(e)
                    self._fees += e.taker_fee if e.taker_position_id == STRATEGY_ACCOUNT else e.maker_fee
                    self.strategy.on_fill(self.ctx, e)
            elif isinstance(e, OrderRejected) and e.position_id == STRATEGY_ACCOUNT:
                self.ctx.rejections.append(e)
            elif isinstance(e, FundingPaid) and e.position_id == STRATEGY_ACCOUNT:
                self._funding.append(e)
                self.strategy.on_funding(self.ctx, e)
        return events

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
        self._samples.append({
            "time_ns": self.clock_ns,
            "oracle": s.oracle_prices.get(self.market.market_id),
            "position": acct.size(self.market.market_id),
            "collateral": acct.collateral,
            "equity": m.equity,
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
                    self.submit(PlaceOrder(self.now(), TAPE_ACCOUNT, mid, side, OrderType.LIMIT, TimeInForce.IOC,
                                           sweep, price, f"sw{self._t}"))
            self.submit(CancelAllOrders(self.now(), MAKER_ACCOUNT, mid))
            for level in range(1, mk.levels + 1):
                step = max(m.tick_size, price * mk.spread_bps * level // 10_000 // m.tick_size * m.tick_size)
                for side in (1, -1):
                    self.submit(PlaceOrder(self.now(), MAKER_ACCOUNT, mid, side, OrderType.LIMIT, TimeInForce.GTT,
                                           level_size, price - side * step, f"mk{self._t}", post_only=True))
            self._sample()
        self.strategy.on_bar(self.ctx, bar)

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
            self.submit(PlaceOrder(self.now(), TAPE_ACCOUNT, m.market_id, trade.aggressor, OrderType.LIMIT,
                                   TimeInForce.IOC, size, price, f"tp{self._t}"))
        self._sample()
        self.strategy.on_trade(self.ctx, trade)

    def run(self, events: Iterable[MarketEvent]) -> PlaybackResult:
        """Replay ``events`` (in time order) and return the strategy's results."""
        n = 0
        for event in events:
            if not self._started:
                self._setup(event.timestamp_ns)
                self._started = True
                self.strategy.on_start(self.ctx)
            n += 1
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
        return PlaybackResult(self._samples, self._fills, self._fees, self._funding, n, len(self.sequencer.log),
                              self.sequencer.state_hash())


__all__ = [
    "CandleMakers",
    "Playback",
    "PlaybackResult",
    "PlaybackSettings",
    "Strategy",
    "StrategyContext",
]
