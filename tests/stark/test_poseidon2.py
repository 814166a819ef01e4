"""Poseidon2: Plonky3 known answer, vectorised == reference, compression shape."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from perpetua.stark import poseidon2 as p2

VECTORS = Path(__file__).parents[1] / "vectors" / "stark" / "poseidon2_babybear16.json"


def test_plonky3_known_answer() -> None:
    kat = json.loads(VECTORS.read_text())
    assert p2.permute_ref(kat["input"]) == kat["output"]
    assert p2.permute(np.array([kat["input"]], dtype=np.uint64))[0].tolist() == kat["output"]


def test_vectorised_permutation_matches_reference() -> None:
    rng = random.Random(7)
    states = [[rng.randrange(p2.P) for _ in range(16)] for _ in range(20)]
    got = p2.permute(np.array(states, dtype=np.uint64))
    assert got.tolist() == [p2.permute_ref(s) for s in states]


def test_hash_two_is_truncated_permutation() -> None:
    left, right = list(range(8)), list(range(8, 16))
    out = p2.hash_two(np.array(left, dtype=np.uint64), np.array(right, dtype=np.uint64))
    assert out.tolist() == p2.permute_ref(left + right)[:8]
    assert out.tolist() != p2.hash_two(np.array(right, dtype=np.uint64),
                                       np.array(left, dtype=np.uint64)).tolist()


def test_fast_permutation_matches_slow_and_reference_at_every_batch_size() -> None:
    """`permute` (lane-major, lazy reduction, small-batch int path) == `permute_slow` == reference,
    on both sides of SMALL_BATCH, with unreduced inputs (< 2^64) and extra leading axes."""
    rng = random.Random(11)
    for m in (1, 2, p2.SMALL_BATCH, p2.SMALL_BATCH + 1, 37):
        states = [[rng.randrange(2**64) if rng.random() < 0.2 else rng.randrange(p2.P) for _ in range(16)]
                  for _ in range(m)]
        arr = np.array(states, dtype=np.uint64)
        fast = p2.permute(arr)
        assert fast.tolist() == p2.permute_slow(arr).tolist() == [p2.permute_ref(s) for s in states]
    edge = np.array([[p2.P - 1] * 16, [0] * 16, [2**64 - 1] * 16, list(range(16))] * 2, dtype=np.uint64)
    assert p2.permute(edge.reshape(2, 4, 16)).reshape(8, 16).tolist() == [p2.permute_ref(s) for s in edge.tolist()]
