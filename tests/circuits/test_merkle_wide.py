"""WideUpdateAir on the rollup's own height-64 tree: completeness and soundness of the update chain."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from perpetua.circuits.merkle_wide import (
    ACC,
    BIT,
    LANE_COLS,
    LANE_NEW,
    NODE_NEW,
    OUT,
    ROOT,
    SIB,
    WIDTH,
    LeafUpdate,
    UpdateWitness,
    WideUpdateAir,
    chain_roots,
    hash_to_field,
    lane_columns,
    pad_updates,
    wide_update_trace,
)
from perpetua.circuits.state_update import StateUpdateAir
from perpetua.rollup.hashing import EMPTY_POSITION_SUBTREES, digest_to_ints, ints_to_digest
from perpetua.rollup.tree import MerkleTree
from perpetua.stark import poseidon2 as p2
from perpetua.stark.params import ProofOptions, security_bits
from perpetua.stark.prover import prove
from perpetua.stark.verifier import is_valid, verify

H = 64
P = p2.P
BINDING = hash_to_field(bytes(range(32)))
Chain = tuple[list[int], list[int], list[UpdateWitness]]


def _digest(rng: random.Random) -> tuple[int, ...]:
    return tuple(rng.randrange(P) for _ in range(8))


def _root(tree: MerkleTree) -> list[int]:
    return digest_to_ints(tree.root)


def _write(tree: MerkleTree, index: int, leaf: tuple[int, ...]) -> UpdateWitness:
    siblings = tuple(tuple(digest_to_ints(s)) for s in tree.proof(index))
    w = UpdateWitness(LeafUpdate(index, tuple(digest_to_ints(tree.leaf(index))), leaf), siblings)
    tree.update({index: ints_to_digest(leaf)})
    return w


def _make_chain(writes: int, seed: int) -> Chain:
    """`writes` random leaf writes (one index written twice when there are 3+), padded."""
    rng = random.Random(seed)
    tree = MerkleTree(EMPTY_POSITION_SUBTREES)
    tree.update({rng.randrange(1 << H): ints_to_digest(_digest(rng)) for _ in range(5)})
    old = _root(tree)
    indices = [rng.randrange(1 << H) for _ in range(writes)]
    if writes >= 3:
        indices[2] = indices[0]
    indices[0] |= 1 << (H - 1)  # the top bit set somewhere
    witnesses = [_write(tree, i, _digest(rng)) for i in indices]
    return old, _root(tree), pad_updates(witnesses, _root(tree))


@pytest.fixture(scope="module")
def chain() -> Chain:
    return _make_chain(3, seed=5)


def _air(old: list[int], new: list[int], ws: list[UpdateWitness], binding: list[int] = BINDING) -> WideUpdateAir:
    return WideUpdateAir(H, old, new, [w.update for w in ws], binding)


def _cheat(air: WideUpdateAir, trace: np.ndarray) -> bool:
    """A cheating prover's proof (constraint checks off) verifies?"""
    return is_valid(air, prove(air, trace, check_trace=False))


def test_lane_columns_match_hash_two() -> None:
    rng = np.random.default_rng(0)
    left = rng.integers(0, P, (7, 8), dtype=np.uint64)
    right = rng.integers(0, P, (7, 8), dtype=np.uint64)
    cols = lane_columns(left, right)
    assert cols.shape == (7, LANE_COLS)
    assert np.array_equal(cols[:, OUT:OUT + 8], p2.hash_two(left, right))


def test_shape_and_security() -> None:
    old, new, ws = _make_chain(1, seed=1)
    air = _air(old, new, ws)
    assert WIDTH == 600 and air.max_constraint_degree == 3 and air.trace_length == H
    # the same public inputs as StateUpdateAir: the statements are interchangeable
    assert air.public_inputs() == StateUpdateAir(H, old, new, [w.update for w in ws], BINDING).public_inputs()
    assert security_bits(ProofOptions(), H * 1024, 3).conjectured_bits >= 100


@pytest.mark.parametrize("writes", [1, 2, 4])
def test_honest_chain_proves(writes: int) -> None:
    old, new, ws = _make_chain(writes, seed=writes)
    assert len(ws) == writes
    assert chain_roots(old, ws)[-1] == new
    trace, root = wide_update_trace(H, old, ws)
    assert root == new  # the rollup tree's root
    air = _air(old, new, ws)
    assert air.check_trace(trace) == []
    verify(air, prove(air, trace))


def test_padded_chain_proves(chain: Chain) -> None:
    old, new, ws = chain
    assert len(ws) == 4 and ws[3].update.old == ws[3].update.new
    trace, root = wide_update_trace(H, old, ws)
    assert root == new
    air = _air(old, new, ws)
    assert air.check_trace(trace) == []
    verify(air, prove(air, trace))


def test_wrong_new_leaf_is_rejected(chain: Chain) -> None:
    old, new, ws = chain
    trace, _ = wide_update_trace(H, old, ws)
    u = ws[1].update
    bad = list(ws)
    bad[1] = replace(ws[1], update=replace(u, new=(u.new[0] + 1, *u.new[1:])))
    air = _air(old, new, bad)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)
    # the trace hashing the wrong leaf breaks the chain at the next update
    trace2, _ = wide_update_trace(H, old, bad)
    assert air.check_trace(trace2)
    assert not _cheat(air, trace2)


def test_wrong_new_leaf_of_last_update_is_rejected() -> None:
    # the last update's top level lies on the trace's last row, where transitions are not enforced
    old, new, ws = _make_chain(2, seed=11)
    bad = list(ws)
    u = ws[1].update
    bad[1] = replace(ws[1], update=replace(u, new=(u.new[0] + 1, *u.new[1:])))
    trace, fake_root = wide_update_trace(H, old, bad)
    air = _air(old, fake_root, bad)
    assert air.check_trace(trace) == []  # a true statement about the wrong leaf ...
    assert fake_root != new
    air = _air(old, new, bad)  # ... but not with the tree's new root
    assert air.check_trace(trace)
    assert not _cheat(air, trace)
    # tamper only with the last row's permutation so that it outputs the claimed root
    forged = trace.copy()
    forged[LANE_NEW + OUT:LANE_NEW + OUT + 8, -1] = new
    assert air.check_trace(forged)
    assert not _cheat(air, forged)


def test_wrong_old_leaf_is_rejected(chain: Chain) -> None:
    old, new, ws = chain
    bad = list(ws)
    u = ws[0].update
    bad[0] = replace(ws[0], update=replace(u, old=(u.old[0] + 1, *u.old[1:])))
    trace, _ = wide_update_trace(H, old, bad)
    air = _air(old, new, bad)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_wrong_sibling_is_rejected(chain: Chain) -> None:
    old, new, ws = chain
    bad = list(ws)
    sibs = list(ws[1].siblings)
    sibs[40] = (sibs[40][0] + 1, *sibs[40][1:])
    bad[1] = replace(ws[1], siblings=tuple(sibs))
    trace, _ = wide_update_trace(H, old, bad)
    air = _air(old, new, ws)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_sibling_differing_between_lanes_is_rejected() -> None:
    old, _, ws = _make_chain(1, seed=7)
    level = 5
    sibs = list(ws[0].siblings)
    sibs[level] = (sibs[level][0] + 1, *sibs[level][1:])
    other = [replace(ws[0], siblings=tuple(sibs))]
    honest, _ = wide_update_trace(H, old, ws)
    shifted, fake_new = wide_update_trace(H, old, other)
    # the old lane (and the shared sibling column) from the honest trace, the new lane hashing a
    # different sibling at one level: a proof that the new leaf sits under fake_new
    trace = honest.copy()
    trace[NODE_NEW:NODE_NEW + 8] = shifted[NODE_NEW:NODE_NEW + 8]
    trace[LANE_NEW:LANE_NEW + LANE_COLS] = shifted[LANE_NEW:LANE_NEW + LANE_COLS]
    air = _air(old, fake_new, ws)
    errors = air.check_trace(trace)
    # only the new lane's input selection fails, at that level (on its own row and, through the
    # next-row copy of the row constraints, on the row before)
    assert errors and {int(e.rsplit(" ", 1)[1]) for e in errors} == {level - 1, level}
    assert not _cheat(air, trace)
    # and the sibling column of the new lane's choice breaks the old lane instead
    trace[SIB:SIB + 8] = shifted[SIB:SIB + 8]
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


@pytest.mark.parametrize("which", ["old", "new"])
def test_wrong_root_is_rejected(chain: Chain, which: str) -> None:
    old, new, ws = chain
    trace, _ = wide_update_trace(H, old, ws)
    if which == "old":
        air = _air([(old[0] + 1) % P, *old[1:]], new, ws)
    else:
        air = _air(old, [*new[:7], (new[7] + 1) % P], ws)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_skipped_update_is_rejected(chain: Chain) -> None:
    old, new, ws = chain
    skipped = [ws[0], ws[2], ws[3], ws[3]]
    trace, _ = wide_update_trace(H, old, skipped)
    air = _air(old, new, skipped)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_reordered_chain_is_rejected(chain: Chain) -> None:
    old, new, ws = chain
    trace, _ = wide_update_trace(H, old, ws)
    reordered = [ws[1], ws[0], ws[2], ws[3]]
    air = _air(old, new, reordered)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


@pytest.mark.parametrize("flip", [2, 40, 63])
def test_wrong_index_is_rejected(chain: Chain, flip: int) -> None:
    old, new, ws = chain
    trace, _ = wide_update_trace(H, old, ws)
    moved = list(ws)
    moved[1] = replace(ws[1], update=replace(ws[1].update, index=ws[1].update.index ^ (1 << flip)))
    air = _air(old, new, moved)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_index_of_last_update_is_bound() -> None:
    # the last update's top bit sits on the trace's last row
    old, new, ws = _make_chain(1, seed=3)
    trace, _ = wide_update_trace(H, old, ws)
    moved = [replace(ws[0], update=replace(ws[0].update, index=ws[0].update.index ^ (1 << (H - 1))))]
    air = _air(old, new, moved)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)
    # a non-boolean bit compensated in the accumulator is caught too
    forged = trace.copy()
    forged[BIT, H - 1] = 2
    forged[ACC + 2, H - 1] = 2 * (1 << ((H - 1) % 30)) % P
    assert _air(old, new, ws).check_trace(forged)


def test_root_column_is_bound(chain: Chain) -> None:
    old, new, ws = chain
    trace, _ = wide_update_trace(H, old, ws)
    trace[ROOT, H:2 * H] = (trace[ROOT, H:2 * H] + 1) % P  # claim another intermediate root
    air = _air(old, new, ws)
    assert air.check_trace(trace)
    assert not _cheat(air, trace)


def test_flipped_proof_bytes_and_changed_public_inputs_fail(chain: Chain) -> None:
    old, new, ws = chain
    trace, _ = wide_update_trace(H, old, ws)
    air = _air(old, new, ws)
    proof = prove(air, trace)
    rng = random.Random(3)
    for pos in [8, 30, 100, len(proof) // 2, len(proof) - 9, *rng.sample(range(len(proof)), 6)]:
        flipped = bytearray(proof)
        flipped[pos] ^= 0x10
        assert not is_valid(air, bytes(flipped)), pos
    assert not is_valid(_air(old, new, ws, [*BINDING[:-1], BINDING[-1] ^ 1]), proof)
    assert not is_valid(_air(old, new, ws, []), proof)
    # a StateUpdateAir proof is no WideUpdateAir proof (different AIR name and shape)
    assert not is_valid(StateUpdateAir(H, old, new, [w.update for w in ws], BINDING), proof)


@pytest.mark.slow
def test_long_chain_proves_and_matches_state_update() -> None:
    old, new, ws = _make_chain(13, seed=13)
    assert len(ws) == 16
    trace, root = wide_update_trace(H, old, ws)
    assert root == new
    air = _air(old, new, ws)
    verify(air, prove(air, trace))
    bad = list(ws)
    u = ws[9].update
    bad[9] = replace(ws[9], update=replace(u, old=(u.old[0] + 1, *u.old[1:])))
    assert not _cheat(_air(old, new, bad), trace)


def test_constraint_shortcuts_agree_with_direct_evaluation() -> None:
    """The prover's rotated L(nxt) and the verifier's stacked (z, g z) evaluation against the
    plain per-frame evaluation, on a random (non-satisfying) trace."""
    from perpetua.stark import extension as ext
    from perpetua.stark.air import Frame
    from perpetua.stark.algebra import BaseVec, ExtVec

    old, new, ws = _make_chain(1, seed=2)
    air = _air(old, new, ws)
    trace = np.random.default_rng(1).integers(0, P, (WIDTH, H), dtype=np.uint64)
    nxt = np.roll(trace, -1, axis=1)
    periodic = [BaseVec(np.array(c, dtype=np.uint64) % P) for c in air.periodic_columns()]
    fast = air.evaluate_transition(Frame([BaseVec(c) for c in trace], [BaseVec(c) for c in nxt], periodic, [], [], []))
    # BaseVec frames whose next row is not a rotation take the direct path
    rows = [5, 17, 63]
    direct = air.evaluate_transition(Frame([BaseVec(trace[:, rows][i]) for i in range(WIDTH)],
                                           [BaseVec(nxt[:, rows][i]) for i in range(WIDTH)],
                                           [BaseVec(c.v[rows]) for c in periodic], [], [], []))
    for f, d in zip(fast, direct, strict=True):
        assert isinstance(f, BaseVec) and isinstance(d, BaseVec)
        assert np.array_equal(f.v[rows], d.v)
    # extension frames (the verifier) at one row, lifted from the base field
    row = 17
    stacked = air.evaluate_transition(Frame([ExtVec(ext.from_base(trace[i, row:row + 1])) for i in range(WIDTH)],
                                            [ExtVec(ext.from_base(nxt[i, row:row + 1])) for i in range(WIDTH)],
                                            [ExtVec(ext.from_base(c.v[row:row + 1])) for c in periodic], [], [], []))
    for f, s in zip(fast, stacked, strict=True):
        assert isinstance(f, BaseVec) and isinstance(s, ExtVec)
        assert int(s.v[0, 0]) == int(f.v[row]) and not s.v[1:].any()
