"""Signature benchmark: STARK ECDSA sign/verify per core for each library, and order admission.

Figures (all per second, wall clock, fixed counts, inputs prepared before timing):
- fast-stark-crypto through perpetua.crypto, one core: verify, sign, Pedersen hash, public key, and the
  v3 limit-order hash (4 Pedersen hashes).
- Order admission = hash a v3 limit order + verify its signature: inline on the calling thread, then
  through `VerifierPool` with 1 and 2 worker processes (batches of 256, pool started beforehand),
  and, for comparison, 2 threads (fast-stark-crypto releases the GIL inside its Rust calls).
- Without --quick: the official dYdX v3 client's pure-Python signer and verifier
  (dydx-v3-python 2.1.0), run in its own venv (.venv-dydx, built by the slow test tier) and timed
  inside that subprocess; reported as unavailable when the venv is missing.

    python bench/signatures.py [--quick] [--json]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _report import run_bench

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from perpetua.crypto.dydx_v3 import build_limit_order  # noqa: E402
from perpetua.crypto.keys import private_key_from_seed, public_key  # noqa: E402
from perpetua.crypto.messages import LimitOrder, hash_limit_order  # noqa: E402
from perpetua.crypto.pedersen import pedersen_hash  # noqa: E402
from perpetua.crypto.signatures import sign, verify  # noqa: E402
from perpetua.crypto.verifier import OrderCheck, VerifierPool, admit_orders  # noqa: E402

DYDX_PYTHON = REPO_ROOT / ".venv-dydx" / "bin" / "python"
BATCH = 256
HOUR_MS = 3_600_000

DYDX_SCRIPT = """
import sys, time, json
from dydx3.starkex.order import SignableOrder
n = int(sys.argv[1])
key = '58c7d5a90b1776bde86ebac077e053ed85b0f7164f53b080304a531947f46e3'
pub = '3b865a18323b8d147a12c556bfb1d502516c325b1477a23ba6c77af31f020fd'
orders = [SignableOrder(network_id=11155111, market='BTC-USD', side='BUY', position_id=1, human_size='0.01',
          human_price=str(20000 + i), limit_fee='0.0005', client_id=str(i),
          expiration_epoch_seconds=1700000000) for i in range(n)]
for o in orders:
    o.hash
t0 = time.perf_counter(); sigs = [o.sign(key) for o in orders]; t1 = time.perf_counter()
ok = all(o.verify_signature(s, pub) for o, s in zip(orders, sigs)); t2 = time.perf_counter()
assert ok
print(json.dumps({"sign_per_s": n / (t1 - t0), "verify_per_s": n / (t2 - t1)}))
"""


def rate(count: int, function: Callable[[], object]) -> float:
    """count / seconds taken by one call of `function`."""
    start = time.perf_counter()
    function()
    return count / (time.perf_counter() - start)


def make_orders(count: int) -> list[OrderCheck]:
    checks: list[OrderCheck] = []
    keys = [private_key_from_seed(b"bench" + bytes([k])) for k in range(16)]
    publics = [public_key(key) for key in keys]
    for index in range(count):
        order: LimitOrder = build_limit_order(
            market="BTC-USD",
            side="BUY" if index % 2 else "SELL",
            position_id=1 + index % 16,
            size="0.01",
            price=str(20_000 + index % 500),
            limit_fee="0.0005",
            client_id=f"bench-{index}",
            expiration_ms=480_000 * HOUR_MS,
        )
        signature = sign(keys[index % 16], hash_limit_order(order))
        checks.append((order, publics[index % 16], signature.r, signature.s))
    return checks


def in_batches(orders: list[OrderCheck]) -> list[list[OrderCheck]]:
    return [orders[i : i + BATCH] for i in range(0, len(orders), BATCH)]


def pool_rate(workers: int, orders: list[OrderCheck]) -> float:
    with VerifierPool(workers=workers) as pool:
        pool.warm_up()
        pool.admit_orders(orders[:BATCH])  # first real batch: imports and caches in every worker
        batches = in_batches(orders)

        def run() -> None:
            for batch in batches:
                assert None not in pool.admit_orders(batch)

        return rate(len(orders), run)


def thread_rate(threads: int, orders: list[OrderCheck]) -> float:
    chunks = [orders[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as executor:

        def run() -> None:
            for answers in executor.map(admit_orders, chunks):
                assert None not in answers

        return rate(len(orders), run)


def dydx_client_rates(count: int) -> dict[str, float] | None:
    if not DYDX_PYTHON.exists():
        return None
    result = subprocess.run(
        [str(DYDX_PYTHON), "-c", DYDX_SCRIPT, str(count)], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        return None
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def run(quick: bool) -> dict[str, object]:
    n_single = 1_500 if quick else 6_000
    n_admit = 2_048 if quick else 8_192
    key = private_key_from_seed(b"bench")
    pub = public_key(key)
    hashes = [(i * 0x9E3779B97F4A7C15) % 2**250 for i in range(1, n_single + 1)]
    signatures = [sign(key, h) for h in hashes]
    triples = [(h, s.r, s.s) for h, s in zip(hashes, signatures, strict=True)]
    privates = [private_key_from_seed(i.to_bytes(4, "big")) for i in range(n_single)]
    orders = make_orders(n_admit)
    order_messages = [order for order, _, _, _ in orders]

    def verify_all() -> None:
        assert all(verify(pub, h, r, s) for h, r, s in triples)

    figures: dict[str, object] = {}
    figures["verify_per_s"] = round(rate(n_single, verify_all))
    figures["sign_per_s"] = round(rate(n_single, lambda: [sign(key, h) for h in hashes]))
    figures["pedersen_per_s"] = round(rate(n_single, lambda: [pedersen_hash(h, 7) for h in hashes]))
    figures["public_key_per_s"] = round(rate(n_single, lambda: [public_key(p) for p in privates]))
    figures["order_hash_per_s"] = round(rate(n_admit, lambda: [hash_limit_order(o) for o in order_messages]))
    figures["admission_inline_per_s"] = round(rate(n_admit, lambda: admit_orders(orders)))
    figures["admission_1_worker_per_s"] = round(pool_rate(1, orders))
    figures["admission_2_workers_per_s"] = round(pool_rate(2, orders))
    figures["admission_2_threads_per_s"] = round(thread_rate(2, orders))
    if not quick:
        client = dydx_client_rates(60)
        figures["dydx_client_py_sign_per_s"] = round(client["sign_per_s"], 1) if client else "unavailable"
        figures["dydx_client_py_verify_per_s"] = round(client["verify_per_s"], 1) if client else "unavailable"
    figures["cores"] = len(os.sched_getaffinity(0))
    figures["signatures"] = n_single
    figures["orders"] = n_admit
    return figures


def main() -> None:
    run_bench((__doc__ or "").splitlines()[0],
              "signature benchmark: STARK ECDSA (fast-stark-crypto 0.5.0 via perpetua.crypto), v3 order admission",
              run, quick_help="smaller counts, under 30 s, no dYdX client", widths=(30, 14))


if __name__ == "__main__":
    main()
