"""StateUpdateAir on a small tree (height 4): completeness and soundness of the update chain."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from perpetua.circuits.state_update import (
    BIT,
    LANE,
    LeafUpdate,
    StateUpdateAir,
    UpdateWitness,
    chain_roots,
    hash_to_field,
    pad_updates,
    update_trace,
)
from perpetua.stark import poseidon2 as p2
from perpetua.stark.prover import prove
from perpetua.stark.verifier import is_valid, verify

H = 4
P = p2.P
EMPTY = (0,) * 8
BINDING = hash_to_field(bytes(range(32)))


class Tree:
    """A dense toy tree of height H (every node recomputed: fine for 16 leaves)."""

    def __init__(self) -> None:
        self.leaves: dict[int, tuple[int, ...]] = {}

    def node(self, level: int, index: int) -> tuple[int, ...]:
        if level == 0:
            return self.leaves.get(index, EMPTY)
        left = np.array([self.node(level - 1, 2 * index)], dtype=np.uint64)
        right = np.array([self.node(level - 1, 2 * index + 1)], dtype=np.uint64)
        return tuple(int(v) for v in p2.hash_two(left, right)[0])

    @property
    def root(self) -> list[int]:
        return list(self.node(H, 0))

    def write(self, index: int, leaf: tuple[int, ...]) -> UpdateWitness:
        siblings = tuple(self.node(j, (index >> j) ^ 1) for j in range(H))
        w = UpdateWitness(LeafUpdate(index, self.leaves.get(index, EMPTY), leaf), siblings)
        self.leaves[index] = leaf
        return w


def _digest(rng: random.Random) -> tuple[int, ...]:
    return tuple(rng.randrange(P) for _ in range(8))


@pytest.fixture(scope="module")
def chain() -> tuple[list[int], list[int], list[UpdateWitness]]:
    rng = random.Random(5)
    tree = Tree()
    for i in (1, 6, 9):
        tree.leaves[i] = _digest(rng)
    old = tree.root
    witnesses = [tree.write(6, _digest(rng)), tree.write(13, _digest(rng)), tree.write(6, _digest(rng))]
    witnesses = pad_updates(witnesses, tree.root)
    return old, tree.root, witnesses


def _air(old: list[int], new: list[int], ws: list[UpdateWitness], binding: list[int] = BINDING) -> StateUpdateAir:
    return StateUpdateAir(H, old, new, [w.update for w in ws], binding)


def _cheat(air: StateUpdateAir, trace: np.ndarray) -> bool:
    """A cheating prover's proof (constraint checks off) verifies?"""
    return is_valid(air, prove(air, trace, check_trace=False))


def test_honest_chain_proves(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    assert len(ws) == 4 and ws[3].update.old == ws[3].update.new  # padded with a no-op
    assert chain_roots(old, ws)[-1] == new
    trace, root = update_trace(H, old, ws)
    assert root == new
    air = _air(old, new, ws)
    assert air.check_trace(trace) == []
    verify(air, prove(air, trace))


def test_wrong_new_leaf_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    trace, _ = update_trace(H, old, ws)
    u = ws[1].update
    bad = list(ws)
    bad[1] = replace(ws[1], update=replace(u, new=(u.new[0] + 1, *u.new[1:])))
    air = _air(old, new, bad)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)
    # the trace hashing the wrong leaf breaks the chain at the next update
    trace2, _ = update_trace(H, old, bad)
    assert air.check_trace(trace2)
    assert not _cheat(air, trace2)


def test_wrong_old_leaf_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    bad = list(ws)
    u = ws[0].update
    bad[0] = replace(ws[0], update=replace(u, old=(u.old[0] + 1, *u.old[1:])))
    trace, _ = update_trace(H, old, bad)
    air = _air(old, new, bad)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_wrong_sibling_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    bad = list(ws)
    sibs = list(ws[1].siblings)
    sibs[2] = (sibs[2][0] + 1, *sibs[2][1:])
    bad[1] = replace(ws[1], siblings=tuple(sibs))
    trace, _ = update_trace(H, old, bad)
    air = _air(old, new, ws)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_sibling_differing_between_lanes_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    trace, _ = update_trace(H, old, ws)
    row = 32 * 2  # update 0, level 2, block start
    bit = int(trace[BIT, row])
    col = LANE + (0 if bit else 8)  # new lane's sibling half
    trace[col, row] = (int(trace[col, row]) + 1) % P
    air = _air(old, new, ws)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


@pytest.mark.parametrize("which", ["old", "new"])
def test_wrong_root_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]], which: str) -> None:
    old, new, ws = chain
    trace, _ = update_trace(H, old, ws)
    if which == "old":
        air = _air([(old[0] + 1) % P, *old[1:]], new, ws)
    else:
        air = _air(old, [*new[:7], (new[7] + 1) % P], ws)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_skipped_update_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    # claim the same old -> new roots while leaving out update 1 (the list padded back to 4)
    skipped = [ws[0], ws[2], ws[3], ws[3]]
    trace, _ = update_trace(H, old, skipped)
    air = _air(old, new, skipped)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_reordered_chain_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    trace, _ = update_trace(H, old, ws)
    reordered = [ws[2], ws[1], ws[0], ws[3]]
    air = _air(old, new, reordered)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_wrong_index_is_rejected(chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    trace, _ = update_trace(H, old, ws)
    moved = list(ws)
    moved[1] = replace(ws[1], update=replace(ws[1].update, index=ws[1].update.index ^ 2))
    air = _air(old, new, moved)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_flipped_proof_bytes_and_changed_public_inputs_fail(
        chain: tuple[list[int], list[int], list[UpdateWitness]]) -> None:
    old, new, ws = chain
    trace, _ = update_trace(H, old, ws)
    air = _air(old, new, ws)
    proof = prove(air, trace)
    rng = random.Random(3)
    for pos in [8, 30, 100, len(proof) // 2, len(proof) - 9, *rng.sample(range(len(proof)), 6)]:
        flipped = bytearray(proof)
        flipped[pos] ^= 0x10
        assert not is_valid(air, bytes(flipped)), pos
    assert not is_valid(_air(old, new, ws, [*BINDING[:-1], BINDING[-1] ^ 1]), proof)
    assert not is_valid(_air(old, new, ws, []), proof)
