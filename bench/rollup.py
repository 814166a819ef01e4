"""Rollup benchmark: trades applied per second with root updates, Merkle cost per leaf, rebuild from DA.

    python bench/rollup.py [--quick] [--json]

Full mode: a tree of 1,000,000 positions; --quick: 10,000 (< 30 s). One core. Trades are between
random positions on fresh signed orders, applied through `apply`, cut into batches of 1,000 whose
state diff is hashed into both trees (positions and orders). `trades_per_s` counts signatures as
verified at order admission (the exchange's verifier pool fills the memo, as in production);
`trades_full_verify_per_s` verifies both signatures inline. `--json` prints one JSON object last.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _report import bench_parser, print_json, print_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from perpetua.core.markets import load_config
from perpetua.crypto.assets import Network, collateral_asset_id
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import LimitOrder
from perpetua.crypto.signatures import sign
from perpetua.rollup.apply import apply
from perpetua.rollup.batch import Batcher, encode_diff, state_diff
from perpetua.rollup.config import config_from_exchange, internal_price
from perpetua.rollup.orders import SignedOrder, limit_order_hash
from perpetua.rollup.pmap import PMap
from perpetua.rollup.position import Position
from perpetua.rollup.rebuild import rebuild
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.tree import StateTree, hash_positions
from perpetua.stark import poseidon2

BATCH = 1_000
N_KEYS = 64


def main() -> None:
    args = bench_parser().parse_args()
    n_positions = 10_000 if args.quick else 1_000_000
    n_trades = 2_000 if args.quick else 5_000
    rng = random.Random(7)
    exchange = load_config()
    btc = exchange.market("BTC-USD")
    coll = collateral_asset_id(Network.SEPOLIA)
    privs = [private_key_from_seed(f"bench-{i}".encode()) for i in range(N_KEYS)]
    keys = [public_key(k) for k in privs]
    config = config_from_exchange(exchange, coll, keys[0])
    hours = 480_000
    ctx = BatchContext(config=config, min_expiration_hours=hours)
    price = internal_price(40_000_000_000, btc.resolution)
    ids = range(10, 10 + n_positions)
    t0 = time.perf_counter()
    genesis_positions = {pid: Position(keys[pid % N_KEYS], 1_000_000_000_000) for pid in ids}
    base = RollupState(positions=PMap(genesis_positions), funding_indices={btc.synthetic_asset_id: 0},
                       oracle_prices={btc.synthetic_asset_id: price}, funding_timestamp=hours * 3600,
                       system_time=hours * 3600)
    genesis_payload = encode_diff(state_diff(RollupState(), base))
    tree = StateTree()
    tree.apply_diff(genesis_positions, {})
    build_s = time.perf_counter() - t0

    # Merkle cost per leaf: 2,000 random positions re-hashed and written into the tree.
    sample = rng.sample(list(ids), 2_000)
    changed = {pid: replace(genesis_positions[pid], collateral=7) for pid in sample}
    t0 = time.perf_counter()
    tree.positions.update(dict(zip(sample, hash_positions([changed[p] for p in sample]), strict=True)))
    leaf_update_us = (time.perf_counter() - t0) / len(sample) * 1e6
    tree.positions.update(dict(zip(sample, hash_positions([genesis_positions[p] for p in sample]), strict=True)))

    def make_trades(count: int, salt: int) -> list[Trade]:
        out = []
        for i in range(count):
            a, b = rng.sample(list(ids[:]) if n_positions <= 10_000 else [rng.choice(ids), rng.choice(ids)], 2)
            size, coll_amt = btc.min_order_size, 40_000 * btc.min_order_size * 1_000_000 // btc.resolution
            oa = LimitOrder(btc.synthetic_asset_id, coll, coll, True, size, coll_amt, coll_amt, salt + i, a, hours + 5)
            ob = LimitOrder(btc.synthetic_asset_id, coll, coll, False, size, coll_amt, coll_amt, salt + i, b, hours + 5)
            sa = SignedOrder(oa, keys[a % N_KEYS], sign(privs[a % N_KEYS], limit_order_hash(oa)))
            sb = SignedOrder(ob, keys[b % N_KEYS], sign(privs[b % N_KEYS], limit_order_hash(ob)))
            out.append(Trade(sa, sb, coll_amt, size, 20_000, 20_000))
        return out

    trades = make_trades(n_trades, 0)
    for tx in trades:  # admission: the verifier pool checks each order's signature once
        for side in (tx.party_a, tx.party_b):
            ctx.signatures.add(side.public_key, limit_order_hash(side.order), side.signature)
    batcher = Batcher(base, ctx, max_txs=BATCH, tree=tree, batch_start_state=base)
    payloads = [genesis_payload]
    t0 = time.perf_counter()
    apply_s = 0.0
    for tx in trades:
        s = time.perf_counter()
        batcher.submit(tx)
        apply_s += time.perf_counter() - s
        if batcher.due():
            payloads.append(batcher.cut().payload)
    if batcher.pending:
        payloads.append(batcher.cut().payload)
    total_s = time.perf_counter() - t0
    trades_per_s = n_trades / total_s
    root_s = total_s - apply_s

    verify_trades = make_trades(300, 10**6)
    state = batcher.state
    t0 = time.perf_counter()
    fresh_ctx = BatchContext(config=config, min_expiration_hours=hours)
    for tx in verify_trades:
        state, _ = apply(state, tx, fresh_ctx)
    verify_apply_s = (time.perf_counter() - t0) / len(verify_trades)
    trades_full_verify_per_s = 1 / (verify_apply_s + root_s / n_trades)

    t0 = time.perf_counter()
    _, rebuilt = rebuild(payloads)
    rebuild_s = time.perf_counter() - t0
    assert rebuilt.roots() == batcher.tree.roots(), "rebuild from DA gave a different root"

    states = np.random.default_rng(1).integers(0, poseidon2.P, size=(2_000, 16), dtype=np.uint64)
    t0 = time.perf_counter()
    poseidon2.permute(states)
    permutation_us = (time.perf_counter() - t0) / len(states) * 1e6
    t0 = time.perf_counter()
    poseidon2.permute(states[:1])
    single_permutation_us = (time.perf_counter() - t0) * 1e6

    figures = {
        "positions": n_positions,
        "trades": n_trades,
        "batch_size": BATCH,
        "trades_per_s": round(trades_per_s, 1),
        "trades_full_verify_per_s": round(trades_full_verify_per_s, 1),
        "apply_us_per_trade": round(apply_s / n_trades * 1e6, 1),
        "root_update_us_per_trade": round(root_s / n_trades * 1e6, 1),
        "leaf_update_us": round(leaf_update_us, 1),
        "permutation_us_batched": round(permutation_us, 2),
        "permutation_us_single": round(single_permutation_us, 1),
        "initial_build_s": round(build_s, 2),
        "rebuild_s": round(rebuild_s, 2),
    }
    print_rows(figures.items())
    print_json(args, figures)


if __name__ == "__main__":
    main()
