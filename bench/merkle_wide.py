"""Merkle-update AIRs: StateUpdateAir (32 rows x 92 columns per level) vs WideUpdateAir (1 row x 600
columns per level), proving the same chain of K leaf updates in a height-64 tree.

Setup (not timed): a rollup positions tree (`perpetua.rollup.tree.MerkleTree`) with a few leaves, K
random leaf writes and their witnesses, and the trace. Timed: `prove` (default ProofOptions:
blowup 8, 30 queries, folding 8, 16 grinding bits, trace check included) and `verify`; the proof
size is its byte length; bits are `security_bits(options, T, degree)` conjectured.
Default: K = 4 and 16, best of 2 runs; --quick: K = 4 only, one run (under 30 s). ``--json`` prints one JSON object on the
last line. Usage: ``python bench/merkle_wide.py [--quick] [--json]``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import run_bench

from perpetua.circuits.merkle_wide import WideUpdateAir, wide_update_trace
from perpetua.circuits.state_update import LeafUpdate, StateUpdateAir, UpdateWitness, update_trace
from perpetua.rollup.hashing import EMPTY_POSITION_SUBTREES, digest_to_ints, ints_to_digest
from perpetua.rollup.tree import MerkleTree
from perpetua.stark.air import Air
from perpetua.stark.params import ProofOptions, security_bits
from perpetua.stark.poseidon2 import P
from perpetua.stark.prover import prove
from perpetua.stark.verifier import verify

H = 64
BINDING = list(range(9))


def chain(k: int, seed: int) -> tuple[list[int], list[int], list[UpdateWitness]]:
    rng = random.Random(seed)
    tree = MerkleTree(EMPTY_POSITION_SUBTREES)

    def digest() -> list[int]:
        return [rng.randrange(P) for _ in range(8)]

    tree.update({rng.randrange(1 << H): ints_to_digest(digest()) for _ in range(8)})
    old = digest_to_ints(tree.root)
    out = []
    for _ in range(k):
        index, leaf = rng.randrange(1 << H), tuple(digest())
        siblings = tuple(tuple(digest_to_ints(s)) for s in tree.proof(index))
        out.append(UpdateWitness(LeafUpdate(index, tuple(digest_to_ints(tree.leaf(index))), leaf), siblings))
        tree.update({index: ints_to_digest(leaf)})
    return old, digest_to_ints(tree.root), out


def measure(air: Air, trace: object, repeats: int) -> dict[str, float]:
    prove_s = verify_s = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        proof = prove(air, trace)  # type: ignore[arg-type]
        prove_s = min(prove_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        verify(air, proof)
        verify_s = min(verify_s, time.perf_counter() - t0)
    bits = security_bits(ProofOptions(), air.trace_length, air.max_constraint_degree).conjectured_bits
    return {"prove_s": round(prove_s, 3), "verify_s": round(verify_s, 3), "proof_kb": round(len(proof) / 1024, 1),
            "rows": air.trace_length, "cols": air.trace_width, "cells_k": round(air.trace_length * air.trace_width / 1e3),
            "degree": air.max_constraint_degree, "bits": bits}


def run(quick: bool) -> dict[str, object]:
    figures: dict[str, object] = {}
    rows = []
    repeats = 1 if quick else 2
    for k in [4] if quick else [4, 16]:
        old, new, ws = chain(k, seed=k)
        updates = [w.update for w in ws]
        trace, root = update_trace(H, old, ws)
        assert root == new
        narrow = measure(StateUpdateAir(H, old, new, updates, BINDING), trace, repeats)
        trace, root = wide_update_trace(H, old, ws)
        assert root == new
        wide = measure(WideUpdateAir(H, old, new, updates, BINDING), trace, repeats)
        for name, m in (("state", narrow), ("wide", wide)):
            rows.append((name, k, m))
            for key, value in m.items():
                figures[f"{name}_k{k}_{key}"] = value
        figures[f"speedup_k{k}"] = round(narrow["prove_s"] / wide["prove_s"], 2)
    print(f"{'air':<7}{'K':>4}{'rows':>7}{'cols':>6}{'cells(k)':>10}{'deg':>5}{'prove s':>9}{'verify s':>10}"
          f"{'proof KiB':>11}{'bits':>7}")
    for name, k, m in rows:
        print(f"{name:<7}{k:>4}{m['rows']:>7}{m['cols']:>6}{m['cells_k']:>10}{m['degree']:>5}{m['prove_s']:>9}"
              f"{m['verify_s']:>10}{m['proof_kb']:>11}{m['bits']:>7}")
    print()
    return figures


if __name__ == "__main__":
    run_bench(__doc__.splitlines()[0], "merkle update AIRs, height 64, default ProofOptions (blowup 8)", run)
