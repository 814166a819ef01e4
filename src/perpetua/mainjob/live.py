"""The live market inside the API process: demo participants and the signed oracle.

Every command goes through ``Exchange.submit`` (the one serial exchange: stamped with the edge clock,
applied, journaled, published on the WebSocket), exactly as API orders do.

Time: the exchange stamps commands with the wall clock, so signed oracle prices carry wall-clock
seconds (one tick per second at most: a tick must be newer than the last), and the funding cadence
(run by the API server's funding clock) is compressed by the replay speed (``market_timings``) so
that funding happens on screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perpetua.api.exchange import Exchange
from perpetua.core.commands import (
    Command,
    CreateAccount,
    DepositCollateral,
    MarketOraclePrices,
    OraclePricesTick,
)
from perpetua.core.events import Event, FundingPaid, FundingRateUpdated, OrderFilled
from perpetua.core.markets import ExchangeConfig, Market, dev_oracle_keys
from perpetua.core.oracle import sign_market_prices
from perpetua.core.quantities import NS_PER_S
from perpetua.mainjob.settlement import Settlement
from perpetua.sim.candles import Candle
from perpetua.sim.demo_market import DEMO_ACCOUNT, DemoMarket, DemoSettings
from perpetua.store.journal import JournalRecord

log = logging.getLogger("perpetua.mainjob")

CANDLE_S = 60
"""Simulated seconds per recorded candle."""
CHART_BUCKET_NS = 5 * NS_PER_S
"""The dashboard's trade candles: five wall-clock seconds each (five simulated minutes at 60x)."""
CHART_POINTS = 720
OTHER_MARKETS_REFRESH_S = 60
"""Markets without a recorded path keep their price, re-signed this often so they never go stale."""


def market_timings(config: ExchangeConfig, speed: float) -> ExchangeConfig:
    """``config`` with each market's funding interval and premium cadence divided by ``speed``
    (simulated seconds per wall second; 0 = as fast as possible, treated as 360x): at the default
    60x an hour of funding passes in a minute. The rate stays pro rata to the real interval."""
    factor = speed if speed > 0 else 360.0
    markets = {}
    for mid, m in config.markets.items():
        funding_ns = max(5 * NS_PER_S, int(m.funding_interval_ns / factor))
        premium_ns = max(NS_PER_S, int(m.premium_sample_interval_ns / factor))
        markets[mid] = dataclasses.replace(m, funding_interval_ns=funding_ns, premium_sample_interval_ns=premium_ns)
    return dataclasses.replace(config, markets=markets)


class WallClockOracle:
    """Signs the path's prices with every development signer at the wall clock's second."""

    def __init__(self, config: ExchangeConfig, market_id: str) -> None:
        self.keys = dev_oracle_keys(config.dev_oracle_seeds)
        self.config = config
        self.market_id = market_id
        self.last_s = int(time.time())
        self.others_s = 0
        self.current: dict[str, int] = {}
        """Last price sent per market (the others keep their initial price)."""

    def sign(self, market: Market, price: int, now_s: int) -> MarketOraclePrices:
        return sign_market_prices(self.keys, market, [price] * len(market.oracle_signers), now_s)

    def __call__(self, market: Market, price: int, t_ns: int) -> Command | None:
        now_s = int(time.time())
        if now_s <= self.last_s:
            return None
        self.last_s = now_s
        self.current[market.market_id] = price
        ticks = {market.market_id: self.sign(market, price, now_s)}
        if now_s - self.others_s >= OTHER_MARKETS_REFRESH_S:
            self.others_s = now_s
            for mid, p in self.current.items():
                if mid != market.market_id:
                    ticks[mid] = self.sign(self.config.markets[mid], p, now_s)
        return OraclePricesTick(0, tuple(ticks[mid] for mid in sorted(ticks)))


@dataclass(slots=True)
class EntryBook:
    """Average entry price of one account's positions, kept from its fills (the core keeps sizes)."""

    position_id: int
    sizes: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)

    def fill(self, market_id: str, signed_size: int, price: int) -> None:
        old = self.sizes.get(market_id, 0)
        new = old + signed_size
        if old == 0 or ((old > 0) != (new > 0) and new != 0):
            self.entries[market_id] = price  # opened or flipped: the fill's price
        elif abs(new) > abs(old):  # added: size-weighted average
            self.entries[market_id] = (self.entries[market_id] * abs(old) + price * abs(signed_size)) // abs(new)
        if new == 0:
            self.entries.pop(market_id, None)
            self.sizes.pop(market_id, None)
        else:
            self.sizes[market_id] = new


@dataclass(slots=True)
class Activity:
    """What the dashboard shows beyond the read models: the demo account's entries and funding
    payments, the funding rate history, liquidation events (once the core emits them)."""

    entries: EntryBook = field(default_factory=lambda: EntryBook(DEMO_ACCOUNT))
    funding_payments: list[dict[str, Any]] = field(default_factory=list)
    funding_rates: list[dict[str, Any]] = field(default_factory=list)
    liquidations: list[dict[str, Any]] = field(default_factory=list)
    fills: int = 0
    candles: dict[str, list[list[int]]] = field(default_factory=dict)
    """Market -> [bucket start ns, open, high, low, close] of trades, oldest first."""
    prices: dict[str, list[tuple[int, int | None, int | None, int | None]]] = field(default_factory=dict)
    """Market -> (time ns, mark, index, oracle) samples, oldest first."""

    def candle(self, market_id: str, t_ns: int, price: int) -> None:
        rows = self.candles.setdefault(market_id, [])
        start = t_ns - t_ns % CHART_BUCKET_NS
        if rows and rows[-1][0] == start:
            row = rows[-1]
            row[2], row[3], row[4] = max(row[2], price), min(row[3], price), price
        else:
            rows.append([start, price, price, price, price])
            del rows[:-CHART_POINTS]

    def sample(self, market_id: str, t_ns: int, mark: int | None, index: int | None, oracle: int | None) -> None:
        rows = self.prices.setdefault(market_id, [])
        rows.append((t_ns, mark, index, oracle))
        del rows[: -CHART_POINTS * 5]

    def __call__(self, records: Sequence[JournalRecord], events: Sequence[list[Event]]) -> None:
        pid = self.entries.position_id
        for rec, evs in zip(records, events, strict=True):
            t = rec.command.timestamp_ns
            for ev in evs:
                if isinstance(ev, OrderFilled):
                    self.fills += 1
                    self.candle(ev.market_id, t, ev.price)
                    if ev.taker_position_id == pid:
                        self.entries.fill(ev.market_id, ev.taker_side * ev.size, ev.price)
                    if ev.maker_position_id == pid:
                        self.entries.fill(ev.market_id, -ev.taker_side * ev.size, ev.price)
                elif isinstance(ev, FundingPaid):
                    if ev.position_id == pid:
                        self._keep(self.funding_payments, {"market": ev.market_id, "time_ns": ev.timestamp_ns,
                                                           "amount": ev.amount, "size": ev.position_size,
                                                           "rate_ppb": ev.rate_ppb, "price": ev.index_price})
                elif isinstance(ev, FundingRateUpdated):
                    self._keep(self.funding_rates, {"market": ev.market_id, "time_ns": ev.timestamp_ns,
                                                    "rate_ppb": ev.rate_ppb, "premium_ppb": ev.premium_ppb,
                                                    "interval_ns": ev.interval_ns, "price": ev.index_price})
                elif "Liquidat" in type(ev).__name__:
                    fields = {f.name: getattr(ev, f.name) for f in dataclasses.fields(ev)}
                    self._keep(self.liquidations, {"event": type(ev).__name__, "time_ns": t,
                                                   **{k: v if isinstance(v, int | str | None) else str(v)
                                                      for k, v in fields.items()}})

    @staticmethod
    def _keep(rows: list[dict[str, Any]], row: dict[str, Any], limit: int = 200) -> None:
        rows.insert(0, row)
        del rows[limit:]


class LiveMarket:
    """Drives the demo participants, the oracle and funding through one ``Exchange``."""

    def __init__(self, ex: Exchange, candles: list[Candle], settings: DemoSettings, speed: float,
                 demo_meta: dict[str, Any], settlement: Settlement | None = None) -> None:
        self.ex = ex
        self.settlement = settlement
        self.speed = speed
        self.settings = settings
        self.demo_meta = demo_meta
        self.oracle = WallClockOracle(ex.config, settings.market_id)
        self.demo = DemoMarket(ex.config, candles, settings, submit=self._refuse, state=ex.sequencer.state,
                               oracle=self.oracle)
        self.activity = Activity()
        ex.listeners.append(self.activity)
        self.candle: Candle | None = None
        self.finished = False
        self._tasks: list[asyncio.Task[None]] = []

    @staticmethod
    def _refuse(cmds: Sequence[Command]) -> list[list[Event]]:
        raise RuntimeError("the live market submits asynchronously (step_async)")

    async def submit(self, cmds: Sequence[Command]) -> list[list[Event]]:
        return await self.ex.submit([(c, self._meta(c)) for c in cmds])

    def _meta(self, cmd: Command) -> dict[str, Any] | None:
        if isinstance(cmd, CreateAccount) and cmd.position_id == DEMO_ACCOUNT:
            return self.demo_meta
        return None

    async def start(self) -> None:
        # the genesis first, so that the demo account exists before the server answers anyone
        self.demo.started = True
        genesis = self.demo.genesis()
        deposits = [c for c in genesis if isinstance(c, DepositCollateral)]
        if self.settlement is None:
            await self.submit(genesis)
        else:  # deposits go through L1: the participants deposit there, the operator credits them here
            await self.submit([c for c in genesis if not isinstance(c, DepositCollateral)])
            self.settlement.start([(c.position_id, c.amount) for c in deposits])
        self._tasks = [asyncio.create_task(self._replay(), name="demo-market"),
                       asyncio.create_task(self._sample_prices(), name="price-samples")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _replay(self) -> None:
        demo = self.demo
        delay = CANDLE_S / self.speed if self.speed > 0 else 0.0
        try:
            if self.settlement is not None and not await self.settlement.wait_funded():
                log.warning("L1 deposits were not credited: crediting the demo participants directly")
                await self.submit([DepositCollateral(0, pid, amount) for pid, amount in self.settlement.genesis_deposits])
        except asyncio.CancelledError:
            raise
        started = time.monotonic()
        n = 0
        try:
            while demo.position < len(demo.candles):
                self.candle, _ = await demo.step_async(self.submit)
                n += 1
                if delay:
                    await asyncio.sleep(max(0.0, started + n * delay - time.monotonic()))
                else:
                    await asyncio.sleep(0.02)  # as fast as possible, but let requests through
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the simulated market stopped")
        self.finished = True

    async def _sample_prices(self) -> None:
        """Mark, index and oracle twice a second for the chart. (Premium samples and funding ticks
        are the API server's funding clock, on the compressed cadence of ``market_timings``.)"""
        mid = self.settings.market_id
        while True:
            await asyncio.sleep(0.5)
            st = self.ex.sequencer.state.price_status(mid)
            self.activity.sample(mid, time.time_ns(), st.mark_price, st.index_price, st.oracle_price)
