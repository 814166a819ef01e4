"""The L1 in the main job: the exchange's journaled events -> the rollup -> batches on the Vyper
contracts (titanoboa's in-process EVM), off the serial exchange's hot path.

The exchange calls ``Settlement.listener`` after each group commit; it only queues the records. A
background thread owns everything slow (the rollup's hashing, py-evm) and the chain object (no other
thread touches the EVM; the route reads the snapshot the thread publishes):

1. deploys the contracts on a ``BoaChain`` (a few seconds, after the server already answers);
2. funds the demo participants on L1: each registers its STARK key, gets test USDC minted, approves
   and deposits; the operator sees the pending L1 deposits and credits them on L2 with
   ``DepositCollateral`` through the exchange (the live market waits for ``funded``);
3. maps every event with ``perpetua.rollup.adapter.ExchangeAdapter`` into rollup transactions on a
   ``Batcher`` and cuts a batch when it holds ``batch_txs`` transactions or its first one is
   ``batch_interval_s`` old (ten simulated minutes, divided by ``--speed`` as funding is);
4. proves each batch (``perpetua.circuits.batch.prove_rollup_batch`` from the rollup state at the
   batch's old roots) in a separate prover process (``perpetua.mainjob.prover``: proving holds the
   GIL, the exchange shares this process), then submits it through
   ``perpetua.circuits.fact_service.StarkFactService``: the service verifies the proof and only then
   registers the batch's fact in the (interim) fact registry, and the state update is sent with
   ``register_fact=False``; the loop checks that L1's root is the rollup's. A refused batch (its
   proof does not verify) is recorded for the view and retried once with a fresh proof; refused
   again, the loop stops. ``tamper_proof_every`` (fault injection, off by default) corrupts every
   Nth batch's proof so the view shows a refusal, then the honest proof is accepted;
5. demo flows on L1: every few batches a taker withdraws on L2 (claimable on L1 when its batch lands,
   claimed before the next batch) and a maker deposits on L1 (credited on L2 at the next batch).

If the rollup cannot follow the exchange (an event it cannot express, a transaction it refuses, a
revert on L1), the loop stops with the reason logged and shown in the view; the exchange is never
touched by that. The view never escapes (an escape is seconds of py-evm per position).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from typing import Any

from perpetua.core.commands import Command, DepositCollateral, SampleFundingPremium, WithdrawCollateral
from perpetua.core.commands import FundingTick as FundingTickCommand
from perpetua.core.events import CollateralWithdrawn, Event, FundingRateUpdated
from perpetua.core.markets import ExchangeConfig
from perpetua.core.quantities import COLLATERAL_RESOLUTION, NS_PER_S, format_units
from perpetua.core.state import ExchangeState
from perpetua.crypto.assets import Network, collateral_asset_id
from perpetua.crypto.keys import public_key
from perpetua.crypto.signatures import Signature, sign
from perpetua.mainjob.prover import BatchProver, ProvenBatch, tamper
from perpetua.rollup.adapter import ExchangeAdapter, UnmappedEvent, dev_oracle_signer
from perpetua.rollup.batch import Batch, Batcher, Mode
from perpetua.rollup.config import config_from_exchange, internal_price, max_funding_rate_from_exchange
from perpetua.rollup.pmap import changed_keys
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.sim.demo_market import DEMO_ACCOUNT, LEVERAGED, MAKERS, TAKERS, demo_private_key
from perpetua.store.journal import JournalRecord

log = logging.getLogger("perpetua.mainjob.settlement")

BATCH_INTERVAL_S = 600
"""Simulated seconds between batches at most (divided by the replay speed, as funding is)."""
BATCH_TXS = 120
"""Cut a batch once it holds this many rollup transactions. A proof has a fixed part (the
arithmetic STARK's 512-row minimum holds ~127 trades) and a part per trade (two order-tree
updates); measured in `perpetua up` at 60x: 120 transactions proven in ~4.8 s and verified in
~1.7 s, ~17 transactions/s, against ~4 s for 64 (~13/s)."""
REFUSALS_SHOWN = 20
MAX_BATCH_TXS = 1_500
"""Stop draining the queue into the pending batch past this many transactions: the payload grows with
the orders filled (~50 bytes a transaction) and L1 takes at most 128 KiB of state diff a batch."""
DEMO_WITHDRAWAL = 250 * COLLATERAL_RESOLUTION
DEMO_TOP_UP = 1_000 * COLLATERAL_RESOLUTION
DEMO_FLOW_EVERY = 2
"""A demo withdrawal and a demo L1 deposit every this many batches."""
FUNDED_TIMEOUT_S = 60.0
ORDER_EXPIRATION_H = 24 * 365


class CannotFollow(RuntimeError):
    """The rollup cannot express what the exchange did (the settlement loop stops)."""


class _Stopping(Exception):
    """stop() was called while the loop waited for a proof."""


class _TimedRegistrar:
    """The operator client as the fact service's registrar, noting when the service asks for the
    fact (its proof verification is done by then)."""

    def __init__(self, op: Any) -> None:
        self.op = op
        self.asked_at: float | None = None
        self.verified_s = 0.0

    def fact_for(self, batch: Any) -> bytes:
        self.asked_at = time.perf_counter()
        fact: bytes = self.op.fact_for(batch)
        return fact

    def register_fact(self, fact: bytes) -> Any:
        return self.op.register_fact(fact)


def demo_accounts() -> tuple[int, ...]:
    return (*MAKERS, *TAKERS, *LEVERAGED, DEMO_ACCOUNT)


@dataclass(frozen=True, slots=True)
class SettlementOptions:
    speed: float = 60.0
    batch_txs: int = BATCH_TXS
    batch_interval_s: float | None = None
    """Wall seconds; None: BATCH_INTERVAL_S / speed (at least 1 s)."""
    demo_flows: bool = True
    tamper_proof_every: int | None = None
    prover_ray: str | None = None
    """A Ray cluster's address: prove each batch's parts there (default: two local worker processes)."""
    """Fault injection: corrupt the proof of every Nth batch (the fact service refuses it, the view
    lists the refusal, the honest proof is then accepted). None: off."""

    @property
    def interval_s(self) -> float:
        if self.batch_interval_s is not None:
            return self.batch_interval_s
        factor = self.speed if self.speed > 0 else 360.0
        return max(1.0, BATCH_INTERVAL_S / factor)


def _usd(quantums: int) -> str:
    return format_units(quantums, COLLATERAL_RESOLUTION)


class Follower:
    """Exchange events -> rollup transactions on a ``Batcher`` (no threads, no L1): the part of the
    settlement loop that must keep up with the exchange."""

    def __init__(self, config: ExchangeConfig, state: ExchangeState, network: Network, speed: float,
                 now_s: int | None = None) -> None:
        now_s = int(time.time()) if now_s is None else now_s
        self.keys = {pid: demo_private_key(pid) for pid in (*demo_accounts(), config.fee_position_id)}
        fee_key = public_key(self.keys[config.fee_position_id])
        factor = speed if speed > 0 else 360.0
        # Funding runs `factor` times faster than on a real clock (live.market_timings): so may the index.
        max_rate = max_funding_rate_from_exchange(config) * int(-(-factor // 1))
        self.rconfig = config_from_exchange(config, collateral_asset_id(network), fee_key, max_funding_rate=max_rate)
        for pid, acct in state.accounts.items():
            if acct.collateral or acct.positions:
                raise CannotFollow(f"the L1 starts with an empty exchange; position {pid} already holds funds")
        prices, indices = {}, {}
        for mid, m in sorted(config.markets.items()):
            indices[m.synthetic_asset_id] = state.funding_indices.get(mid, 0)
            if mid in state.oracle_prices:
                prices[m.synthetic_asset_id] = internal_price(state.oracle_prices[mid], m.resolution)
        genesis = RollupState(oracle_prices=dict(sorted(prices.items())), funding_indices=dict(sorted(indices.items())),
                              funding_timestamp=now_s, system_time=now_s)
        now_h = now_s // 3600
        self.context = BatchContext(config=self.rconfig, min_expiration_hours=now_h)
        self.batcher = Batcher(genesis, self.context, mode=Mode.ROLLUP, max_txs=10**9)
        self.adapter = ExchangeAdapter(config, self.rconfig.collateral_asset_id, self._sign, now_h + ORDER_EXPIRATION_H,
                                       oracle_signer=dev_oracle_signer(config), funding_indices=dict(indices))
        self.adapter.keys.update({pid: a.public_key for pid, a in state.accounts.items() if a.public_key})
        self.adapter.time_s = now_s
        self.withdrawals: list[tuple[int, int, int, int]] = []
        """(stark key, position id, amount, L2 time s) of withdrawals seen, for the operator's notes."""
        self.events = 0
        self.started_at: float | None = None

    def _sign(self, position_id: int, msg_hash: int) -> Signature:
        key = self.keys.get(position_id)
        if key is None or public_key(key) != self.adapter.keys.get(position_id):
            raise CannotFollow(
                f"position {position_id} signed an order or withdrawal with a STARK key the operator does not hold "
                "(an API account): the core's events do not carry the owner's StarkEx signature, so the rollup "
                "cannot settle it")
        return sign(key, msg_hash)

    @staticmethod
    def merge_funding(records: Sequence[JournalRecord],
                      events: Sequence[list[Event]]) -> list[tuple[JournalRecord, list[Event]]]:
        """The per-market ``FundingTick`` commands of one funding-clock round (the API server submits
        premium sample + tick per due market, nanoseconds apart) as one event list at the first tick's
        time: StarkEx's funding tick covers every asset, and the rollup refuses a second index move
        within the same second (its dt would be 0)."""
        out: list[tuple[JournalRecord, list[Event]]] = []
        group: list[Event] | None = None
        first_ns = 0
        for rec, evs in zip(records, events, strict=True):
            if isinstance(rec.command, FundingTickCommand):
                ticks = [e for e in evs if isinstance(e, FundingRateUpdated)]
                if group is not None and ticks and ticks[0].timestamp_ns // NS_PER_S == first_ns // NS_PER_S:
                    group.extend(dataclasses.replace(e, timestamp_ns=first_ns) if isinstance(e, FundingRateUpdated)
                                 else e for e in evs)
                    continue
                group = list(evs)
                first_ns = ticks[0].timestamp_ns if ticks else 0
                out.append((rec, group))
                if not ticks:
                    group = None
            elif isinstance(rec.command, SampleFundingPremium) and not evs:
                continue
            else:
                if not isinstance(rec.command, SampleFundingPremium):
                    group = None
                out.append((rec, list(evs)))
        return out

    def feed(self, records: Sequence[JournalRecord], events: Sequence[list[Event]]) -> None:
        for rec, evs in self.merge_funding(records, events):
            if not evs:
                continue
            try:
                txs = self.adapter.transactions(evs)
                for tx in txs:
                    self.batcher.submit(tx)
            except CannotFollow:
                raise
            except UnmappedEvent as err:
                raise CannotFollow(f"journal record {rec.seq}: the rollup cannot express it: {err}") from err
            except Exception as err:
                kinds = sorted({type(e).__name__ for e in evs})
                raise CannotFollow(f"journal record {rec.seq} ({type(rec.command).__name__}: {', '.join(kinds)}): "
                                   f"{type(err).__name__}: {err}") from err
            if txs and self.started_at is None:
                self.started_at = time.monotonic()
            self.events += len(evs)
            for e in evs:
                if isinstance(e, CollateralWithdrawn):
                    self.withdrawals.append((self.adapter.keys[e.position_id], e.position_id, e.amount,
                                             rec.command.timestamp_ns // NS_PER_S))

    def changes_positions(self) -> bool:
        """Whether the pending transactions change a position (the batch proof proves the positions
        root's transition: a batch of only funding ticks or price updates has nothing to prove, so it
        waits for the next trade, deposit or withdrawal)."""
        start = self.batcher.batch_start_state
        return start is None or bool(changed_keys(start.positions, self.batcher.state.positions))

    def due(self, batch_txs: int, interval_s: float) -> bool:
        pending = len(self.batcher.pending)
        if not pending or not self.changes_positions():
            return False
        if pending >= batch_txs:
            return True
        return self.started_at is not None and time.monotonic() - self.started_at >= interval_s

    def cut(self) -> Batch:
        return self.cut_with_old_state()[1]

    def cut_with_old_state(self) -> tuple[RollupState, Batch]:
        """The rollup state at the batch's old roots (what the prover starts from) and the batch."""
        old = self.batcher.batch_start_state
        assert old is not None
        self.started_at = None
        return old, self.batcher.cut()


@dataclass
class Status:
    state: str = "starting"
    """starting | deploying | funding | running | stopped"""
    reason: str | None = None
    batches: int = 0
    rollup_txs: int = 0
    last_batch_s: float | None = None
    """Wall seconds the last cut + submit took (rollup hashing + py-evm)."""
    batch_stats: dict[int, dict[str, Any]] = field(default_factory=dict)
    """L1 sequence number -> txs, payload bytes, gas, proof bytes, prove / verify seconds, security
    bits, proven, accepted, refusals."""
    cut: int = 0
    """Batches cut (the fault injection counts these)."""
    proving: int | None = None
    """The L1 sequence number of the batch being proven, if any."""
    last_prove_s: float | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)
    """Refused batches, oldest first: sequence, reason, at (wall s), tampered, resolution."""


class Settlement:
    """The settlement loop of ``perpetua up`` (one background thread; see the module text)."""

    def __init__(self, ex: Any, opts: SettlementOptions) -> None:
        self.ex = ex
        self.opts = opts
        self.status = Status()
        self.queue: queue.Queue[tuple[Sequence[JournalRecord], Sequence[list[Event]]]] = queue.Queue()
        self.follower: Follower | None = None
        self._ahead: tuple[RollupState, Batch, Future[ProvenBatch], int] | None = None
        """The next batch, cut and being proven while the current one is verified and sent."""
        self.fact_service: Any = None
        """The StarkFactService certifying every batch (created with the first)."""
        self.genesis_deposits: list[tuple[int, int]] = []
        self.funded = asyncio.Event()
        self.snapshot: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.op: Any = None
        self.traders: dict[int, Any] = {}
        self.credited_genesis = False
        self.outstanding: dict[tuple[int, int], int] = {}
        """(stark key, position id) -> quantums credited on L2 that no accepted batch included yet."""
        self.prover = BatchProver(ray_address=opts.prover_ray)

    # -- the exchange side (event loop thread) ------------------------------------------------------

    def attach(self) -> None:
        """Start following the exchange from its current (empty) state: call before any deposit."""
        try:
            self.follower = Follower(self.ex.config, self.ex.sequencer.state, self.ex.cfg.network, self.opts.speed)
        except CannotFollow as err:
            self._halt(str(err))
            return
        self.ex.listeners.append(self.listener)

    def listener(self, records: Sequence[JournalRecord], events: Sequence[list[Event]]) -> None:
        """Called by the exchange after each group commit: only queue (the hot path)."""
        if self.status.state != "stopped":
            self.queue.put((records, events))

    def start(self, genesis_deposits: list[tuple[int, int]]) -> None:
        self.genesis_deposits = genesis_deposits
        self._loop = asyncio.get_running_loop()
        self.publish()
        self._thread = threading.Thread(target=self._run, name="l1-settlement", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)
        self.prover.close()

    async def wait_funded(self, timeout: float = FUNDED_TIMEOUT_S) -> bool:
        """Whether the L1 deposits were credited on L2 (else the caller credits them directly)."""
        if self._thread is None:
            return False
        try:
            await asyncio.wait_for(self.funded.wait(), timeout)
        except TimeoutError:
            self._halt(f"L1 not funded after {timeout:g} s")
        return self.credited_genesis

    # -- the settlement thread ----------------------------------------------------------------------

    def _halt(self, reason: str) -> None:
        if self.status.state != "stopped":
            log.error("L1 settlement stopped: %s (the exchange keeps running)", reason)
        self.status.state, self.status.reason = "stopped", reason
        self.publish()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.funded.set)

    def _submit_l2(self, commands: list[Command]) -> list[list[Event]]:
        """Commands through the serial exchange (from this thread)."""
        assert self._loop is not None
        fut: Future[list[list[Event]]] = asyncio.run_coroutine_threadsafe(
            self.ex.submit([(c, None) for c in commands]), self._loop)
        return fut.result(timeout=30)

    def _run(self) -> None:
        try:
            self._deploy_and_fund()
            while not self._stop.is_set() and self.status.state != "stopped":
                self._step()
        except CannotFollow as err:
            self._halt(str(err))
        except _Stopping:
            pass
        except Exception as err:  # never the exchange's problem
            log.exception("L1 settlement failed")
            self._halt(f"{type(err).__name__}: {err}")

    def _deploy_and_fund(self) -> None:
        from perpetua.chain.backend import BoaChain
        from perpetua.chain.client import OperatorClient, Trader, account, deploy

        follower = self.follower
        if follower is None:
            raise CannotFollow(self.status.reason or "not attached")
        self.status.state = "deploying"
        self.publish()
        chain = BoaChain(start_timestamp=int(time.time()))
        d = deploy(chain, initial_root=follower.batcher.tree.roots()[0], label="perpetua-up")
        self.op = op = OperatorClient(d)
        self.status.state = "funding"
        for pid in demo_accounts():
            eth = account(f"perpetua-up:trader:{pid}")
            stark_key = public_key(follower.keys[pid])
            op.register_user(eth.address, stark_key)
            chain.transact(d.governor.address, d.token, "mint", eth.address, 10**7 * COLLATERAL_RESOLUTION)
            chain.transact(eth.address, d.token, "approve", d.exchange, 2**256 - 1)
            self.traders[pid] = Trader(d, eth, stark_key)
        for pid, amount in self.genesis_deposits:
            self.traders[pid].deposit(pid, amount)
        self._credit_pending_deposits()
        self.credited_genesis = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.funded.set)
        # A timelocked governance change, so the view has one to show (it would take effect in 8 days).
        from eth_utils import keccak

        from perpetua.chain.constants import CHANGE_GLOBAL_CONFIG

        op.propose_change(CHANGE_GLOBAL_CONFIG, keccak(text="perpetua-up: risk parameters v2"))
        self.status.state = "running"
        self.publish()

    def _credit_pending_deposits(self) -> None:
        """The operator credits on L2 each deposit pending on L1 (the next batch includes it)."""
        credits: list[Command] = []
        for (stark_key, pid), amount in sorted(self.op.pending_deposits().items(), key=lambda x: x[0][1]):
            new = amount - self.outstanding.get((stark_key, pid), 0)
            if new > 0:
                self.outstanding[(stark_key, pid)] = self.outstanding.get((stark_key, pid), 0) + new
                credits.append(DepositCollateral(0, pid, new))
        if credits:
            self._submit_l2(credits)

    def _drain(self) -> None:
        assert self.follower is not None
        try:
            records, events = self.queue.get(timeout=0.2)
        except queue.Empty:
            return
        self.follower.feed(records, events)
        # What is queued goes into the next batch, up to `batch_txs`: a proof costs about 0.2 s per trade
        # on two cores (four arithmetic rows and two order-tree updates each) plus a fixed ~4 s, so a
        # bounded batch keeps each proof short; when the exchange outpaces the prover (a fast replay),
        # the backlog waits in the queue and the view shows it (`queuedRecords`).
        while len(self.follower.batcher.pending) < min(self.opts.batch_txs, MAX_BATCH_TXS):
            try:
                records, events = self.queue.get_nowait()
            except queue.Empty:
                break
            self.follower.feed(records, events)
        for stark_key, pid, amount, t in self.follower.withdrawals:
            self.op.note_withdrawal_request(stark_key, pid, amount, t)
        self.follower.withdrawals.clear()

    def _step(self) -> None:
        follower = self.follower
        assert follower is not None
        self._drain()
        if self._ahead is None and not follower.due(self.opts.batch_txs, self.opts.interval_s):
            return
        self._commit()

    def _cut(self) -> tuple[RollupState, Batch, Future[ProvenBatch], int]:
        """Cut the pending batch and start proving it (old state, batch, proof future, cut number)."""
        assert self.follower is not None
        old_state, batch = self.follower.cut_with_old_state()
        self.status.cut += 1
        return old_state, batch, self._start_proving(old_state, batch), self.status.cut

    def _commit(self) -> None:
        from perpetua.chain.backend import ChainRevert
        from perpetua.chain.batch import from_rollup
        from perpetua.circuits.fact_service import BatchRefused

        follower, op = self.follower, self.op
        assert follower is not None
        started = time.monotonic()
        if op.is_frozen():
            raise CannotFollow("the exchange is frozen on L1: no state update is accepted any more")
        chain = op.chain
        self._claim_withdrawals()
        st = self.status
        if self._ahead is not None:  # cut and sent to the prover while the previous batch was verified
            old_state, batch, fut, cut = self._ahead
            self._ahead = None
        else:
            old_state, batch, fut, cut = self._cut()
        seq = batch.sequence + 1
        proven = self._await_proof(fut, batch)
        # Pipeline: the next batch, if due, is proven while this one is verified and sent.
        self._drain()
        if follower.due(self.opts.batch_txs, self.opts.interval_s):
            self._ahead = self._cut()
        chain.advance_time(max(0, int(time.time()) - chain.now()))  # L1's clock follows the wall clock
        l1_batch = from_rollup(batch)
        every = self.opts.tamper_proof_every
        tampered = every is not None and every > 0 and cut % every == 0
        proof = tamper(proven.proof) if tampered else proven.proof
        refusals = 0
        try:
            try:
                receipt, verify_s = self._certify_and_submit(batch, proof, l1_batch)
            except BatchRefused as err:
                refusals += 1
                if tampered:  # the injected fault: present the honest proof
                    self._refused(seq, str(err), tampered=True, resolution="resubmitted with the honest proof")
                else:  # a real refusal: once more with a fresh proof, then stop
                    self._refused(seq, str(err), tampered=False, resolution="re-proven and resubmitted")
                    proven = self._prove(old_state, batch)
                try:
                    receipt, verify_s = self._certify_and_submit(batch, proven.proof, l1_batch)
                except BatchRefused as again:
                    self._refused(seq, str(again), tampered=False, resolution="settlement stopped")
                    raise CannotFollow(f"the fact service refused rollup batch {batch.sequence} twice: {again}") \
                        from again
        except ChainRevert as err:
            raise CannotFollow(f"L1 refused rollup batch {batch.sequence}: {err.reason}") from err
        root = op.state()["state_root"]
        if root != batch.new_roots[0]:
            raise CannotFollow(f"L1 root {root.hex()} != rollup root {batch.new_roots[0].hex()} after batch {batch.sequence}")
        for m in l1_batch.modifications:
            k = (m.stark_key, m.position_id)
            if m.delta > 0 and k in self.outstanding:
                self.outstanding[k] -= m.delta
                if self.outstanding[k] <= 0:
                    del self.outstanding[k]
        st.batches += 1
        st.rollup_txs += len(batch.txs)
        st.batch_stats[seq] = {"txs": len(batch.txs), "payload_bytes": len(batch.payload), "gas": receipt.gas_used,
                               "proven": True, "accepted": True, "proof_bytes": len(proven.proof),
                               "prove_s": round(proven.prove_s, 3), "verify_s": round(verify_s, 3),
                               "security_bits": proven.security_bits, "refusals": refusals,
                               "rollup_root": "0x" + batch.new_roots[0].hex()}
        for old in [k for k in st.batch_stats if k <= seq - 50]:
            del st.batch_stats[old]
        if self.opts.demo_flows and st.batches % DEMO_FLOW_EVERY == 0:
            self._demo_flows(st.batches // DEMO_FLOW_EVERY)
        self._credit_pending_deposits()
        st.last_batch_s = time.monotonic() - started
        self.publish()

    def _prove(self, old_state: RollupState, batch: Batch) -> ProvenBatch:
        """Prove in the prover process; wait without blocking stop()."""
        return self._await_proof(self._start_proving(old_state, batch), batch)

    def _start_proving(self, old_state: RollupState, batch: Batch) -> Future[ProvenBatch]:
        assert self.follower is not None
        return self.prover.submit(old_state, batch, self.follower.rconfig)

    def _await_proof(self, fut: Future[ProvenBatch], batch: Batch) -> ProvenBatch:
        """Wait for a proof without blocking stop()."""
        st = self.status
        st.proving = batch.sequence + 1
        self.publish()
        try:
            while True:
                if self._stop.is_set():
                    fut.cancel()
                    raise _Stopping
                try:
                    proven = fut.result(timeout=0.25)
                    break
                except FuturesTimeout:
                    continue
        finally:
            st.proving = None
        st.last_prove_s = proven.prove_s
        log.info("batch %d proven: %d bytes in %.1f s", batch.sequence + 1, len(proven.proof), proven.prove_s)
        return proven

    def _certify_and_submit(self, batch: Batch, proof: bytes, l1_batch: Any) -> tuple[Any, float]:
        """``StarkFactService.submit``: verify, register the fact, send the state update (receipt and
        the verification's seconds: until the service asks the registrar for the fact)."""
        from perpetua.circuits.fact_service import StarkFactService

        assert self.follower is not None
        timed = _TimedRegistrar(self.op)
        if self.fact_service is None:  # one service: it remembers where the last batch left the globals
            self.fact_service = StarkFactService(registrar=timed, config=self.follower.rconfig)
        service = self.fact_service
        service.registrar = timed
        started = time.perf_counter()
        try:
            receipt = service.submit(batch, proof, l1_batch, self.op)
        finally:
            timed.verified_s = (timed.asked_at or time.perf_counter()) - started
        return receipt, timed.verified_s

    def _refused(self, seq: int, reason: str, *, tampered: bool, resolution: str) -> None:
        log.warning("batch %d refused by the fact service%s: %s", seq, " (injected fault)" if tampered else "", reason)
        self.status.refused.append({"sequence": seq, "reason": reason, "at": time.time(), "tampered": tampered,
                                    "resolution": resolution})
        del self.status.refused[:-REFUSALS_SHOWN]
        self.publish()

    def _claim_withdrawals(self) -> None:
        """Owners claim on L1 what earlier batches credited them."""
        for pid, trader in self.traders.items():
            if pid == DEMO_ACCOUNT:
                continue
            if self.op.chain.call(self.op.d.exchange, "pending_withdrawals", trader.stark_key):
                trader.withdraw()

    def _demo_flows(self, n: int) -> None:
        """A taker withdraws on L2 (claimable when its batch lands); a maker deposits on L1."""
        taker = TAKERS[n % len(TAKERS)]
        state = self.ex.sequencer.state
        acct = state.accounts.get(taker)
        if acct is not None and acct.collateral > 10 * DEMO_WITHDRAWAL:
            self._submit_l2([WithdrawCollateral(0, taker, DEMO_WITHDRAWAL)])
        maker = MAKERS[n % len(MAKERS)]
        self.traders[maker].deposit(maker, DEMO_TOP_UP)

    # -- the view -----------------------------------------------------------------------------------

    def publish(self) -> None:
        """Recompute the snapshot the route serves (called on the thread that owns the chain)."""
        st = self.status
        out: dict[str, Any] = {
            "enabled": True, "status": st.state, "stoppedReason": st.reason,
            "batchTxs": self.opts.batch_txs, "batchIntervalS": self.opts.interval_s,
            "rollup": None, "l1": None,
            "prover": {"proving": st.proving, "lastProveS": st.last_prove_s,
                       "tamperProofEvery": self.opts.tamper_proof_every,
                       "service": "StarkFactService: verify the batch proof, then register the fact"},
            "refused": [dict(r) for r in reversed(st.refused)],
        }
        f = self.follower
        if f is not None:
            out["rollup"] = {
                "sequence": f.batcher.sequence, "pendingTxs": len(f.batcher.pending), "txs": st.rollup_txs,
                "queuedRecords": self.queue.qsize(), "positions": len(f.batcher.state.positions),
                "systemTime": f.batcher.state.system_time, "lastBatchWallS": st.last_batch_s,
                "positionsRoot": "0x" + f.batcher.tree.roots()[0].hex(),
            }
        if self.op is not None and st.state in ("running", "stopped"):
            try:
                out["l1"] = self._l1_view()
            except Exception as err:  # a read failing must not stop the loop
                out["l1"] = {"error": f"{type(err).__name__}: {err}"}
        self.snapshot = out

    def _l1_view(self) -> dict[str, Any]:
        from perpetua.chain.view import settlement_view

        op = self.op
        view = settlement_view(op, latest=12)
        for b in view["batches"]:
            b.update(self.status.batch_stats.get(b["sequence_number"], {}))
        for row in (*view["withdrawals"], *view["pending_deposits"], *view["forced_requests"]):
            if isinstance(row.get("stark_key"), int):
                row["stark_key"] = f"{row['stark_key']:#x}"
            if isinstance(row.get("amount"), int):
                row["amount"] = _usd(row["amount"])
        d = op.d
        view["contracts"] = {"exchange": d.exchange, "token": d.token, "factRegistry": d.fact_registry,
                             "escapeVerifier": d.escape_verifier}
        view["tokenHeld"] = _usd(op.chain.call(d.token, "balanceOf", d.exchange))
        view["verifierNote"] = ("STARK batch proofs checked by the fact service, which then registers each fact "
                                "in the interim fact registry (no on-chain verifier yet)")
        return view
