"""Merkle batch openings verify exactly the committed leaves."""

from __future__ import annotations

import numpy as np
import pytest

from perpetua.stark.merkle import MerkleTree, verify_batch


@pytest.fixture
def rows() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 2013265921, (64, 5), dtype=np.uint64)


def test_open_and_verify(rows: np.ndarray) -> None:
    tree = MerkleTree(rows)
    tree._check()
    for idx in ([0], [63], [1, 2, 3], [0, 17, 18, 40, 63], list(range(64))):
        assert verify_batch(tree.root, 64, idx, rows[idx], tree.open(idx))


def test_tampering_fails(rows: np.ndarray) -> None:
    tree = MerkleTree(rows)
    idx = [3, 9, 40]
    sib = tree.open(idx)
    bad_rows = rows[idx].copy()
    bad_rows[1, 2] += 1
    assert not verify_batch(tree.root, 64, idx, bad_rows, sib)
    assert not verify_batch(tree.root, 64, [3, 9, 41], rows[idx], sib)
    assert not verify_batch(tree.root, 64, idx, rows[idx], sib[:-1])
    assert not verify_batch(tree.root, 64, idx, rows[idx], [*sib, sib[0]])
    flipped = [bytes([sib[0][0] ^ 1]) + sib[0][1:], *sib[1:]]
    assert not verify_batch(tree.root, 64, idx, rows[idx], flipped)
    assert not verify_batch(tree.root, 64, [9, 3, 40], rows[[9, 3, 40]], sib)
