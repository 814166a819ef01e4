"""Benchmark of perpetua.stark (fixed sizes).

    python bench/stark.py            table (Fibonacci at 2^16 and 2^20 rows)
    python bench/stark.py --quick    smaller sizes, finishes in under 30 s
    python bench/stark.py --json     ... and one JSON object on the last line

Figures: NTT of 2^20 elements; prove/verify time, proof size and security bits for the
Fibonacci AIR; Merkle path updates (height 32) proven per second; Poseidon2 permutations per
second in NumPy; and the speed-up over the pure-Python 'Anatomy of a STARK' (aszepieniec/
stark-anatomy, FastStark) proving the same Fibonacci AIR with the same number of rows, measured in
this run from a temporary export of a local mirror of that repository (never committed). If the
mirror is missing, the comparison is skipped and reported as such. Winterfell's published figures
(Rust, 8 cores) are quoted as text, not measured.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _report import bench_parser, print_json, print_rows

from perpetua.stark import ntt
from perpetua.stark import poseidon2 as p2
from perpetua.stark.examples.fibonacci import FibonacciAir, build_trace
from perpetua.stark.examples.merkle_air import MerklePathAir, path_trace
from perpetua.stark.params import ProofOptions, security_bits
from perpetua.stark.prover import prove
from perpetua.stark.verifier import verify

ANATOMY_MIRROR = Path("/work/.mirror/aszepieniec+stark-anatomy/repo")
WINTERFELL_CITATION = (
    "Winterfell README (facebook/winterfell@2f78ee9, 'Performance'): Rescue hash chain on an "
    "8-core i9-9980KH, 96-bit security: 2^10 steps 0.04 s / 51 KB, 2^16 steps 2.5 s / 94 KB, "
    "2^20 steps 50 s / 128 KB"
)

_ANATOMY_SCRIPT = r"""
import sys, time
sys.setrecursionlimit(10000)
from algebra import Field
from multivariate import MPolynomial
from fast_stark import FastStark
T = int(sys.argv[1])
field = Field.main()
stark = FastStark(field, 8, 32, 64, 2, T, 2)   # blowup 8, 32 colinearity checks
tz, tzc, tzr = stark.preprocess()
cyc, a, b, a2, b2 = MPolynomial.variables(5, field)
air = [a2 - b, b2 - a - b]
trace = [[field.one(), field.one()]]
for _ in range(T - 1):
    trace.append([trace[-1][1], trace[-1][0] + trace[-1][1]])
boundary = [(0, 0, field.one()), (0, 1, field.one()), (T - 1, 1, trace[-1][1])]
t0 = time.perf_counter()
proof = stark.prove(trace, air, boundary, tz, tzc)
print("PROVE_S", time.perf_counter() - t0)
"""


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_ntt(log_n: int, repeat: int) -> float:
    a = np.random.default_rng(0).integers(0, p2.P, 1 << log_n, dtype=np.uint64)
    ntt.ntt(a[:1024])
    return _best(lambda: ntt.ntt(a), repeat)


ANATOMY_LIKE = ProofOptions(blowup=8, num_queries=32, grinding_bits=0)
"""Same blowup and query count as the stark-anatomy run (32 colinearity checks, blowup 8), no
grinding: 96 conjectured bits on both sides."""


def bench_fibonacci(log_t: int, opts: ProofOptions | None = None) -> dict[str, float]:
    t = 1 << log_t
    trace = build_trace(t)
    air = FibonacciAir(t, int(trace[1, -1]))
    opts = opts or ProofOptions()
    t0 = time.perf_counter()
    proof = prove(air, trace, opts)
    t1 = time.perf_counter()
    verify(air, proof, min_security_bits=90)
    t2 = time.perf_counter()
    level = security_bits(opts, t, air.max_constraint_degree)
    return {"prove_s": t1 - t0, "verify_s": t2 - t1, "proof_kb": len(proof) / 1024,
            "security_bits": level.conjectured_bits, "proven_bits": level.proven_bits}


def bench_merkle_update(height: int, repeat: int) -> dict[str, float]:
    rng = random.Random(1)
    sib = [[rng.randrange(p2.P) for _ in range(8)] for _ in range(height)]
    old, new = [rng.randrange(p2.P) for _ in range(8)], [rng.randrange(p2.P) for _ in range(8)]
    index = rng.randrange(1 << height)
    prove_times, verify_times, size = [], [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        trace, roots = path_trace([old, new], sib, index)
        air = MerklePathAir(height, index, [old, new], roots)
        proof = prove(air, trace)
        t1 = time.perf_counter()
        verify(air, proof)
        prove_times.append(t1 - t0)
        verify_times.append(time.perf_counter() - t1)
        size = len(proof)
    p = statistics.median(prove_times)
    return {"prove_s": p, "verify_s": statistics.median(verify_times), "proof_kb": size / 1024,
            "updates_per_s": 1 / p}


def bench_poseidon2(states: int) -> float:
    x = np.random.default_rng(2).integers(0, p2.P, (states, 16), dtype=np.uint64)
    return states / _best(lambda: p2.permute(x), 3)


def bench_anatomy(t: int, timeout_s: int) -> float | None:
    """Prove time of stark-anatomy's FastStark on Fibonacci with t rows, or None if unavailable."""
    if not (ANATOMY_MIRROR / "HEAD").exists():
        return None
    with tempfile.TemporaryDirectory(prefix="stark-anatomy-") as tmp:
        archive = subprocess.run(["git", f"--git-dir={ANATOMY_MIRROR}", "archive", "HEAD", "code"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "x", "-C", tmp], input=archive, check=True)
        code = Path(tmp) / "code"
        (code / "_bench_fib.py").write_text(_ANATOMY_SCRIPT)
        env = {**os.environ, "PYTHONPATH": str(code)}
        try:
            out = subprocess.run([sys.executable, "_bench_fib.py", str(t)], cwd=code, env=env,
                                 capture_output=True, text=True, timeout=timeout_s, check=True).stdout
        except (subprocess.SubprocessError, OSError):
            return None
    for line in out.splitlines():
        if line.startswith("PROVE_S"):
            return float(line.split()[1])
    return None


def main(argv: list[str] | None = None) -> None:
    ap = bench_parser(__doc__, "smaller sizes, under 30 s", formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-anatomy", action="store_true", help="skip the pure-Python comparison")
    args = ap.parse_args(argv)

    sizes = (10, 14) if args.quick else (16, 20)
    anatomy_t = 64 if args.quick else 128
    figures: dict[str, object] = {}
    rows: list[tuple[str, str]] = []

    fib = {log_t: bench_fibonacci(log_t) for log_t in sizes}
    first = fib[sizes[0]]
    figures[f"fib_2e{sizes[0]}_security_bits"] = first["security_bits"]
    ntt_s = bench_ntt(20, 1 if args.quick else 3)

    ours_small = min(bench_fibonacci(anatomy_t.bit_length() - 1, ANATOMY_LIKE)["prove_s"] for _ in range(3))
    anatomy_s = None if args.no_anatomy else bench_anatomy(anatomy_t, 120 if args.quick else 600)
    if anatomy_s is not None:
        figures["speedup_vs_stark_anatomy_x"] = round(anatomy_s / ours_small, 1)
    figures["ntt_2e20_s"] = round(ntt_s, 4)
    for log_t, f in fib.items():
        figures[f"fib_2e{log_t}_prove_s"] = round(f["prove_s"], 3)
        figures[f"fib_2e{log_t}_verify_s"] = round(f["verify_s"], 4)
        figures[f"fib_2e{log_t}_proof_kb"] = round(f["proof_kb"], 1)
        figures[f"fib_2e{log_t}_security_bits"] = f["security_bits"]
        figures[f"fib_2e{log_t}_proven_bits"] = f["proven_bits"]
    mu = bench_merkle_update(32, 1 if args.quick else 3)
    figures["merkle_update_h32_prove_s"] = round(mu["prove_s"], 3)
    figures["merkle_update_h32_verify_s"] = round(mu["verify_s"], 4)
    figures["merkle_update_h32_proof_kb"] = round(mu["proof_kb"], 1)
    figures["merkle_updates_per_s"] = round(mu["updates_per_s"], 2)
    figures["poseidon2_numpy_perms_per_s"] = round(bench_poseidon2(1 << 14))
    figures[f"fib_2e{anatomy_t.bit_length() - 1}_prove_s_ours"] = round(ours_small, 4)
    figures["stark_anatomy_prove_s"] = None if anatomy_s is None else round(anatomy_s, 2)
    figures["stark_anatomy_source"] = ("skipped" if anatomy_s is None else
                                       f"measured in this run: FastStark, Fibonacci, {anatomy_t} rows, "
                                       "blowup 8, 32 queries, vs ours with the same blowup/queries")
    figures["winterfell_published"] = WINTERFELL_CITATION

    rows.append(("NTT 2^20 (s)", f"{ntt_s:.3f}"))
    for log_t, f in fib.items():
        rows.append((f"Fibonacci 2^{log_t}: prove / verify (s)", f"{f['prove_s']:.2f} / {f['verify_s']:.3f}"))
        rows.append((f"Fibonacci 2^{log_t}: proof (KB), bits conj / proven",
                     f"{f['proof_kb']:.1f}, {f['security_bits']} / {f['proven_bits']}"))
    rows.append(("Merkle update h=32: prove / verify (s)", f"{mu['prove_s']:.3f} / {mu['verify_s']:.3f}"))
    rows.append(("Merkle update h=32: proof (KB), updates/s", f"{mu['proof_kb']:.1f}, {mu['updates_per_s']:.2f}"))
    rows.append(("Poseidon2 perms/s (NumPy, 2^14 states)", f"{figures['poseidon2_numpy_perms_per_s']}"))
    if anatomy_s is None:
        rows.append(("stark-anatomy comparison", "skipped (mirror missing or failed)"))
    else:
        rows.append((f"Fibonacci {anatomy_t} rows: ours / stark-anatomy prove (s)",
                     f"{ours_small:.3f} / {anatomy_s:.2f}  -> {anatomy_s / ours_small:.0f}x"))
    rows.append(("Winterfell (published, cited)", WINTERFELL_CITATION))
    print_rows(rows)
    print_json(args, figures)


if __name__ == "__main__":
    main()
