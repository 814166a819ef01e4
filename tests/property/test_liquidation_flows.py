"""Property: liquidations, the insurance fund and deleveraging keep every invariant (hypothesis).

Leveraged traders against market makers' ladders in BTC-USD, with oracle jumps (up to 12% a move),
hourly funding ticks, fund deposits, and random settings (penalty, buffer, fund cap, socialized-loss
mode). After every command: ``state.check`` (the fund >= 0 and without positions, the holders index
exact), total collateral changes only by deposits, no account is left liquidatable, every liquidation
step completes (the account is healthy or has no positions). The log replays to the same hash.
"""

from __future__ import annotations

import dataclasses
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perpetua.core.commands import (
    Command,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
)
from perpetua.core.events import AccountLiquidated, CollateralDeposited, CollateralWithdrawn
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import replay
from tests.core.builders import BTC, CONFIG, btc, exchange, usd

TRADERS = list(range(10, 18))
MAKERS = [100, 101]
FUND = CONFIG.insurance_fund_position_id


def _config(rnd: random.Random):  # type: ignore[no-untyped-def]
    market = dataclasses.replace(
        BTC,
        liquidation_penalty_ppm=rnd.choice([0, 5_000, 10_000, 25_000]),
        insurance_loss_cap=usd(rnd.choice([0, 200, 100_000])),
    )
    return dataclasses.replace(
        CONFIG,
        markets={**CONFIG.markets, "BTC-USD": market},
        socialized_loss=rnd.random() < 0.3,
        liquidation_buffer_ppm=rnd.choice([0, 50_000, 100_000, 500_000]),
        liquidation_order=rnd.choice(["largest_risk", "market_id"]),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(10, 80))
def test_liquidation_flows_keep_every_invariant(rnd: random.Random, n_ops: int) -> None:
    config = _config(rnd)
    seq, clock = exchange({**{t: str(rnd.randint(300, 3000)) for t in TRADERS}, **dict.fromkeys(MAKERS, "5000000")},
                          config=config)
    seq.apply(DepositCollateral(clock(), FUND, usd(rnd.choice([1, 500, 50_000]))))
    price = usd(40000)
    expected = seq.state.total_collateral()
    for n in range(n_ops):
        k = rnd.randrange(10)
        cmds: list[Command] = []
        if k < 3:  # makers refresh a ladder around the oracle
            for i in range(1, 4):
                for side in (1, -1):
                    px = price - side * usd(rnd.randint(1, 40) * 50 * i)
                    cmds.append(PlaceOrder(clock(), rnd.choice(MAKERS), "BTC-USD", side, OrderType.LIMIT,
                                           TimeInForce.GTT, btc("0.05") * rnd.randint(1, 10), max(usd(1000), px),
                                           f"m{n}-{i}-{side}"))
        elif k < 6:  # a trader levers up with a market order
            side = rnd.choice((1, -1))
            cmds.append(PlaceOrder(clock(), rnd.choice(TRADERS), "BTC-USD", side, OrderType.MARKET,
                                   TimeInForce.IOC, btc("0.01") * rnd.randint(1, 30),
                                   price * (100 + 5 * side) // 100 // BTC.tick_size * BTC.tick_size, f"t{n}"))
        elif k < 9:  # an oracle jump
            price = max(usd(5000), price * (1000 + rnd.randint(-120, 120)) // 1000 // BTC.tick_size * BTC.tick_size)
            cmds.append(SetOraclePrice(clock(), "BTC-USD", price))
        elif rnd.random() < 0.5:
            now = clock(3600 * 10**9)
            cmds += [SetOraclePrice(now, m, p) for m, p in (("BTC-USD", price), ("ETH-USD", usd(3000)))]
            cmds += [SampleFundingPremium(now, "BTC-USD"), FundingTick(clock())]
        else:
            cmds.append(DepositCollateral(clock(), rnd.choice([*TRADERS, FUND]), usd(rnd.randint(1, 500))))
        for cmd in cmds:
            events = seq.apply(cmd)
            for e in events:
                if isinstance(e, CollateralDeposited):
                    expected += e.amount
                elif isinstance(e, CollateralWithdrawn):
                    expected -= e.amount
                elif isinstance(e, AccountLiquidated):
                    assert e.complete, f"liquidation of {e.position_id} left it liquidatable"
                    acct = seq.state.accounts[e.position_id]
                    assert e.full == (not acct.positions)
            seq.state.check()
            assert seq.state.total_collateral() == expected, "collateral not conserved"
            assert seq.state.liquidatable_accounts() == [], "a liquidatable account was left behind"
    assert replay(config, seq.log).state_hash() == seq.state_hash()
