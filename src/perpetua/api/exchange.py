"""The process's one exchange: sequencer + journal + read models + clock, serial by construction.

Routes submit commands (with ``timestamp_ns=0``) to ``Exchange.submit``; one asyncio task takes them
in arrival order, stamps each with the edge clock (wall time in ns, strictly increasing), applies it,
and after a batch appends every applied command to the journal and commits (group commit). Only then
are the callers answered and the events published: nothing is acknowledged that a crash could lose.
If the journal cannot be written the process stops (fail-stop): the journal, not memory, is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perpetua.api.config import ServerConfig
from perpetua.api.hub import Hub
from perpetua.core.commands import Command, FundingTick, SampleFundingPremium, SetOraclePrice
from perpetua.core.events import (
    Event,
    FundingRateUpdated,
    OraclePriceUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
)
from perpetua.core.markets import ExchangeConfig
from perpetua.core.oracle import is_stale
from perpetua.core.quantities import COLLATERAL_RESOLUTION, to_integer_units
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.verifier import OrderCheck, VerifierPool, admit_orders
from perpetua.store.journal import Journal, JournalRecord, SqliteJournal
from perpetua.store.readmodels import ReadModels
from perpetua.store.recovery import recover, take_snapshot

log = logging.getLogger("perpetua.api")

Submission = Sequence[tuple[Command, dict[str, Any] | None]]
Listener = Callable[[Sequence[JournalRecord], Sequence[list[Event]]], None]


class SignatureBatcher:
    """Order signatures from concurrent requests verified together: one thread hop (or one message
    to the verifier pool) per batch instead of per order. A batch is sent once the event loop has
    run every ready request (so it holds what arrived meanwhile) or when it reaches ``max_batch``."""

    def __init__(self, pool: VerifierPool | None, max_batch: int = 256) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._checks: list[OrderCheck] = []
        self._futures: list[asyncio.Future[int | None]] = []
        self._scheduled = False

    def admit(self, check: OrderCheck) -> asyncio.Future[int | None]:
        """The order's hash once its signature verifies, else None."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int | None] = loop.create_future()
        self._checks.append(check)
        self._futures.append(future)
        if len(self._checks) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        if not self._checks:
            return
        checks, futures = self._checks, self._futures
        self._checks, self._futures = [], []
        asyncio.get_running_loop().create_task(self._run(checks, futures))

    async def _run(self, checks: list[OrderCheck], futures: list[asyncio.Future[int | None]]) -> None:
        try:
            if self.pool is not None:
                answers = await asyncio.wrap_future(self.pool.submit_admit(checks))
            else:
                answers = await asyncio.to_thread(admit_orders, checks)
        except Exception as err:  # a verifier failure fails its requests, never the server
            for f in futures:
                if not f.done():
                    f.set_exception(err)
            return
        for f, answer in zip(futures, answers, strict=True):
            if not f.done():
                f.set_result(answer)


class _Pending:
    __slots__ = ("commands", "future")

    def __init__(self, commands: Submission, future: asyncio.Future[list[list[Event]]]) -> None:
        self.commands = commands
        self.future = future


def open_journal(cfg: ServerConfig) -> Journal:
    if cfg.database_url:
        if not cfg.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url: must be a postgresql:// URL (empty: SQLite in data_dir)")
        from perpetua.store.postgres import PostgresJournal

        return PostgresJournal(cfg.database_url)
    Path(cfg.data_dir).mkdir(parents=True, exist_ok=True)
    return SqliteJournal(Path(cfg.data_dir) / "journal.db", synchronous=cfg.synchronous)


class Exchange:
    def __init__(self, cfg: ServerConfig, config: ExchangeConfig, journal: Journal | None = None) -> None:
        self.cfg = cfg
        self.config = config
        self.journal = journal if journal is not None else open_journal(cfg)
        read_path: str | Path = ":memory:"
        if cfg.data_dir:
            Path(cfg.data_dir).mkdir(parents=True, exist_ok=True)
            read_path = Path(cfg.data_dir) / "read.db"
        self.read = ReadModels(read_path, {m.market_id: m.resolution for m in config.markets.values()})
        if self.read.position > self.journal.last_seq():
            # Read models ahead of the journal (e.g. a journal from elsewhere): rebuild them.
            self.read.close()
            Path(read_path).unlink(missing_ok=True)
            self.read = ReadModels(read_path, {m.market_id: m.resolution for m in config.markets.values()})
        started = time.monotonic()
        self.sequencer: Sequencer
        # Snapshots newer than the read models would skip records they have not projected yet.
        self.sequencer, self.seq = recover(
            config, self.journal, self.read.project, max_snapshot_seq=self.read.position, keep_log=False
        )
        self.read.commit()
        self.recovery_s = time.monotonic() - started
        self.since_snapshot = 0
        self.hub = Hub()
        self.listeners: list[Listener] = []
        self.order_hashes: set[str] = self.read.order_hashes()
        """Hashes of every signed order (and withdrawal) submitted: a signed message is used once."""
        self.onboarding: set[str] = set()
        """Ethereum addresses whose onboarding is in flight."""
        self._next_position_id = max(self.sequencer.state.accounts) + 1
        self.verifier: VerifierPool | None = VerifierPool(cfg.verify_workers) if cfg.verify_workers > 0 else None
        self.signatures = SignatureBatcher(self.verifier)
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._last_ts = self.sequencer.state.time_ns

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="sequencer")
        initial = [
            (SetOraclePrice(0, mid, to_integer_units(price, COLLATERAL_RESOLUTION, f"initial_oracle_prices.{mid}")), None)
            for mid, price in sorted(self.cfg.initial_oracle_prices.items())
            if mid in self.config.markets and mid not in self.sequencer.state.oracle_prices
        ]
        if initial:
            await self.submit(initial)
        if self.cfg.clock_interval_s > 0:
            self._clock_task = asyncio.create_task(self._clock(), name="funding-clock")

    def allocate_position_id(self) -> int:
        """A fresh StarkEx position id (allocated at the edge, so concurrent onboardings never collide)."""
        pid = max(self._next_position_id, max(self.sequencer.state.accounts) + 1)
        self._next_position_id = pid + 1
        return pid

    async def stop(self) -> None:
        if self.verifier is not None:
            self.verifier.close()
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.journal.close()
        self.read.close()

    def now_ns(self) -> int:
        """Wall time, never before the sequencer's time: what staleness is judged at between commands."""
        return max(time.time_ns(), self.sequencer.state.time_ns)

    def oracle_stale(self, market_id: str) -> bool:
        """The market's degraded mode judged now (the state judges it at its last command's time)."""
        state = self.sequencer.state
        return is_stale(state.markets[market_id], state.oracle_times_ns.get(market_id), self.now_ns())

    def due_clock_commands(self) -> list[Command]:
        """The premium samples and funding ticks due now (only fresh markets: stale ones would be refused)."""
        state = self.sequencer.state
        now = self.now_ns()
        due: list[Command] = []
        for mid, market in sorted(state.markets.items()):
            funding = state.funding[mid]
            if not funding.started or self.oracle_stale(mid):
                continue
            if not funding.last_sample_ns or now - funding.last_sample_ns >= market.premium_sample_interval_ns:
                due.append(SampleFundingPremium(0, mid))
            if now - funding.last_tick_ns >= market.funding_interval_ns:
                due.append(FundingTick(0, mid))
        return due

    async def _clock(self) -> None:
        """Submit due premium samples and funding ticks (journaled commands like any other)."""
        while True:
            await asyncio.sleep(self.cfg.clock_interval_s)
            due = self.due_clock_commands()
            if due:
                try:
                    await self.submit([(cmd, None) for cmd in due])
                except Exception:
                    log.exception("funding clock: submit failed")

    # -- submitting -------------------------------------------------------------------------------

    async def submit(self, commands: Submission) -> list[list[Event]]:
        """Apply ``commands`` back to back (nothing runs between them); their events once durable."""
        assert self._queue is not None, "the exchange is not started"
        future: asyncio.Future[list[list[Event]]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(commands, future))
        return await future

    def _now_ns(self) -> int:
        now = max(time.time_ns(), self._last_ts + 1)
        self._last_ts = now
        return now

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self.cfg.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                self._process(batch)
            except Exception:  # the journal failed: memory is ahead of the truth; stop
                log.exception("journal write failed; stopping so that recovery restores the journal's state")
                os._exit(70)

    def _process(self, batch: list[_Pending]) -> None:
        seq = self.sequencer
        records: list[JournalRecord] = []
        all_events: list[list[Event]] = []
        answers: list[list[list[Event]]] = []
        for pending in batch:
            answer = []
            for cmd, meta in pending.commands:
                stamped = dataclasses.replace(cmd, timestamp_ns=self._now_ns())
                events = seq.apply(stamped)
                self.seq += 1
                records.append(JournalRecord(self.seq, stamped, meta))
                all_events.append(events)
                answer.append(events)
            answers.append(answer)
        self.journal.append(records)  # durable from here on
        self.read.project_many(zip(records, all_events, strict=True))
        self.since_snapshot += len(records)
        if self.since_snapshot >= self.cfg.snapshot_every:
            self.journal.save_snapshot(take_snapshot(self.seq, seq))
            self.since_snapshot = 0
        for pending, answer in zip(batch, answers, strict=True):
            if not pending.future.done():
                pending.future.set_result(answer)
        for listener in self.listeners:
            try:
                listener(records, all_events)
            except Exception:
                log.exception("event listener failed")


def touched_markets(events: Sequence[list[Event]]) -> set[str]:
    markets: set[str] = set()
    for evs in events:
        for ev in evs:
            if isinstance(ev, OrderAccepted | OrderFilled | OrderCanceled | OrderTriggered | OraclePriceUpdated
                          | FundingRateUpdated):
                markets.add(ev.market_id)
    return markets
