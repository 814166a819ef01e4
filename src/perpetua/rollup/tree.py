"""Sparse Merkle trees of height 64 over the Poseidon2 interface of `hashing`, updated a batch at a
time, with proofs and a proof verifier.

Nodes are kept per level in dicts `index -> digest`, only where they differ from the empty
subtree of that level. An update of k leaves hashes each level's changed parents in one NumPy
call (k pairs at the bottom, fewer where paths merge), so the Python cost per level is a dict
walk and the hash cost is one vectorised permutation batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from perpetua.rollup.constants import TREE_HEIGHT
from perpetua.rollup.hashing import (
    EMPTY_ORDER_SUBTREES,
    EMPTY_POSITION_SUBTREES,
    Digest,
    array_to_digests,
    digests_to_array,
    hash_limb_lists,
    hash_node,
    hash_pairs,
    order_limbs,
    position_limbs,
)
from perpetua.rollup.position import Position


def position_leaf_limbs(position: Position) -> list[int]:
    return position_limbs(position.public_key, position.collateral,
                          [(a.asset_id, a.balance, a.cached_funding_index) for a in position.assets])


def hash_positions(positions: Sequence[Position]) -> list[Digest]:
    """Leaf digests of many positions at once."""
    return hash_limb_lists([position_leaf_limbs(p) for p in positions])


def hash_orders(filled: Sequence[int]) -> list[Digest]:
    """Leaf digests of many order-fulfilment records at once."""
    return hash_limb_lists([order_limbs(f) for f in filled])


class MerkleTree:
    """A sparse Merkle tree of height 64 (mutable: owned by a batcher or a rebuild)."""

    __slots__ = ("empty", "levels")

    def __init__(self, empty: Sequence[Digest]) -> None:
        self.empty = tuple(empty)
        self.levels: list[dict[int, Digest]] = [{} for _ in range(TREE_HEIGHT + 1)]

    @property
    def root(self) -> Digest:
        return self.levels[TREE_HEIGHT].get(0, self.empty[TREE_HEIGHT])

    def leaf(self, index: int) -> Digest:
        return self.levels[0].get(index, self.empty[0])

    def update(self, leaves: Mapping[int, Digest]) -> Digest:
        """Set leaf digests and recompute every changed node; returns the new root."""
        update_trees([(self, leaves)])
        return self.root

    def proof(self, index: int) -> list[Digest]:
        """The 64 sibling digests from the leaf up."""
        return [self.levels[h].get((index >> h) ^ 1, self.empty[h]) for h in range(TREE_HEIGHT)]


def update_trees(updates: Sequence[tuple[MerkleTree, Mapping[int, Digest]]]) -> None:
    """Set leaf digests in several trees and recompute every changed node, level by level: each
    level's changed parents, of all the trees together, are hashed in one batched permutation
    (the dirty-node set of the level), so the per-call cost is paid 64 times per update."""
    changed: list[list[int]] = []
    for tree, leaves in updates:
        level0, empty0 = tree.levels[0], tree.empty[0]
        for index, digest in leaves.items():
            if digest == empty0:
                level0.pop(index, None)
            else:
                level0[index] = digest
        changed.append(list(leaves))
    for height in range(TREE_HEIGHT):
        lefts: list[Digest] = []
        rights: list[Digest] = []
        parents_per_tree: list[list[int]] = []
        for (tree, _), indices in zip(updates, changed, strict=True):
            nodes, empty = tree.levels[height], tree.empty[height]
            parents = list({i >> 1 for i in indices})
            parents_per_tree.append(parents)
            get = nodes.get
            lefts += [get(p << 1, empty) for p in parents]
            rights += [get((p << 1) | 1, empty) for p in parents]
        hashed = array_to_digests(hash_pairs(digests_to_array(lefts), digests_to_array(rights))) if lefts else []
        at = 0
        for (tree, _), parents in zip(updates, parents_per_tree, strict=True):
            above, empty_above = tree.levels[height + 1], tree.empty[height + 1]
            for p, digest in zip(parents, hashed[at:at + len(parents)], strict=True):
                if digest == empty_above:
                    above.pop(p, None)
                else:
                    above[p] = digest
            at += len(parents)
        changed = parents_per_tree


def verify_proof(root: Digest, index: int, leaf: Digest, siblings: Sequence[Digest]) -> bool:
    """True when `leaf` at `index` with these 64 siblings hashes to `root`."""
    if len(siblings) != TREE_HEIGHT or not 0 <= index < 1 << TREE_HEIGHT:
        return False
    node = leaf
    for height, sibling in enumerate(siblings):
        node = hash_node(sibling, node) if (index >> height) & 1 else hash_node(node, sibling)
    return node == root


class StateTree:
    """The two trees of a rollup state: positions and orders."""

    __slots__ = ("orders", "positions")

    def __init__(self) -> None:
        self.positions = MerkleTree(EMPTY_POSITION_SUBTREES)
        self.orders = MerkleTree(EMPTY_ORDER_SUBTREES)

    def roots(self) -> tuple[Digest, Digest]:
        return self.positions.root, self.orders.root

    def apply_diff(self, positions: Mapping[int, Position], orders: Mapping[int, int]) -> tuple[Digest, Digest]:
        """Hash the changed leaves (batched) and update both trees; returns the new roots."""
        updates: list[tuple[MerkleTree, Mapping[int, Digest]]] = []
        if positions:
            ids = list(positions)
            updates.append((self.positions, dict(zip(ids, hash_positions([positions[i] for i in ids]), strict=True))))
        if orders:
            oids = list(orders)
            updates.append((self.orders, dict(zip(oids, hash_orders([orders[i] for i in oids]), strict=True))))
        if updates:
            update_trees(updates)
        return self.roots()
