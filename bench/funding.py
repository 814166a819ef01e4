"""Funding benchmark: one funding tick that moves the BTC-USD index and settles 100,000 positions.

Setup (not timed): 100,000 accounts with BTC-USD positions (alternately long and short, sizes
varying, longs = shorts), built directly in state as a long trading history would leave them; a
fresh oracle price and one premium sample. Timed:

- ``tick_s``: ``Sequencer.apply(FundingTick)``: rate, index move, settlement of every position
  (one floor each), rounding to the insurance fund, and one ``FundingPaid`` event per position;
- ``settle_100k_s``: ``funding.settle_market`` alone over the same 100,000 positions.

Usage: ``python bench/funding.py [--quick] [--json]``; the best of several repeats is reported.
"""

from __future__ import annotations

import time

from _report import run_bench

from perpetua.core.accounts import Account, Position
from perpetua.core.commands import FundingTick, SampleFundingPremium, SetOraclePrice
from perpetua.core.events import FundingRateUpdated
from perpetua.core.funding import settle_market
from perpetua.core.markets import load_config
from perpetua.core.sequencer import Sequencer

S = 1_000_000_000
T0 = 1_700_000_000 * S
MARKET = "BTC-USD"


def build(n_positions: int) -> Sequencer:
    seq = Sequencer(load_config())
    seq.apply(SetOraclePrice(T0, MARKET, 40_000_000_000))
    state = seq.state
    index = state.funding_indices[MARKET]
    for i in range(n_positions // 2):
        size = (1 + i % 97) * 1_000_000  # 0.0001 .. 0.0097 BTC
        for k, sign in ((2 * i, 1), (2 * i + 1, -1)):
            pid = 1000 + k
            acct = Account(pid, 0x1000 + pid, collateral=10_000_000_000)
            acct.positions[MARKET] = Position(sign * size, index)
            state.accounts[pid] = acct
    return seq


def run(n_positions: int, repeats: int) -> dict[str, float | int]:
    tick_s = settle_s = float("inf")
    settled = 0
    for r in range(repeats):
        seq = build(n_positions)
        now = T0 + 3600 * S * (r + 1)
        seq.apply(SetOraclePrice(now - S, MARKET, 40_100_000_000))
        seq.apply(SampleFundingPremium(now - S, MARKET))
        total = seq.state.total_collateral()
        t = time.perf_counter()
        events = seq.apply(FundingTick(now, MARKET))
        tick_s = min(tick_s, time.perf_counter() - t)
        head = events[0]
        assert isinstance(head, FundingRateUpdated) and head.positions_settled == n_positions
        assert seq.state.total_collateral() == total
        settled = head.positions_settled
        new_index = seq.state.funding_indices[MARKET] + 1_000_000
        t = time.perf_counter()
        settle_market(seq.state.accounts.values(), MARKET, new_index)
        settle_s = min(settle_s, time.perf_counter() - t)
    return {"tick_s": round(tick_s, 4), "settle_100k_s": round(settle_s, 4), "positions": settled,
            "repeats": repeats}


def main() -> None:
    run_bench(__doc__.splitlines()[0], "funding benchmark: one FundingTick over 100,000 BTC-USD positions (best of repeats)",
              lambda quick: run(100_000, 2 if quick else 5))


if __name__ == "__main__":
    main()
