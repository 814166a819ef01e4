"""Batch proof benchmark: the positions-root transition of rollup batches of N trades.

    python bench/batch_proof.py [--quick | --full] [--json] [--accounts 32] [--chunk 16]

Each batch: N BTC trades between random pairs of `--accounts` funded positions (no fee, so the
fee position does not change). The proof covers one leaf update per changed position (not per
trade), so the cost follows the number of distinct positions the batch touches; the table
reports it. Default: 16 and 64 trades; --full adds 256; --quick proves 16 trades only and gives
the 64-trade figure as `..._estimated` (per-update time x the 64-trade batch's update count).
Workers: chunks of `--chunk` updates proven in a process pool of 1 and 2 workers (the speedup).
`--json` prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perpetua.circuits.batch import copy_tree, prove_batch, verify_batch_proof
from perpetua.rollup.batch import Batch, Batcher
from perpetua.rollup.tree import MerkleTree
from perpetua.stark.params import ProofOptions, security_bits
from tests.rollup.helpers import BTC, context, funded_state, trade

USD = 10**6


def make_batch(n_trades: int, accounts: int, seed: int) -> tuple[MerkleTree, Batch]:
    rng = random.Random(seed)
    ids = list(range(10, 10 + accounts))
    batcher = Batcher(funded_state(*((pid, 10**13) for pid in ids)), context(), max_txs=10**9)
    tree = copy_tree(batcher.tree.positions)
    size = BTC.min_order_size
    for i in range(n_trades):
        a, b = rng.sample(ids, 2)
        batcher.submit(trade(a, b, size, 40_000 * size * USD // BTC.resolution, nonce=1000 + i))
    return tree, batcher.cut()


def measure(n_trades: int, accounts: int, chunk: int, workers: list[int]) -> dict[str, float]:
    tree, batch = make_batch(n_trades, accounts, seed=n_trades)
    out: dict[str, float] = {}
    proof = None
    for w in workers:
        t0 = time.perf_counter()
        proof = prove_batch(tree, batch, chunk_size=chunk, workers=w)
        out[f"w{w}"] = time.perf_counter() - t0
    assert proof is not None
    data = proof.to_bytes()
    t0 = time.perf_counter()
    verify_batch_proof(batch, data)
    out["verify_s"] = time.perf_counter() - t0
    out["updates"] = proof.num_updates
    out["chunks"] = len(proof.chunks)
    out["proof_bytes"] = len(data)
    out["max_rows"] = max(32 * 64 * len(c.updates) for c in proof.chunks)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--accounts", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=16)
    args = parser.parse_args()
    chunk = 4 if args.quick else args.chunk
    accounts = 8 if args.quick else args.accounts
    sizes = [16] if args.quick else [16, 64] + ([256] if args.full else [])
    options = ProofOptions()
    figures: dict[str, object] = {}
    rows = []
    for n in sizes:
        m = measure(n, accounts, chunk, [1, 2])
        prove_s = m["w2"]
        figures.update({
            f"batch_{n}_prove_s": round(prove_s, 2),
            f"batch_{n}_prove_1worker_s": round(m["w1"], 2),
            f"batch_{n}_prove_per_tx_s": round(prove_s / n, 3),
            f"batch_{n}_prove_per_update_s": round(m["w1"] / m["updates"], 3),
            f"batch_{n}_updates": int(m["updates"]),
            f"batch_{n}_chunks": int(m["chunks"]),
            f"batch_{n}_proof_bytes": int(m["proof_bytes"]),
            f"batch_{n}_verify_s": round(m["verify_s"], 2),
            f"batch_{n}_speedup_2_workers": round(m["w1"] / m["w2"], 2),
        })
        rows.append((n, m))
    if args.quick:
        _, batch64 = make_batch(64, args.accounts, seed=64)
        from perpetua.rollup.batch import decode_diff
        updates64 = len(decode_diff(batch64.payload).positions)
        per_update = figures["batch_16_prove_per_update_s"]
        assert isinstance(per_update, float)
        figures["batch_64_updates_estimated"] = updates64
        figures["batch_64_prove_1worker_s_estimated"] = round(per_update * updates64, 1)
    max_rows = max(int(m["max_rows"]) for _, m in rows)
    level = security_bits(options, max_rows, 4)
    bits = level.conjectured_bits
    figures = {"security_bits": round(bits, 1), "proven_bits": round(level.proven_bits, 1), "accounts": accounts, "chunk_updates": chunk,
               "max_chunk_rows": max_rows, **figures}
    print(f"batch proofs: positions-root transition, {accounts} accounts, chunks of {chunk} updates, "
          f"{options}, {bits:.1f} conjectured bits ({level.proven_bits:.1f} proven)")
    print(f"{'trades':>7} {'updates':>8} {'chunks':>7} {'prove 1w s':>11} {'prove 2w s':>11} {'per tx s':>9} "
          f"{'per upd s':>10} {'verify s':>9} {'proof KiB':>10} {'speedup':>8}")
    for n, m in rows:
        print(f"{n:>7} {int(m['updates']):>8} {int(m['chunks']):>7} {m['w1']:>11.2f} {m['w2']:>11.2f} "
              f"{m['w2'] / n:>9.3f} {m['w1'] / m['updates']:>10.3f} {m['verify_s']:>9.2f} "
              f"{m['proof_bytes'] / 1024:>10.0f} {m['w1'] / m['w2']:>8.2f}")
    if args.quick:
        print(f"64 trades (estimated, not measured): {figures['batch_64_updates_estimated']} updates, "
              f"~{figures['batch_64_prove_1worker_s_estimated']} s on one worker")
    assert math.isfinite(bits)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
