"""A seeded random command flow over the default markets, for journal and recovery tests."""

from __future__ import annotations

import random

from perpetua.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    DepositCollateral,
    PlaceOrder,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.orders import OrderType, TimeInForce

BTC = "BTC-USD"
BTC_PRICE = 40_000_000_000  # 40,000 USDC per BTC, in collateral quantums
FIRST_ID = 10
"""First account id: clear of the fee (1) and insurance fund (2) positions."""


def random_flow(seed: int, n: int, accounts: int = 6) -> list[Command]:
    """``n`` commands: accounts and deposits first, then orders, cancels, price moves, withdrawals."""
    rng = random.Random(seed)
    t = 1_000
    cmds: list[Command] = [SetOraclePrice(t, BTC, BTC_PRICE)]
    for pid in range(FIRST_ID, FIRST_ID + accounts):
        t += 1
        cmds.append(CreateAccount(t, pid, 1000 + pid))
        t += 1
        cmds.append(DepositCollateral(t, pid, 1_000_000 * 10**6))
    next_oid = 1
    while len(cmds) < n:
        t += rng.randint(1, 1_000_000)
        pid = rng.randint(FIRST_ID, FIRST_ID + accounts - 1)
        roll = rng.random()
        if roll < 0.75:
            side = rng.choice((1, -1))
            price = BTC_PRICE + rng.randint(-20, 20) * 1_000_000 * 10
            tif = rng.choice((TimeInForce.GTT, TimeInForce.GTT, TimeInForce.IOC))
            cmds.append(PlaceOrder(t, pid, BTC, side, OrderType.LIMIT, tif, rng.randint(10, 200) * 10**6, price,
                                   f"c{len(cmds)}", expires_at_ns=t + rng.randint(1, 10**10) if rng.random() < 0.2 else None))
            next_oid += 1
        elif roll < 0.9:
            cmds.append(CancelOrder(t, pid, rng.randint(1, next_oid)))
        elif roll < 0.93:
            cmds.append(CancelAllOrders(t, pid, BTC))
        elif roll < 0.97:
            cmds.append(SetOraclePrice(t, BTC, BTC_PRICE + rng.randint(-50, 50) * 10**6))
        else:
            cmds.append(WithdrawCollateral(t, pid, rng.randint(1, 10**9)))
    return cmds
