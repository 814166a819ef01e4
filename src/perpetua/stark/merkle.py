"""Merkle commitments to the rows of a matrix, with batched multi-openings.

A leaf is one row of a ``uint32``-encodable matrix (typically several LDE rows times many
columns); leaves and inner nodes are Blake2s-256 digests with distinct personalisation, so a leaf
can never be mistaken for a node. Nodes live in one flat buffer of 2n digests: node i has
children 2i and 2i+1, leaves sit at n..2n-1 and the root at 1 (children are adjacent, so a parent
hashes one 64-byte slice). Hashing runs in C, one call per node; the Python loop only slices.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

from perpetua.stark.field import Arr

DIGEST_SIZE = 32
_LEAF = b"pstkleaf"
_NODE = b"pstknode"


def hash_leaves(rows: Arr) -> list[bytes]:
    """Digest of each row of a 2-D array of field elements (encoded as little-endian u32)."""
    data = np.ascontiguousarray(rows, dtype="<u4")
    width = data.shape[1] * 4
    buf = data.tobytes()
    blake = hashlib.blake2s
    return [blake(buf[i:i + width], person=_LEAF).digest() for i in range(0, len(buf), width)]


def hash_node(left: bytes, right: bytes) -> bytes:
    return hashlib.blake2s(left + right, person=_NODE).digest()


class MerkleTree:
    """A complete binary tree over a power-of-two number of leaves."""

    __slots__ = ("_nodes", "num_leaves")

    def __init__(self, rows: Arr) -> None:
        n = rows.shape[0]
        if n < 1 or n & (n - 1):
            raise ValueError("number of leaves must be a power of two")
        self.num_leaves = n
        nodes = bytearray(2 * n * DIGEST_SIZE)
        nodes[n * DIGEST_SIZE:] = b"".join(hash_leaves(rows))
        blake = hashlib.blake2s
        level = n // 2
        while level >= 1:
            view = bytes(nodes[2 * level * DIGEST_SIZE:4 * level * DIGEST_SIZE])
            step = 2 * DIGEST_SIZE
            nodes[level * DIGEST_SIZE:2 * level * DIGEST_SIZE] = b"".join(
                [blake(view[i:i + step], person=_NODE).digest() for i in range(0, len(view), step)]
            )
            level //= 2
        self._nodes = bytes(nodes)

    @property
    def root(self) -> bytes:
        return self._node(1)

    def _node(self, i: int) -> bytes:
        return self._nodes[i * DIGEST_SIZE:(i + 1) * DIGEST_SIZE]

    def open(self, leaf_indices: list[int]) -> list[bytes]:
        """Sibling digests that authenticate the given distinct leaves (sorted order).

        Level by level, a sibling not computable from the known nodes is emitted, in increasing
        node order; ``verify_batch`` consumes them in the same order.
        """
        known = sorted({self.num_leaves + i for i in leaf_indices})
        out: list[bytes] = []
        while known and known[0] > 1:
            known_set = set(known)
            for node in known:
                sib = node ^ 1
                if sib not in known_set:
                    out.append(self._node(sib))
            known = sorted({node >> 1 for node in known})
        return out

    def _check(self) -> None:
        """Every inner node is the hash of its children."""
        for i in range(1, self.num_leaves):
            assert self._node(i) == hash_node(self._node(2 * i), self._node(2 * i + 1))


def verify_batch(root: bytes, num_leaves: int, leaf_indices: list[int], leaf_rows: Arr,
                 siblings: list[bytes]) -> bool:
    """Check that ``leaf_rows[j]`` is the leaf at ``leaf_indices[j]`` (sorted, distinct).

    Returns False on any mismatch, including unused or missing sibling digests.
    """
    if len(leaf_indices) != leaf_rows.shape[0] or not leaf_indices:
        return False
    if any(b <= a for a, b in itertools.pairwise(leaf_indices)):
        return False
    if leaf_indices[0] < 0 or leaf_indices[-1] >= num_leaves:
        return False
    level: dict[int, bytes] = {num_leaves + i: d
                               for i, d in zip(leaf_indices, hash_leaves(leaf_rows), strict=True)}
    pos = 0
    while min(level) > 1:
        parents: dict[int, bytes] = {}
        for node in sorted(level):
            sib = node ^ 1
            if sib in level:
                digest_sib = level[sib]
            else:
                if pos >= len(siblings):
                    return False
                digest_sib = siblings[pos]
                pos += 1
            if node & 1:
                parents[node >> 1] = hash_node(digest_sib, level[node])
            else:
                parents[node >> 1] = hash_node(level[node], digest_sib)
        level = parents
    return pos == len(siblings) and level.get(1) == root
