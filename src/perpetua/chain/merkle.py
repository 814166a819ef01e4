"""Position leaves, roots and Merkle paths of the positions tree, and a position's escape value.

A self-contained reference of the encoding `perpetua.rollup.hashing` documents (Poseidon2 over
BabyBear from `perpetua.stark.poseidon2`; 30-bit limbs; an overwrite sponge of rate 8 for leaves;
`hash_two` for nodes; height 64 keyed by position id), so the escape verifier on L1 can be checked
and a trader can build its own path from the data-availability payloads alone. The tests cross-check
it against `perpetua.rollup.hashing` where that module is importable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from perpetua.chain.constants import FXP_32_ONE, TREE_HEIGHT
from perpetua.stark import poseidon2

LIMB_BITS = 30
SIGNED_BIAS = 2**63
RATE = 8

Digest = bytes
"""32 bytes: 8 BabyBear elements, little-endian uint32 each (the rollup's digest layout)."""


@dataclass(frozen=True, slots=True)
class LeafAsset:
    asset_id: int
    balance: int
    cached_funding_index: int


@dataclass(frozen=True, slots=True)
class Leaf:
    """A position as the tree commits to it."""

    public_key: int
    collateral: int
    assets: tuple[LeafAsset, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.public_key == 0 and self.collateral == 0 and not self.assets


EMPTY_LEAF = Leaf(0, 0, ())


def limbs(value: int, count: int) -> list[int]:
    assert 0 <= value < 1 << (LIMB_BITS * count), (value, count)
    return [(value >> (LIMB_BITS * i)) & ((1 << LIMB_BITS) - 1) for i in range(count)]


def leaf_limbs(leaf: Leaf) -> list[int]:
    """[n_assets, public_key(9), collateral + 2^63 (3), (asset_id(4), balance(3), index(3)) * n]."""
    out = [len(leaf.assets), *limbs(leaf.public_key, 9), *limbs(leaf.collateral + SIGNED_BIAS, 3)]
    for a in leaf.assets:
        out += limbs(a.asset_id, 4) + limbs(a.balance + SIGNED_BIAS, 3)
        out += limbs(a.cached_funding_index + SIGNED_BIAS, 3)
    return out


def _to_digest(elements: Iterable[int]) -> Digest:
    return np.asarray(list(elements), dtype="<u4").tobytes()


def _to_array(digests: Sequence[Digest]) -> np.ndarray:
    return np.frombuffer(b"".join(digests), dtype="<u4").astype(np.uint64).reshape(len(digests), 8)


def leaf_hash(leaf: Leaf) -> Digest:
    """Overwrite sponge: state = 0; per 8-limb chunk (zero-padded) state[0:8] = chunk, permute."""
    item = leaf_limbs(leaf)
    item += [0] * (-len(item) % RATE)
    state = np.zeros((1, 16), dtype=np.uint64)
    for c in range(0, len(item), RATE):
        state[0, :RATE] = item[c:c + RATE]
        state = poseidon2.permute(state)
    return _to_digest(int(v) for v in state[0, :RATE])


def hash_nodes(left: Sequence[Digest], right: Sequence[Digest]) -> list[Digest]:
    out = poseidon2.hash_two(_to_array(left), _to_array(right))
    raw = np.ascontiguousarray(out, dtype="<u4").tobytes()
    return [raw[i:i + 32] for i in range(0, len(raw), 32)]


def _empty_subtrees() -> tuple[Digest, ...]:
    out = [leaf_hash(EMPTY_LEAF)]
    for _ in range(TREE_HEIGHT):
        out.append(hash_nodes([out[-1]], [out[-1]])[0])
    return tuple(out)


EMPTY_SUBTREES = _empty_subtrees()
"""Roots of empty subtrees of height 0..64; EMPTY_SUBTREES[64] is the empty tree's root."""


class PositionTree:
    """A sparse height-64 tree of position leaves (absent = empty), rebuilt level by level.

    Enough for the escape client and tests (thousands of positions); the rollup keeps its own
    incremental tree.
    """

    def __init__(self, leaves: Mapping[int, Leaf] | None = None) -> None:
        self.leaves: dict[int, Leaf] = {}
        self._levels: list[dict[int, Digest]] | None = None
        if leaves:
            self.update(leaves)

    def update(self, leaves: Mapping[int, Leaf]) -> None:
        for position_id, leaf in leaves.items():
            assert 0 <= position_id < 2**TREE_HEIGHT
            if leaf.is_empty:
                self.leaves.pop(position_id, None)
            else:
                self.leaves[position_id] = leaf
        self._levels = None

    def _build(self) -> list[dict[int, Digest]]:
        if self._levels is None:
            ids = sorted(self.leaves)
            level = dict(zip(ids, (leaf_hash(self.leaves[i]) for i in ids), strict=True))
            levels = [level]
            for height in range(TREE_HEIGHT):
                parents = sorted({i >> 1 for i in level})
                empty = EMPTY_SUBTREES[height]
                lefts = [level.get(2 * p, empty) for p in parents]
                rights = [level.get(2 * p + 1, empty) for p in parents]
                level = dict(zip(parents, hash_nodes(lefts, rights), strict=True)) if parents else {}
                levels.append(level)
            self._levels = levels
        return self._levels

    @property
    def root(self) -> Digest:
        return self._build()[TREE_HEIGHT].get(0, EMPTY_SUBTREES[TREE_HEIGHT])

    def path(self, position_id: int) -> list[Digest]:
        """The 64 sibling digests of a position, leaf level first."""
        levels = self._build()
        return [levels[h].get((position_id >> h) ^ 1, EMPTY_SUBTREES[h]) for h in range(TREE_HEIGHT)]


def root_from_path(position_id: int, leaf: Leaf, path: Sequence[Digest]) -> Digest:
    node = leaf_hash(leaf)
    for h, sibling in enumerate(path):
        pair = (node, sibling) if (position_id >> h) & 1 == 0 else (sibling, node)
        node = hash_nodes([pair[0]], [pair[1]])[0]
    return node


def escape_value(leaf: Leaf, prices: Mapping[int, int], funding_indices: Mapping[int, int]) -> int:
    """What the escape pays: floor((collateral * 2^32 + sum(balance * price)
    - sum((index - cached) * balance)) / 2^32), or 0 if that is not positive."""
    total = leaf.collateral * FXP_32_ONE
    for a in leaf.assets:
        total += a.balance * prices[a.asset_id]
        total -= (funding_indices[a.asset_id] - a.cached_funding_index) * a.balance
    return total // FXP_32_ONE if total > 0 else 0
