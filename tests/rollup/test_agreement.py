"""The exchange and the rollup agree: random order flows through the core sequencer (with oracle
price moves, premium samples and hourly funding ticks), mapped to rollup transactions by the
adapter, give the same balances, insurance fund included; the batches' roots rebuild from DA."""

from __future__ import annotations

import random

import pytest

from perpetua.core.commands import (
    CreateAccount,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.events import FundingPaid, FundingRateUpdated, OrderFilled
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.signatures import sign
from perpetua.rollup.adapter import ExchangeAdapter, dev_oracle_signer
from perpetua.rollup.batch import Batcher
from perpetua.rollup.config import internal_price
from perpetua.rollup.rebuild import rebuild
from tests.rollup.helpers import (
    BTC,
    COLLATERAL,
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


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_flow_balances_and_roots_agree(seed: int) -> None:
    rng = random.Random(seed)
    seq = Sequencer(EXCHANGE)
    adapter = ExchangeAdapter(EXCHANGE, COLLATERAL, lambda pid, h: sign(private_key(pid), h), NOW_H + 100,
                              oracle_signer=dev_oracle_signer(EXCHANGE),
                              funding_indices=dict(base_state().funding_indices))
    batcher = Batcher(base_state(), context(), max_txs=25)
    batches = []
    t = [(NOW_S + 60) * 10**9]

    def run(cmd_factory):  # type: ignore[no-untyped-def]
        t[0] += 1_000_000
        events = seq.apply(cmd_factory(t[0]))
        for tx in adapter.transactions(events):
            batcher.submit(tx)
            if batcher.due():
                batches.append(batcher.cut())
        return events

    run(lambda ts: SetOraclePrice(ts, "BTC-USD", 40_000 * USD))
    run(lambda ts: SetOraclePrice(ts, "ETH-USD", 3_000 * USD))
    accounts = list(range(3, 13))  # 1: fee position, 2: insurance fund
    for pid in [FEE_POSITION, *accounts]:
        run(lambda ts, pid=pid: CreateAccount(ts, pid, key(pid)))
    for pid in accounts:
        run(lambda ts, pid=pid: DepositCollateral(ts, pid, rng.randrange(5_000, 50_000) * USD))
    fills = ticks = moved = 0
    prices = {"BTC-USD": 40_000 * USD, "ETH-USD": 3_000 * USD}
    for i in range(150):
        pid = rng.choice(accounts)
        roll = rng.random()
        if roll < 0.04:  # an hour passes: fresh oracle prices, premium samples, a funding tick
            t[0] += 3_600 * 10**9 + rng.randrange(10**9)
            for mid in sorted(prices):
                prices[mid] += prices[mid] * rng.randrange(-30, 31) // 1_000
                run(lambda ts, mid=mid: SetOraclePrice(ts, mid, prices[mid]))
                run(lambda ts, mid=mid: SampleFundingPremium(ts, mid))
            events = run(lambda ts: FundingTick(ts))
            ticks += sum(isinstance(e, FundingRateUpdated) for e in events)
            paid = [e.amount for e in events if isinstance(e, FundingPaid)]
            assert sum(paid) <= 0
            moved += sum(1 for a in paid if a)
        elif roll < 0.07:
            mid = rng.choice(sorted(prices))
            prices[mid] += prices[mid] * rng.randrange(-10, 11) // 1_000
            run(lambda ts, mid=mid: SetOraclePrice(ts, mid, prices[mid]))
            run(lambda ts, mid=mid: SampleFundingPremium(ts, mid))
        elif roll < 0.10:
            run(lambda ts, pid=pid: DepositCollateral(ts, pid, rng.randrange(100, 5_000) * USD))
        elif roll < 0.13:
            run(lambda ts, pid=pid: WithdrawCollateral(ts, pid, rng.randrange(1, 2_000) * USD))
        else:
            market = rng.choice([BTC, ETH])
            mid = prices[market.market_id] // market.tick_size * market.tick_size
            price = mid + rng.randrange(-20, 21) * market.tick_size * (10 if market is BTC else 100)
            size = rng.randrange(1, 30) * market.min_order_size
            side = rng.choice([1, -1])
            events = run(lambda ts, pid=pid, market=market, price=price, size=size, side=side, i=i: PlaceOrder(
                ts, pid, market.market_id, side, OrderType.LIMIT, TimeInForce.GTT, size, price, f"o{i}"))
            fills += sum(isinstance(e, OrderFilled) for e in events)
    batches.append(batcher.cut())
    assert fills > 10
    assert ticks >= 2 and moved > 0, "the flow must include funding ticks that move collateral"
    assert seq.state.insurance_fund.collateral > 0  # the floors' leftover, checked equal below
    state = batcher.state
    core_indices = {EXCHANGE.market(m).synthetic_asset_id: i for m, i in seq.state.funding_indices.items()}
    assert state.funding_indices == {a: core_indices[a] for a in state.funding_indices}
    assert any(state.funding_indices.values())
    assert state.oracle_prices[BTC.synthetic_asset_id] == internal_price(prices["BTC-USD"], BTC.resolution)
    for pid, account in seq.state.accounts.items():
        position = state.position(pid)
        assert position.collateral == account.collateral, pid
        for market_id, held in account.positions.items():
            asset = EXCHANGE.market(market_id).synthetic_asset_id
            assert position.balance(asset) == held.size, (pid, market_id)
        assert len(position.assets) == len(account.positions)
    rebuilt, tree = rebuild(b.payload for b in batches)
    assert tree.roots() == batches[-1].new_roots
    assert dict(rebuilt.positions.items()) == dict(state.positions.items())
