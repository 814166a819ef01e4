"""Matching-engine benchmark: sustained throughput and per-operation latency of the full sequencer.

The mix (issue "Exchange core"): on one market (BTC-USD) with a book of ~10,000 resting orders,
60% limit adds that rest, 30% cancels of resting orders, 10% aggressive IOC orders that match.
Every operation goes through ``Sequencer.apply``: field checks, order-margin check, matching with the
StarkEx trade rule at every fill, fees, events. Pure Python, one core.

Method: a seeded generator drives a first sequencer to produce the command list (so cancels name
live orders); a fresh sequencer then applies that exact list, timed as a whole (throughput), and a
third applies it again timing each call (latency percentiles). The three reach the same state hash.

    python bench/matching.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from perpetua.core.commands import (
    CancelOrder,
    Command,
    CreateAccount,
    DepositCollateral,
    PlaceOrder,
    SetOraclePrice,
)
from perpetua.core.events import OrderAccepted
from perpetua.core.markets import load_config
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer

MID = "BTC-USD"
N_ACCOUNTS = 500
MID_PRICE_TICKS = 40_000  # USD; BTC tick = 1 USD
HALF_SPREAD_TICKS = 1
BOOK_HALF_WIDTH_TICKS = 250


def generate(n_ops: int, book_orders: int, seed: int) -> tuple[list[Command], list[Command]]:
    """(setup commands, measured commands)."""
    cfg = load_config()
    m = cfg.markets[MID]
    tick, step = m.tick_size, m.step_size
    rng = random.Random(seed)
    seq = Sequencer(cfg)
    t = [1_000]

    def now() -> int:
        t[0] += 1_000
        return t[0]

    setup: list[Command] = [SetOraclePrice(now(), MID, MID_PRICE_TICKS * tick)]
    for pid in range(10, 10 + N_ACCOUNTS):
        setup += [CreateAccount(now(), pid, 0x1000 + pid), DepositCollateral(now(), pid, 10**15)]
    live: list[int] = []  # order ids we may cancel (some may have filled meanwhile)
    cid = [0]

    def limit(side: int, aggressive: bool) -> PlaceOrder:
        cid[0] += 1
        pid = 10 + rng.randrange(N_ACCOUNTS)
        size = rng.choice((10, 20, 50, 100, 200)) * step  # 0.001 - 0.02 BTC
        if aggressive:
            # Three times the mean resting size, with a limit deep enough to reach it: an aggressive
            # order takes about three resting orders, which holds the book near its starting size.
            size = 3 * rng.choice((10, 20, 50, 100, 200)) * step
            price = (MID_PRICE_TICKS + side * BOOK_HALF_WIDTH_TICKS) * tick
            return PlaceOrder(now(), pid, MID, side, OrderType.LIMIT, TimeInForce.IOC, size, price, f"a{cid[0]}")
        offset = HALF_SPREAD_TICKS + int(rng.expovariate(1 / 40)) % BOOK_HALF_WIDTH_TICKS
        price = (MID_PRICE_TICKS - side * offset) * tick
        return PlaceOrder(now(), pid, MID, side, OrderType.LIMIT, TimeInForce.GTT, size, price, f"c{cid[0]}")

    for cmd in setup:
        seq.apply(cmd)
    for _ in range(book_orders):
        cmd = limit(rng.choice((1, -1)), aggressive=False)
        setup.append(cmd)
        for ev in seq.apply(cmd):
            if isinstance(ev, OrderAccepted):
                live.append(ev.order_id)
    ops: list[Command] = []
    for _ in range(n_ops):
        r = rng.random()
        if r < 0.6 or not live:
            cmd: Command = limit(rng.choice((1, -1)), aggressive=False)
        elif r < 0.9:
            order = None
            while live and order is None:  # pick a resting order; forget filled ones on the way
                i = rng.randrange(len(live))
                live[i], live[-1] = live[-1], live[i]
                order = seq.state.orders.get(live.pop())
            if order is None:
                continue
            cmd = CancelOrder(now(), order.account_id, order.order_id)
        else:
            cmd = limit(rng.choice((1, -1)), aggressive=True)
        ops.append(cmd)
        for ev in seq.apply(cmd):
            if isinstance(ev, OrderAccepted) and isinstance(cmd, PlaceOrder) and cmd.time_in_force is TimeInForce.GTT:
                live.append(ev.order_id)
    return setup, ops


def kind(cmd: Command) -> str:
    if isinstance(cmd, CancelOrder):
        return "cancel"
    assert isinstance(cmd, PlaceOrder)
    return "add" if cmd.time_in_force is TimeInForce.GTT else "aggressive"


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1000.0


def run(n_ops: int, book_orders: int, seed: int) -> dict[str, object]:
    setup, ops = generate(n_ops, book_orders, seed)
    cfg = load_config()

    seq = Sequencer(cfg)
    for cmd in setup:
        seq.apply(cmd)
    resting = sum(1 for o in seq.state.orders.values())
    apply = seq.apply
    gc.collect()
    t0 = time.perf_counter()
    for cmd in ops:
        apply(cmd)
    elapsed = time.perf_counter() - t0
    fills = seq.state.next_fill_id - 1
    hash_a = seq.state_hash()
    resting_end = len(seq.state.orders)

    seq = Sequencer(cfg)
    for cmd in setup:
        seq.apply(cmd)
    apply = seq.apply
    clock = time.perf_counter_ns
    lat: dict[str, list[int]] = {"add": [], "cancel": [], "aggressive": []}
    gc.collect()
    for cmd in ops:
        t = clock()
        apply(cmd)
        lat[kind(cmd)].append(clock() - t)
    assert seq.state_hash() == hash_a, "replay diverged"
    every = sorted(v for vs in lat.values() for v in vs)
    out: dict[str, object] = {
        "ops_per_s": round(n_ops / elapsed),
        "p50_us": percentile(every, 0.50),
        "p99_us": percentile(every, 0.99),
        "ops": n_ops,
        "book_orders_start": resting,
        "book_orders_end": resting_end,
        "fills": fills,
        "seconds": round(elapsed, 3),
    }
    for k, vs in lat.items():
        vs.sort()
        out[f"{k}_p50_us"] = percentile(vs, 0.50)
        out[f"{k}_p99_us"] = percentile(vs, 0.99)
        out[f"{k}_count"] = len(vs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller run (well under 30 s)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n_ops = 100_000 if args.quick else 1_000_000
    res = run(n_ops, 10_000, args.seed)
    print(f"matching benchmark: {MID}, mix 60% add / 30% cancel / 10% aggressive IOC, seed {args.seed}")
    print(f"{'figure':<24}{'value':>14}")
    for k, v in res.items():
        print(f"{k:<24}{v:>14}")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
