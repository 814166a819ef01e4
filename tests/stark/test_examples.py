"""Poseidon2 chain and Merkle path / update AIRs: completeness and soundness."""

from __future__ import annotations

import random

import pytest

from perpetua.stark import poseidon2 as p2
from perpetua.stark.errors import ProverError
from perpetua.stark.examples.merkle_air import MerklePathAir, compute_root, path_trace
from perpetua.stark.examples.poseidon2_air import Poseidon2ChainAir, chain_trace
from perpetua.stark.prover import prove
from perpetua.stark.verifier import is_valid, verify

P = p2.P


def _digest(rng: random.Random) -> list[int]:
    return [rng.randrange(P) for _ in range(8)]


def test_poseidon2_chain_proves_and_matches_python_hash() -> None:
    initial = list(range(16))
    trace, final = chain_trace(4, initial)
    state = initial
    for _ in range(4):
        state = p2.permute_ref(state)
    assert final == state
    air = Poseidon2ChainAir(4, initial, final)
    proof = prove(air, trace)
    verify(air, proof)
    wrong = list(final)
    wrong[15] = (wrong[15] + 1) % P
    assert not is_valid(Poseidon2ChainAir(4, initial, wrong), proof)


@pytest.mark.parametrize(("column", "row"), [(0, 3), (16, 2), (5, 10), (3, 31), (16, 9), (7, 40)])
def test_chain_with_one_bad_cell_is_rejected(column: int, row: int) -> None:
    initial = list(range(16))
    trace, final = chain_trace(2, initial)
    trace[column, row] = (int(trace[column, row]) + 1) % P
    air = Poseidon2ChainAir(2, initial, final)
    assert air.check_trace(trace)
    assert not is_valid(air, prove(air, trace, check_trace=False))


@pytest.fixture(scope="module")
def path() -> tuple[list[list[int]], list[int], list[int], int]:
    rng = random.Random(11)
    return [_digest(rng) for _ in range(8)], _digest(rng), _digest(rng), rng.randrange(256)


def test_merkle_path_membership(path: tuple[list[list[int]], list[int], list[int], int]) -> None:
    siblings, leaf, _, index = path
    trace, roots = path_trace([leaf], siblings, index)
    assert roots[0] == compute_root(leaf, siblings, index)
    air = MerklePathAir(8, index, [leaf], roots)
    proof = prove(air, trace)
    verify(air, proof)
    assert not is_valid(MerklePathAir(8, index ^ 4, [leaf], roots), proof)


def test_merkle_path_update(path: tuple[list[list[int]], list[int], list[int], int]) -> None:
    siblings, old, new, index = path
    trace, roots = path_trace([old, new], siblings, index)
    assert roots == [compute_root(old, siblings, index), compute_root(new, siblings, index)]
    air = MerklePathAir(8, index, [old, new], roots)
    proof = prove(air, trace)
    verify(air, proof)
    swapped = MerklePathAir(8, index, [old, new], [roots[0], compute_root(new, siblings[::-1], index)])
    assert not is_valid(swapped, proof)


def test_update_with_different_siblings_cannot_be_proven(
        path: tuple[list[list[int]], list[int], list[int], int]) -> None:
    """The new leaf hashed along another path gives a root the AIR must not accept."""
    siblings, old, new, index = path
    _, r_old = path_trace([old], siblings, index)
    other = [list(s) for s in siblings]
    other[3][0] = (other[3][0] + 1) % P
    t_new, r_new = path_trace([new], other, index)
    trace, _ = path_trace([old, new], siblings, index)
    # splice the new lane computed on the other path into the update trace
    lane = 32 + 8
    trace[lane:2 * lane] = t_new[:lane]
    air = MerklePathAir(8, index, [old, new], [r_old[0], r_new[0]])
    with pytest.raises(ProverError):
        prove(air, trace)
    assert not is_valid(air, prove(air, trace, check_trace=False))
