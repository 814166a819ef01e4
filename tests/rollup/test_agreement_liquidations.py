"""The exchange and the rollup agree through liquidations: leveraged random flows through the core
sequencer (gap moves of the oracle, thin books, hourly funding), mapped by the adapter to Trades,
LiquidationCloses (book fills with the fund's leg, deleverages) and SocializedLosses, give the same
balances, sizes and insurance fund; every batch's DA payload rebuilds its roots."""

from __future__ import annotations

import dataclasses
import random

import pytest

from perpetua.core.commands import (
    CreateAccount,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
)
from perpetua.core.events import Event, LiquidationFilled, LossSocialized, PositionDeleveraged
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.signatures import sign
from perpetua.rollup.adapter import ExchangeAdapter, dev_oracle_signer
from perpetua.rollup.batch import Batcher
from perpetua.rollup.rebuild import rebuild
from perpetua.rollup.state import BatchContext
from perpetua.rollup.transactions.liquidation_close import LiquidationClose
from perpetua.rollup.transactions.socialized_loss import SocializedLoss
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
    key,
    private_key,
)

USD = 1_000_000
FUND = EXCHANGE.insurance_fund_position_id


def run_flow(seed: int, socialized: bool, steps: int = 60) -> dict[str, int]:
    rng = random.Random(seed)
    exchange = dataclasses.replace(EXCHANGE, socialized_loss=socialized)
    seq = Sequencer(exchange)
    adapter = ExchangeAdapter(exchange, COLLATERAL, lambda pid, h: sign(private_key(pid), h), NOW_H + 100,
                              oracle_signer=dev_oracle_signer(exchange),
                              funding_indices=dict(base_state().funding_indices))
    adapter.keys[FUND] = CONFIG.insurance_fund_public_key
    config = dataclasses.replace(CONFIG, socialized_loss=socialized)
    batcher = Batcher(base_state(), BatchContext(config=config, min_expiration_hours=NOW_H), max_txs=30)
    batches = []
    counts = {"liquidation_fills": 0, "fund_paid": 0, "deleverages": 0, "socialized": 0, "closes": 0}
    t = [(NOW_S + 60) * 10**9]

    def run(cmd_factory) -> list[Event]:  # type: ignore[no-untyped-def]
        t[0] += 1_000_000
        events = seq.apply(cmd_factory(t[0]))
        for tx in adapter.transactions(events):
            counts["closes"] += isinstance(tx, LiquidationClose)
            batcher.submit(tx)
            if batcher.due():
                batches.append(batcher.cut())
        for e in events:
            if isinstance(e, LiquidationFilled):
                counts["liquidation_fills"] += 1
                counts["fund_paid"] += e.fund_delta < 0
            counts["deleverages"] += isinstance(e, PositionDeleveraged)
            counts["socialized"] += isinstance(e, LossSocialized)
        return events

    prices = {"BTC-USD": 40_000 * USD, "ETH-USD": 3_000 * USD}
    for mid in sorted(prices):
        run(lambda ts, mid=mid: SetOraclePrice(ts, mid, prices[mid]))
    makers, traders = [3, 4, 5], list(range(6, 18))
    for pid in [FEE_POSITION, *makers, *traders]:
        run(lambda ts, pid=pid: CreateAccount(ts, pid, key(pid)))
    for pid in makers:
        run(lambda ts, pid=pid: DepositCollateral(ts, pid, 3_000_000 * USD))
    for pid in traders:
        run(lambda ts, pid=pid: DepositCollateral(ts, pid, rng.randrange(2_000, 10_000) * USD))
    if not socialized:
        run(lambda ts: DepositCollateral(ts, FUND, rng.randrange(0, 3) * 500 * USD))
    n = [0]

    def place(pid: int, market_id: str, side: int, price: int, size: int, tif: TimeInForce) -> None:
        n[0] += 1
        run(lambda ts: PlaceOrder(ts, pid, market_id, side, OrderType.LIMIT, tif, size, price, f"o{n[0]}"))

    def quote(market_id: str, center: int | None = None) -> None:  # a thin ladder of the makers
        market = EXCHANGE.market(market_id)
        center = prices[market_id] if center is None else center
        for level in range(1, 4):
            for side in (1, -1):
                gap = center * level * rng.randrange(2, 12) // 1_000
                price = (center - side * gap) // market.tick_size * market.tick_size
                place(rng.choice(makers), market_id, side, price, rng.randrange(1, 40) * 10 * market.min_order_size,
                      TimeInForce.GTT)

    for mid in sorted(prices):
        quote(mid)
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.5:  # a trader takes leverage from the makers
            pid, market = rng.choice(traders), rng.choice([BTC, ETH])
            side = rng.choice([1, -1])
            price = prices[market.market_id] * (1_000 + side * 25) // 1_000 // market.tick_size * market.tick_size
            account = seq.state.accounts[pid]
            notional = max(account.collateral, 0) * rng.randrange(12, 24)
            size = notional * market.resolution // prices[market.market_id] // market.step_size * market.step_size
            if size >= market.min_order_size:
                place(pid, market.market_id, side, price, size, TimeInForce.IOC)
        elif roll < 0.75:
            for mid in sorted(prices):
                quote(mid)
        elif roll < 0.95:  # a gap move: liquidations on a thin book
            mid = rng.choice(sorted(prices))
            new = prices[mid] + prices[mid] * rng.choice([-1, 1]) * rng.randrange(20, 160) // 1_000
            if rng.random() < 0.5:  # the makers saw it coming: liquidations fill near the new price
                quote(mid, new)
            prices[mid] = new
            run(lambda ts, mid=mid: SetOraclePrice(ts, mid, prices[mid]))
            run(lambda ts, mid=mid: SampleFundingPremium(ts, mid))
        else:  # an hour passes: fresh prices and a funding tick
            t[0] += 3_600 * 10**9
            for mid in sorted(prices):
                run(lambda ts, mid=mid: SetOraclePrice(ts, mid, prices[mid]))
                run(lambda ts, mid=mid: SampleFundingPremium(ts, mid))
            run(lambda ts: FundingTick(ts))
    batches.append(batcher.cut())
    seq.state.check()
    state = batcher.state
    for pid, account in seq.state.accounts.items():
        position = state.position(pid)
        assert position.collateral == account.collateral, pid
        for market_id, held in account.positions.items():
            assert position.balance(EXCHANGE.market(market_id).synthetic_asset_id) == held.size, (pid, market_id)
        assert len(position.assets) == len(account.positions), pid
    rebuilt, tree = rebuild(b.payload for b in batches)
    assert tree.roots() == batches[-1].new_roots
    assert dict(rebuilt.positions.items()) == dict(state.positions.items())
    counts["socialized_txs"] = sum(isinstance(tx, SocializedLoss) for b in batches for tx in b.txs)
    return counts


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_liquidation_flow_agrees(seed: int) -> None:
    counts = run_flow(seed, socialized=False, steps=150)
    assert counts["liquidation_fills"] > 0 and counts["closes"] > 0, counts
    assert counts["deleverages"] > 0, counts
    if seed == 1:
        assert counts["fund_paid"] > 0, counts  # fills below bankruptcy covered by the fund


def test_socialized_loss_flow_agrees() -> None:
    counts = run_flow(5, socialized=True, steps=200)
    assert counts["closes"] > 0 and counts["fund_paid"] > 0, counts
    assert counts["socialized"] == counts["socialized_txs"] > 0, counts
