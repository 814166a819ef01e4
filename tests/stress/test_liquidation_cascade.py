"""Liquidation cascade: 1,000 leveraged longs, a 30% fall over one minute of signed oracle ticks.

Setup through the real sequencer: 1,000 accounts (500 to 5,000 USDC) buy BTC at 5x to 18x from 20
short whales at 40,000; 5 market makers rest a bid ladder from 39,900 down to 27,000 (liquidity for the
liquidation orders, not enough for everything); the insurance fund holds 20,000. Then one signed tick
(3 of the 5 dev oracles) a second for a minute: -0.5% a tick, one gap of -10% (signed by all five,
the strong quorum) at second 20, down to 28,000 (-30%). After every tick: every invariant of
``state.check`` (the fund >= 0), total collateral conserved, no account left liquidatable. The counts
(liquidated, filled on the book, deleveraged, fund drawdown) are printed.
"""

from __future__ import annotations

import random

import pytest

from perpetua.core.commands import CreateAccount, DepositCollateral, PlaceOrder
from perpetua.core.events import (
    AccountLiquidated,
    InsuranceFundChanged,
    LiquidationFilled,
    PositionDeleveraged,
)
from perpetua.core.orders import OrderType, TimeInForce
from tests.core.builders import BTC, CONFIG, S, exchange, signed_tick, usd

FUND = CONFIG.insurance_fund_position_id


def run_cascade(n_traders: int, seed: int = 7) -> dict[str, int]:
    rnd = random.Random(seed)
    whales, makers = list(range(100, 120)), list(range(200, 205))
    seq, clock = exchange(dict.fromkeys(whales + makers, "5000000"), prices={"BTC-USD": "40000"})
    seq.apply(DepositCollateral(clock(), FUND, usd(20000)))
    for n, maker in enumerate(makers):
        for level in range(44):  # 39,900 .. 27,000 every 300, 0.4 BTC a level per maker
            price = usd(39900 - 300 * level - 60 * n)
            seq.apply(PlaceOrder(clock(), maker, "BTC-USD", 1, OrderType.LIMIT, TimeInForce.GTT,
                                 BTC.resolution * 4 // 10, price, f"bid{level}"))
    traders = list(range(1000, 1000 + n_traders))
    sizes = []
    for pid in traders:
        collateral = rnd.randint(500, 5000)
        leverage = rnd.randint(5, 18)
        size = collateral * leverage * BTC.resolution // 40000 // BTC.step_size * BTC.step_size
        sizes.append((pid, collateral, max(size, BTC.min_order_size)))
    per_whale = -(-sum(s for _, _, s in sizes) // len(whales)) // BTC.step_size * BTC.step_size + BTC.step_size
    for w in whales:
        seq.apply(PlaceOrder(clock(), w, "BTC-USD", -1, OrderType.LIMIT, TimeInForce.GTT, per_whale, usd(40000), "ask"))
    for pid, collateral, size in sizes:
        seq.apply(CreateAccount(clock(), pid, 0x1000 + pid))
        seq.apply(DepositCollateral(clock(), pid, usd(collateral)))
        seq.apply(PlaceOrder(clock(), pid, "BTC-USD", 1, OrderType.MARKET, TimeInForce.IOC, size, usd(40000), "buy"))
    assert sum(1 for pid in traders if seq.state.accounts[pid].positions) == n_traders
    total = seq.state.total_collateral()
    fund_max = fund_min = seq.state.insurance_fund.collateral
    counts = {"liquidations": 0, "accounts_liquidated": 0, "book_fills": 0, "deleverages": 0, "accounts_emptied": 0}
    liquidated: set[int] = set()
    price = usd(40000)
    start = clock.ns // S + 1
    for second in range(1, 61):
        gap = second == 20
        target = usd(28000) if second == 60 else price * (900 if gap else 995) // 1000 // BTC.tick_size * BTC.tick_size
        price = target
        now = (start + second) * S
        events = seq.apply(signed_tick(now, {"BTC-USD": price}, signers=5 if gap else 3))
        clock.ns = now
        assert not any(type(e).__name__ == "CommandRejected" for e in events), events[:1]
        for e in events:
            if isinstance(e, AccountLiquidated):
                counts["liquidations"] += 1
                liquidated.add(e.position_id)
                counts["accounts_emptied"] += e.full
                assert e.complete
            elif isinstance(e, LiquidationFilled):
                counts["book_fills"] += 1
            elif isinstance(e, PositionDeleveraged):
                counts["deleverages"] += 1
            elif isinstance(e, InsuranceFundChanged):
                assert e.balance >= 0
                fund_max, fund_min = max(fund_max, e.balance), min(fund_min, e.balance)
        seq.state.check()
        assert seq.state.total_collateral() == total
        assert seq.state.liquidatable_accounts() == []
    assert price == usd(28000)
    counts["accounts_liquidated"] = len(liquidated)
    counts["fund_drawdown_usd"] = (fund_max - fund_min) // 10**6
    counts["fund_end_usd"] = seq.state.insurance_fund.collateral // 10**6
    return counts


def _report(counts: dict[str, int]) -> None:
    print("cascade:", ", ".join(f"{k}={v}" for k, v in counts.items()))


@pytest.mark.slow
def test_cascade_1000_accounts_30_percent_in_a_minute() -> None:
    counts = run_cascade(1000)
    _report(counts)
    assert counts["accounts_liquidated"] > 500
    assert counts["book_fills"] > 0 and counts["deleverages"] > 0


def test_small_cascade() -> None:
    counts = run_cascade(60, seed=3)
    _report(counts)
    assert counts["accounts_liquidated"] > 0
