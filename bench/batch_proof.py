"""Batch proof benchmark: whole batch proofs (transaction arithmetic + positions-root
transition) of rollup batches of N trades.

    python bench/batch_proof.py [--quick | --full] [--json] [--accounts 32] [--chunk 16]

Each batch: N BTC trades between random pairs of `--accounts` funded positions (no fee). The
proof has two parts (docs/circuits.md): one arithmetic row per position update (4 per trade:
each side and its fee credit) in one STARK, and one Merkle leaf update per distinct touched
position in chunks of `--chunk`; the table reports both. Default: 16 and 64 trades with 1 and 2
workers (the arithmetic proof and the chunks run side by side in a process pool); --full adds
256; --quick proves 64 trades among 8 accounts with 2 workers only (fewer distinct positions,
so a cheaper root transition: the table says how many).
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

from perpetua.circuits.arithmetic import ARITHMETIC_OPTIONS, prove_arithmetic
from perpetua.circuits.batch import CHUNK_OPTIONS, prove_rollup_batch, verify_batch_proof
from perpetua.circuits.intarith import trace_length_for
from perpetua.rollup.batch import Batch, Batcher
from perpetua.rollup.state import RollupState
from perpetua.stark.params import security_bits
from tests.rollup.helpers import BTC, CONFIG, context, funded_state, trade

USD = 10**6


def make_batch(n_trades: int, accounts: int, seed: int) -> tuple[RollupState, Batch]:
    rng = random.Random(seed)
    ids = list(range(10, 10 + accounts))
    batcher = Batcher(funded_state(*((pid, 10**13) for pid in ids)), context(), max_txs=10**9)
    old = batcher.state
    size = BTC.min_order_size
    for i in range(n_trades):
        a, b = rng.sample(ids, 2)
        batcher.submit(trade(a, b, size, 40_000 * size * USD // BTC.resolution, nonce=1000 + i))
    return old, batcher.cut()


def measure(n_trades: int, accounts: int, chunk: int, workers: list[int]) -> dict[str, float]:
    old, batch = make_batch(n_trades, accounts, seed=n_trades)
    out: dict[str, float] = {}
    proof = None
    for w in workers:
        t0 = time.perf_counter()
        proof = prove_rollup_batch(old, batch, config=CONFIG, chunk_size=chunk, workers=w)
        out[f"w{w}"] = time.perf_counter() - t0
    assert proof is not None
    t0 = time.perf_counter()
    statement, _ = prove_arithmetic(old, batch, CONFIG)
    out["arith_s"] = time.perf_counter() - t0
    out["arith_rows"] = len(statement.claims)
    out["arith_bytes"] = len(proof.arithmetic)
    data = proof.to_bytes()
    t0 = time.perf_counter()
    verify_batch_proof(batch, data, config=CONFIG)
    out["verify_s"] = time.perf_counter() - t0
    out["updates"] = proof.num_updates
    out["chunks"] = len(proof.chunks) + len(proof.order_chunks)
    out["proof_bytes"] = len(data)
    out["max_rows"] = max(64 * len(c.updates) for c in (*proof.chunks, *proof.order_chunks))
    out["order_updates"] = proof.num_order_updates
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--accounts", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=16)
    args = parser.parse_args()
    chunk = args.chunk
    accounts = 8 if args.quick else args.accounts
    sizes = [64] if args.quick else [16, 64] + ([256] if args.full else [])
    workers = [2] if args.quick else [1, 2]
    options = ARITHMETIC_OPTIONS
    figures: dict[str, object] = {}
    rows = []
    for n in sizes:
        m = measure(n, accounts, chunk, workers)
        prove_s = m["w2"]
        figures.update({
            f"batch_{n}_prove_s": round(prove_s, 2),
            f"batch_{n}_prove_per_tx_s": round(prove_s / n, 3),
            f"batch_{n}_arithmetic_prove_s": round(m["arith_s"], 2),
            f"batch_{n}_arithmetic_rows": int(m["arith_rows"]),
            f"batch_{n}_updates": int(m["updates"]),
            f"batch_{n}_order_updates": int(m["order_updates"]),
            f"batch_{n}_chunks": int(m["chunks"]),
            f"batch_{n}_proof_bytes": int(m["proof_bytes"]),
            f"batch_{n}_verify_s": round(m["verify_s"], 2),
        })
        if "w1" in m:
            figures[f"batch_{n}_prove_1worker_s"] = round(m["w1"], 2)
            figures[f"batch_{n}_speedup_2_workers"] = round(m["w1"] / m["w2"], 2)
        rows.append((n, m))
    max_rows = max(int(m["max_rows"]) for _, m in rows)
    arith_rows = max(trace_length_for(int(m["arith_rows"])) for _, m in rows)
    level = min(security_bits(CHUNK_OPTIONS, max_rows, 3), security_bits(options, arith_rows, 5),
                key=lambda lv: lv.conjectured_bits)
    bits = level.conjectured_bits
    figures = {"security_bits": round(bits, 1), "proven_bits": round(level.proven_bits, 1), "accounts": accounts,
               "chunk_updates": chunk, "max_chunk_rows": max_rows, **figures}
    print(f"batch proofs: arithmetic ({options}) + positions and orders roots (chunks of {chunk} updates, "
          f"{CHUNK_OPTIONS}), {accounts} accounts, {bits:.1f} conjectured bits ({level.proven_bits:.1f} proven)")
    print(f"{'trades':>7} {'arith rows':>10} {'arith s':>8} {'pos+ord upd':>11} {'chunks':>7} {'prove 1w s':>11} "
          f"{'prove 2w s':>11} {'per tx s':>9} {'verify s':>9} {'proof KiB':>10} {'speedup':>8}")
    for n, m in rows:
        w1 = f"{m['w1']:>11.2f}" if "w1" in m else f"{'-':>11}"
        sp = f"{m['w1'] / m['w2']:>8.2f}" if "w1" in m else f"{'-':>8}"
        upd = f"{int(m['updates'])}+{int(m['order_updates'])}"
        print(f"{n:>7} {int(m['arith_rows']):>10} {m['arith_s']:>8.2f} {upd:>11} {int(m['chunks']):>7} "
              f"{w1} {m['w2']:>11.2f} {m['w2'] / n:>9.3f} {m['verify_s']:>9.2f} {m['proof_bytes'] / 1024:>10.0f} {sp}")
    assert math.isfinite(bits)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
