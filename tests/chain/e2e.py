"""The whole path on real code: L1 deposits -> the core sequencer (DepositCollateral for the pending
L1 deposit, trades, funding ticks, withdrawals) -> `perpetua.rollup.adapter` -> the rollup's
`Batcher` (its roots, payload, commitment; validium: its committee signatures) -> `from_rollup`
-> `OperatorClient.submit_batch` on the Vyper contracts -> claims and escapes on L1.

Oracle prices stay at whole multiples of 2^32 per quantum (BTC 40,000, ETH 3,000), refreshed every
hour, so funding comes from the book's premium alone and escape values are exact integers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from coincurve import PrivateKey

from perpetua.chain.backend import BoaChain
from perpetua.chain.batch import from_rollup
from perpetua.chain.client import OperatorClient, Trader, account, deploy
from perpetua.chain.constants import DA_ROLLUP
from perpetua.core.commands import (
    CreateAccount,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.events import (
    CollateralWithdrawn,
    FundingRateUpdated,
    LiquidationFilled,
    OrderFilled,
    PositionDeleveraged,
)
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.signatures import sign
from perpetua.rollup.adapter import ExchangeAdapter, dev_oracle_signer
from perpetua.rollup.batch import Batch as RollupBatch
from perpetua.rollup.batch import Batcher, Mode
from tests.rollup.helpers import (
    BTC,
    COLLATERAL,
    CONFIG,
    ETH,
    EXCHANGE,
    FEE_POSITION,
    NOW_H,
    NOW_S,
    base_state,
    context,
    key,
    private_key,
)

USD = 1_000_000
PRICES = {"BTC-USD": 40_000 * USD, "ETH-USD": 3_000 * USD}
FUND_POSITION = CONFIG.insurance_fund_position_id
NS = 10**9


@dataclass
class World:
    da_mode: int = DA_ROLLUP
    max_txs: int = 12
    chain: BoaChain = field(init=False)
    seq: Sequencer = field(init=False)
    adapter: ExchangeAdapter = field(init=False)
    batcher: Batcher = field(init=False)
    op: OperatorClient = field(init=False)
    traders: dict[int, Trader] = field(default_factory=dict)
    batches: list[RollupBatch] = field(default_factory=list)
    t_ns: int = (NOW_S + 60) * NS
    fills: int = 0
    funding_ticks: int = 0
    liquidation_fills: int = 0
    deleverages: int = 0
    prices: dict[str, int] = field(default_factory=lambda: dict(PRICES))

    def __post_init__(self) -> None:
        self.chain = BoaChain(start_timestamp=NOW_S)
        self.seq = Sequencer(EXCHANGE)
        self.adapter = ExchangeAdapter(EXCHANGE, COLLATERAL, lambda pid, h: sign(private_key(pid), h), NOW_H + 1_000,
                                       oracle_signer=dev_oracle_signer(EXCHANGE),
                                       funding_indices=dict(base_state().funding_indices))
        mode = Mode.ROLLUP if self.da_mode == DA_ROLLUP else Mode.VALIDIUM
        self.batcher = Batcher(base_state(), context(), mode=mode, max_txs=10**9)
        d = deploy(self.chain, da_mode=self.da_mode, initial_root=self.batcher.tree.roots()[0],
                   label=f"e2e{self.da_mode}")
        if mode is Mode.VALIDIUM:  # the rollup's committee signs with the keys L1 knows
            self.batcher.committee = [PrivateKey(bytes(m.key)) for m in d.committee]
        self.op = OperatorClient(d)
        for pid, stark_key in ((FEE_POSITION, key(FEE_POSITION)), (FUND_POSITION, CONFIG.insurance_fund_public_key)):
            assert stark_key is not None
            self._register(pid, stark_key, fund=0)
        self.run(lambda ts: CreateAccount(ts, FEE_POSITION, key(FEE_POSITION)))
        for mid in sorted(PRICES):
            self.run(lambda ts, mid=mid: SetOraclePrice(ts, mid, PRICES[mid]))

    @property
    def now_s(self) -> int:
        return self.t_ns // NS

    def _register(self, pid: int, stark_key: int, fund: int) -> Trader:
        d = self.op.d
        for trader in self.traders.values():  # the fee position and the fund may share a key
            if trader.stark_key == stark_key:
                self.traders[pid] = trader
                return trader
        eth = account(f"e2e:{self.da_mode}:{pid}")
        self.op.register_user(eth.address, stark_key)
        if fund:
            self.chain.transact(d.governor.address, d.token, "mint", eth.address, fund)
        self.chain.transact(eth.address, d.token, "approve", d.exchange, 2**256 - 1)
        self.traders[pid] = Trader(d, eth, stark_key)
        return self.traders[pid]

    def run(self, command: Any) -> list[Any]:
        """One core command at the next millisecond; its events go through the adapter into the
        rollup (liquidations included: `LiquidationClose`, `SocializedLoss`)."""
        self.t_ns += 1_000_000
        events = self.seq.apply(command(self.t_ns))
        for tx in self.adapter.transactions(events):
            self.batcher.submit(tx)
        for e in events:
            if isinstance(e, CollateralWithdrawn):
                self.op.note_withdrawal_request(key(e.position_id), e.position_id, e.amount, self.now_s)
            self.fills += isinstance(e, OrderFilled)
            self.funding_ticks += isinstance(e, FundingRateUpdated)
            self.liquidation_fills += isinstance(e, LiquidationFilled)
            self.deleverages += isinstance(e, PositionDeleveraged)
        return events

    def advance(self, seconds: int) -> None:
        self.t_ns += seconds * NS

    def open_account(self, pid: int, amount: int) -> Trader:
        """L1: register and deposit; the operator sees the pending deposit and credits it on L2."""
        trader = self._register(pid, key(pid), fund=10 * amount)
        self.run(lambda ts: CreateAccount(ts, pid, key(pid)))
        self.deposit(pid, amount)
        return trader

    def deposit(self, pid: int, amount: int) -> None:
        self.traders[pid].deposit(pid, amount)
        assert self.op.pending_deposits()[(key(pid), pid)] == amount
        self.run(lambda ts: DepositCollateral(ts, pid, amount))

    def hour(self) -> None:
        """An hour passes: fresh oracle prices (unchanged), premium samples, a funding tick."""
        self.advance(3_600)
        for mid in sorted(self.prices):
            self.run(lambda ts, mid=mid: SetOraclePrice(ts, mid, self.prices[mid]))
            self.run(lambda ts, mid=mid: SampleFundingPremium(ts, mid))
        self.run(lambda ts: FundingTick(ts))

    def trade_flow(self, rng: random.Random, pids: list[int], steps: int) -> None:
        for i in range(steps):
            pid = rng.choice(pids)
            market = rng.choice([BTC, ETH])
            mid = self.prices[market.market_id]
            price = mid + rng.randrange(-20, 21) * market.tick_size * (10 if market is BTC else 100)
            size = rng.randrange(1, 20) * market.min_order_size
            side = rng.choice([1, -1])
            self.run(lambda ts, pid=pid, market=market, price=price, size=size, side=side, i=i: PlaceOrder(
                ts, pid, market.market_id, side, OrderType.LIMIT, TimeInForce.GTT, size, price, f"e{i}:{pid}"))
            if len(self.batcher.pending) >= self.max_txs:
                self.commit()

    def commit(self) -> RollupBatch | None:
        """Cut a rollup batch and have it accepted on L1; the L1 root must be the rollup's."""
        if not self.batcher.pending:
            return None
        batch = self.batcher.cut()
        lag = self.now_s + 12 - self.chain.now()
        if lag > 0:
            self.chain.advance_time(lag)
        receipt = self.op.submit_batch(from_rollup(batch))
        (updated,) = [e for e in receipt.events if e.name == "StateUpdated"]
        assert updated.args["sequence_number"] == batch.sequence + 1
        assert bytes(updated.args["new_root"]) == batch.new_roots[0] == self.op.state()["state_root"]
        assert bytes(updated.args["batch_commitment"]) == batch.commitment
        assert bytes(updated.args["da_hash"]) == batch.payload_hash
        self.batches.append(batch)
        return batch

    def withdraw_on_l2(self, pid: int, amount: int) -> None:
        events = self.run(lambda ts: WithdrawCollateral(ts, pid, amount))
        assert any(isinstance(e, CollateralWithdrawn) for e in events), events

    def l1_held(self) -> int:
        """What L1 holds for the L2 state: its token balance less deposits no batch included and
        withdrawals credited but not claimed."""
        d = self.op.d
        keys = {t.stark_key for t in self.traders.values()}
        pending_w = sum(self.chain.call(d.exchange, "pending_withdrawals", k) for k in keys)
        return (self.chain.call(d.token, "balanceOf", d.exchange) - sum(self.op.pending_deposits().values())
                - pending_w)


def standard_flow(w: World, seed: int = 1, n_accounts: int = 6, steps: int = 60) -> list[int]:
    """Deposits, trading, hourly funding, more deposits and withdrawals, in several batches."""
    rng = random.Random(seed)
    pids = list(range(3, 3 + n_accounts))
    for pid in pids:
        w.open_account(pid, rng.randrange(20_000, 60_000) * USD)
    w.commit()
    w.trade_flow(rng, pids, steps // 2)
    w.hour()
    w.trade_flow(rng, pids, steps // 2)
    w.hour()
    w.commit()
    w.deposit(pids[0], 1_000 * USD)
    for pid in pids[1:3]:
        w.withdraw_on_l2(pid, 500 * USD)
    w.advance(600)
    w.hour()
    w.commit()
    return pids


LEVERED = 20
"""The position the crash liquidates."""


def crash_flow(w: World, seed: int = 3) -> list[int]:
    """A leveraged long (10x) on BTC, bids resting above its bankruptcy price, then the oracle drops
    7.5%: the sequencer liquidates it on L2 (auto liquidation: the close fills against the book, the
    penalty goes to the insurance fund); trading and funding go on; batches after every step."""
    rng = random.Random(seed)
    makers = [3, 4, 5, 6]
    for pid in makers:
        w.open_account(pid, rng.randrange(40_000, 60_000) * USD)
    w.open_account(LEVERED, 2_000 * USD)
    w.commit()
    btc = BTC.market_id

    def order(pid: int, side: int, size_milli: int, price_usd: int, cid: str, tif: TimeInForce = TimeInForce.GTT) -> list[Any]:
        return w.run(lambda ts: PlaceOrder(ts, pid, btc, side, OrderType.LIMIT, tif, size_milli * BTC.resolution // 1_000,
                                           price_usd * USD, cid))

    order(3, -1, 500, 40_000, "ask")
    fills = [e for e in order(LEVERED, 1, 500, 40_000, "long", TimeInForce.IOC) if isinstance(e, OrderFilled)]
    assert fills, "the leveraged long must open"
    order(4, 1, 300, 36_900, "bid-1")
    order(5, 1, 300, 36_800, "bid-2")
    w.trade_flow(rng, makers, 10)
    w.hour()
    w.commit()
    fund_before = w.seq.state.insurance_fund.collateral
    liquidations_before = w.liquidation_fills
    w.prices[btc] = 37_000 * USD
    events = w.run(lambda ts: SetOraclePrice(ts, btc, w.prices[btc]))
    liq = [e for e in events if isinstance(e, LiquidationFilled)]
    assert liq and all(e.liquidated_position_id == LEVERED for e in liq), events
    assert w.liquidation_fills > liquidations_before
    assert w.seq.state.insurance_fund.collateral > fund_before, "the penalty goes to the fund"
    assert sum(e.penalty for e in liq) > 0
    w.commit()
    w.trade_flow(rng, makers, 10)
    w.hour()
    w.withdraw_on_l2(makers[0], 300 * USD)
    w.advance(600)
    w.hour()
    w.commit()
    return [*makers, LEVERED]
