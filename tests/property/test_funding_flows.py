"""Property: funding never creates or destroys collateral (hypothesis).

Random trading in two markets, oracle moves, premium samples and hourly funding ticks through the real
sequencer. After every command: total collateral over all accounts (fee position and insurance fund
included) changes only by deposits; every tick's payments plus its rounding sum to zero, the rounding
is less than one quantum per settled position and lands in the insurance fund; every invariant of
``state.check`` holds (no position is left unsettled). The log replays to the same hash.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perpetua.core.commands import (
    Command,
    CreateAccount,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
)
from perpetua.core.events import CollateralDeposited, FundingPaid, FundingRateUpdated
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer, replay
from tests.core.builders import CONFIG, S, btc, eth, signed_tick, usd

ACCOUNTS = list(range(10, 16))
MARKETS = {"BTC-USD": (usd(40000), usd(1), btc("0.01")), "ETH-USD": (usd(3000), usd("0.1"), eth("0.1"))}
T0 = 1_700_000_000 * S


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(10, 150))
def test_funding_ticks_conserve_collateral(rnd: random.Random, n_ops: int) -> None:
    seq = Sequencer(CONFIG)
    now = T0
    oracle = {m: v[0] for m, v in MARKETS.items()}
    cmds: list[Command] = [signed_tick(now, oracle)]
    for pid in ACCOUNTS:
        cmds += [CreateAccount(now, pid, 0x2000 + pid), DepositCollateral(now, pid, usd(rnd.randint(5_000, 200_000)))]
    n = 0
    for _ in range(n_ops):
        k = rnd.randrange(10)
        mid = rnd.choice(sorted(MARKETS))
        _price0, tick, lot = MARKETS[mid]
        now += rnd.randint(1, 120) * S
        if k < 6:
            n += 1
            tif = rnd.choice([TimeInForce.GTT, TimeInForce.GTT, TimeInForce.IOC])
            price = max(tick, oracle[mid] + rnd.randint(-40, 40) * tick * 5)
            cmds.append(PlaceOrder(now, rnd.choice(ACCOUNTS), mid, rnd.choice((1, -1)), OrderType.LIMIT, tif,
                                   rnd.randint(1, 60) * lot, price, f"o{n}"))
        elif k == 6:
            oracle[mid] = max(tick, oracle[mid] + rnd.randint(-200, 200) * tick)
            cmds.append(SetOraclePrice(now, mid, oracle[mid]))
        elif k == 7:
            cmds.append(SampleFundingPremium(now, mid))
        else:  # an hour passes: fresh prices, a sample, the funding tick
            now += 3600 * S
            if rnd.random() < 0.3:
                cmds.append(signed_tick(now, oracle, signers=5))
            else:
                cmds += [SetOraclePrice(now, m, p) for m, p in sorted(oracle.items())]
            cmds.append(SampleFundingPremium(now, mid))
            cmds.append(FundingTick(now + rnd.randint(0, 5) * S))
    expected = 0
    insurance = seq.state.insurance_fund
    for cmd in cmds:
        fund_before = insurance.collateral
        events = seq.apply(cmd)
        rounding = 0
        paid: dict[str, int] = {}
        for e in events:
            if isinstance(e, CollateralDeposited):
                expected += e.amount
            elif isinstance(e, FundingRateUpdated):
                rounding += e.rounding
                assert 0 <= e.rounding <= max(0, e.positions_settled - 1)
                paid[e.market_id] = e.rounding
            elif isinstance(e, FundingPaid):
                paid[e.market_id] += e.amount
        assert all(v == 0 for v in paid.values()), "payments + rounding != 0"
        assert insurance.collateral == fund_before + rounding
        assert seq.state.total_collateral() == expected, "collateral not conserved"
        seq.state.check()
    assert replay(CONFIG, seq.log).state_hash() == seq.state_hash()

