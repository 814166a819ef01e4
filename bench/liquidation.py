"""Liquidation benchmark: the checks after a BTC-USD price move touching 100,000 accounts.

Setup (not timed): 100,000 accounts with BTC-USD positions (alternately long and short, sizes 0.001 to
0.097 BTC, longs = shorts) built directly in state as a trading history would leave them, with the
holders index filled; equity 15% of notional, except one long in 50 at 5%. A market maker rests a
deep bid ladder. Timed (best of repeats):

- ``check_100k_s``: ``liquidation.scan_market`` after a -3% move: which of the 100,000 accounts are
  liquidatable (1,000 are);
- ``quiet_move_100k_s``: ``Sequencer.apply(SetOraclePrice)`` for a -1% move: the checks of all 100,000,
  none liquidatable;
- ``move_liquidating_1k_s``: ``Sequencer.apply(SetOraclePrice)`` for the -3% move: the checks plus
  1,000 liquidations through the book (events included).

Usage: ``python bench/liquidation.py [--quick] [--json]``; ``--json`` prints one JSON object last.
"""

from __future__ import annotations

import time

from _report import run_bench

from perpetua.core.accounts import Account, Position
from perpetua.core.commands import CreateAccount, DepositCollateral, PlaceOrder, SetOraclePrice
from perpetua.core.events import AccountLiquidated
from perpetua.core.liquidation import scan_market
from perpetua.core.markets import load_config
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer

S = 1_000_000_000
T0 = 1_700_000_000 * S
MARKET = "BTC-USD"
PRICE = 40_000_000_000
RES = 10**10
MAKER = 7


def build(n_accounts: int) -> Sequencer:
    seq = Sequencer(load_config(), keep_log=False)
    seq.apply(SetOraclePrice(T0, MARKET, PRICE))
    seq.apply(CreateAccount(T0, MAKER, 0x7777))
    seq.apply(DepositCollateral(T0, MAKER, 10**15))
    for level in range(100):  # 2 BTC every 20 USD from 39,990 down
        price = PRICE - 10_000_000 - level * 20_000_000
        seq.apply(PlaceOrder(T0, MAKER, MARKET, 1, OrderType.LIMIT, TimeInForce.GTT, 2 * RES, price, f"b{level}"))
    state = seq.state
    index = state.funding_indices[MARKET]
    holders = state.holders[MARKET]
    for i in range(n_accounts // 2):
        size = (1 + i % 97) * 10_000_000  # 0.001 .. 0.097 BTC
        notional = size * PRICE // RES
        for k, sign in ((2 * i, 1), (2 * i + 1, -1)):
            pid = 1000 + k
            equity = notional * (5 if sign > 0 and i % 50 == 0 else 15) // 100
            acct = Account(pid, 0x1000 + pid, collateral=equity - sign * notional)
            acct.positions[MARKET] = Position(sign * size, index)
            state.accounts[pid] = acct
            holders[pid] = acct
    return seq


def run(n_accounts: int, repeats: int) -> dict[str, float | int]:
    check_s = quiet_s = move_s = float("inf")
    liquidated = 0
    for r in range(repeats):
        seq = build(n_accounts)
        state = seq.state
        state.oracle_prices[MARKET] = PRICE * 97 // 100
        t = time.perf_counter()
        found = scan_market(state, MARKET)
        check_s = min(check_s, time.perf_counter() - t)
        assert len(found) == n_accounts // 100, len(found)
        state.oracle_prices[MARKET] = PRICE
        t = time.perf_counter()
        events = seq.apply(SetOraclePrice(T0 + S * (r + 1), MARKET, PRICE * 99 // 100))
        quiet_s = min(quiet_s, time.perf_counter() - t)
        assert not any(isinstance(e, AccountLiquidated) for e in events)
        total = state.total_collateral()
        t = time.perf_counter()
        events = seq.apply(SetOraclePrice(T0 + S * (r + 1) + 1, MARKET, PRICE * 97 // 100))
        move_s = min(move_s, time.perf_counter() - t)
        liquidated = sum(isinstance(e, AccountLiquidated) for e in events)
        assert liquidated == n_accounts // 100, liquidated
        assert state.total_collateral() == total
        assert scan_market(state, MARKET) == []
    return {"check_100k_s": round(check_s, 4), "quiet_move_100k_s": round(quiet_s, 4),
            "move_liquidating_1k_s": round(move_s, 4), "accounts": n_accounts, "liquidated": liquidated,
            "repeats": repeats}


def main() -> None:
    run_bench(__doc__.splitlines()[0], "liquidation benchmark: checks after a BTC-USD move over 100,000 positions (best of repeats)",
              lambda quick: run(100_000, 2 if quick else 5))


if __name__ == "__main__":
    main()
