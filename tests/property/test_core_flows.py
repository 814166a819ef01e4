"""Property tests over random order flows through the real sequencer (hypothesis).

After every command: the book never crosses and every structure is consistent (``state.check``);
collateral is conserved (only deposits and withdrawals change the total, fees, funding and the
insurance fund included; hourly funding ticks settle every position); no account is left liquidatable
(liquidations run after every price move); a rejected
command changes nothing. Across the flow: filled + remaining = original size for every order; a
reduce-only order never grows a position; cancel is idempotent; replaying the command log reproduces
the same state hash.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perpetua.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.events import (
    CollateralDeposited,
    CollateralWithdrawn,
    CommandRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    PositionDeleveraged,
)
from perpetua.core.orders import OrderType, TimeInForce, TriggerSource
from perpetua.core.sequencer import replay
from tests.core.builders import CONFIG, btc, eth, exchange, usd

ACCOUNTS = [10, 11, 12, 13]
MARKETS = {"BTC-USD": (usd(40000), usd(1), btc("0.001")), "ETH-USD": (usd(3000), usd("0.1"), eth("0.01"))}

def random_op(rnd: random.Random) -> tuple[object, ...]:
    """One command description; about two thirds are placements, mostly plain limits near the oracle
    so books fill and cross, with every order type, time in force and flag represented."""
    k = rnd.randrange(16)
    if k < 10:
        return (
            "place",
            rnd.choice(ACCOUNTS),
            rnd.choice(sorted(MARKETS)),
            rnd.choice((1, -1)),
            rnd.choice([OrderType.LIMIT] * 6 + list(OrderType)),
            rnd.choice([TimeInForce.GTT] * 3 + list(TimeInForce)),
            rnd.randint(1, 40),  # size in minimum sizes
            rnd.randint(-30, 30),  # price offset from the oracle, in 5-tick steps
            rnd.random() < 0.2,  # post-only
            rnd.random() < 0.25,  # reduce-only
            rnd.randint(-30, 30),  # trigger offset
            rnd.choice(list(TriggerSource)),
        )
    if k == 10:
        return ("cancel", rnd.choice(ACCOUNTS), rnd.randint(1, 60), rnd.random() < 0.5)
    if k == 11:
        return ("cancel_all", rnd.choice(ACCOUNTS), rnd.choice([None, "BTC-USD"]))
    if k == 12:
        return ("oracle", rnd.choice(sorted(MARKETS)), rnd.randint(-400, 400))
    if k == 13:
        return ("deposit", rnd.choice(ACCOUNTS), rnd.randint(1, 5000))
    if k == 15:
        return ("funding", rnd.choice(sorted(MARKETS)))
    return ("withdraw", rnd.choice(ACCOUNTS), rnd.randint(1, 5000))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(5, 120))
def test_random_flows_keep_every_invariant(rnd: random.Random, n_ops: int) -> None:
    ops = [random_op(rnd) for _ in range(n_ops)]
    seq, clock = exchange({a: "20000" for a in ACCOUNTS})
    oracle = {m: v[0] for m, v in MARKETS.items()}
    expected_total = seq.state.total_collateral()
    original: dict[int, int] = {}
    reduce_only: set[int] = set()
    filled: dict[int, int] = {}
    final_remaining: dict[int, int] = {}
    shadow = {a: dict.fromkeys(MARKETS, 0) for a in ACCOUNTS}
    n = 0
    for item in ops:
        kind = item[0]
        cmds: list[Command] = []
        if kind == "place":
            _, pid, mid, side, otype, tif, lots, off, post, ro, toff, src = item
            _, tick, lot = MARKETS[mid]  # type: ignore[index]
            n += 1
            trig = oracle[mid] + toff * 5 * tick if otype in (  # type: ignore[operator,index]
                OrderType.STOP_LIMIT, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET
            ) else None
            cmds.append(PlaceOrder(
                clock(), pid, mid, side, otype, tif, lots * lot, max(tick, oracle[mid] + off * 5 * tick),  # type: ignore[arg-type,operator,index]
                f"o{n}", post_only=post, reduce_only=ro, trigger_price=trig, trigger_source=src,  # type: ignore[arg-type]
                trailing_ppm=20_000 if otype is OrderType.TRAILING_STOP else None,
            ))
        elif kind == "cancel":
            _, pid, oid, twice = item
            cmds.append(CancelOrder(clock(), pid, oid))  # type: ignore[arg-type]
            if twice:
                cmds.append(CancelOrder(clock(), pid, oid))  # type: ignore[arg-type]
        elif kind == "cancel_all":
            cmds.append(CancelAllOrders(clock(), item[1], item[2]))  # type: ignore[arg-type]
        elif kind == "oracle":
            _, mid, move = item
            price = max(MARKETS[mid][1], oracle[mid] + move * MARKETS[mid][1] * 10)  # type: ignore[index,operator]
            cmds.append(SetOraclePrice(clock(), mid, price))  # type: ignore[arg-type]
        elif kind == "funding":  # an hour passes: fresh prices, a premium sample, a funding tick
            now = clock(3600 * 10**9)
            cmds += [SetOraclePrice(now, m, p) for m, p in sorted(oracle.items())]
            cmds += [SampleFundingPremium(now, item[1]), FundingTick(clock())]  # type: ignore[arg-type]
        elif kind == "deposit":
            cmds.append(DepositCollateral(clock(), item[1], usd(item[2])))  # type: ignore[arg-type]
        else:
            cmds.append(WithdrawCollateral(clock(), item[1], usd(item[2])))  # type: ignore[arg-type]
        for cmd in cmds:
            before = seq.state.canonical()
            events = seq.apply(cmd)
            if isinstance(cmd, SetOraclePrice) and events and not isinstance(events[0], CommandRejected):
                oracle[cmd.market_id] = cmd.price
            if events and all(isinstance(e, (OrderRejected, CommandRejected)) for e in events):
                assert seq.state.canonical()[1:] == before[1:], "a rejected command changed state"
            if isinstance(cmd, CancelOrder) and cmds[0] is not cmd:  # the repeated cancel
                assert seq.state.canonical()[1:] == before[1:], "a second cancel changed state"
            for e in events:
                if isinstance(e, OrderAccepted):
                    original[e.order_id] = e.size
                    if isinstance(cmd, PlaceOrder) and cmd.reduce_only:
                        reduce_only.add(e.order_id)
                elif isinstance(e, OrderFilled):
                    for oid, pid, sign, rem in (
                        (e.taker_order_id, e.taker_position_id, e.taker_side, e.taker_remaining),
                        (e.maker_order_id, e.maker_position_id, -e.taker_side, e.maker_remaining),
                    ):
                        filled[oid] = filled.get(oid, 0) + e.size
                        final_remaining[oid] = rem
                        old = shadow[pid][e.market_id]
                        new = old + sign * e.size
                        if oid in reduce_only:
                            assert abs(new) < abs(old) and new * old >= 0, "reduce-only grew a position"
                        shadow[pid][e.market_id] = new
                elif isinstance(e, OrderCanceled):
                    final_remaining[e.order_id] = e.remaining
                elif isinstance(e, PositionDeleveraged):
                    shadow[e.deleveraged_position_id][e.market_id] += e.deleveraged_side * e.size
                    shadow[e.deleverager_position_id][e.market_id] -= e.deleveraged_side * e.size
                elif isinstance(e, CollateralDeposited):
                    expected_total += e.amount
                elif isinstance(e, CollateralWithdrawn):
                    expected_total -= e.amount
            seq.state.check()  # includes: the insurance fund >= 0 and holds no position; holders index
            assert seq.state.total_collateral() == expected_total, "collateral not conserved"
            assert seq.state.liquidatable_accounts() == [], "a liquidatable account was left behind"
    for oid, size in original.items():
        live = seq.state.orders.get(oid)
        remaining = live.remaining if live is not None else final_remaining.get(oid, 0 if filled.get(oid) else size)
        assert filled.get(oid, 0) + remaining == size, f"order {oid}: filled + remaining != size"
    for pid in ACCOUNTS:
        for mid in MARKETS:
            assert seq.state.accounts[pid].size(mid) == shadow[pid][mid]
    assert replay(CONFIG, seq.log).state_hash() == seq.state_hash()
