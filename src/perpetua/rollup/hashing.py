"""The one hash interface of the rollup state: Poseidon2 over BabyBear (`perpetua.stark.poseidon2`).

Everything that commits to the rollup state goes through this module, so the batch circuit, the L1
escape verifier and this reference compute the same roots.

Digests are 8 BabyBear elements (~248 bits). In memory a digest is 32 bytes: the 8 canonical
elements as little-endian uint32 (`digest_to_ints` turns it back into the 8 field elements).

**Field encoding (limbs).** BabyBear's modulus p = 15 * 2^27 + 1 exceeds 2^30, so every integer is
written as fixed-width little-endian 30-bit limbs, each < 2^30 < p (no reduction, no aliasing).
Signed values are biased first: v + 2^63 (so -2^63 <= v < 2^63 maps to [0, 2^64)).

| field | value encoded | limbs |
|---|---|---|
| n_assets | number of synthetic assets (< 2^16) | 1 |
| public_key | STARK key x-coordinate (< 2^251) | 9 |
| collateral | collateral balance + 2^63 | 3 |
| per asset, sorted by asset id | asset_id (< 2^120), balance + 2^63, cached_funding_index + 2^63 | 4 + 3 + 3 |
| order fulfilment | amount already filled (< 2^64) | 3 |

**Leaf hash.** A position leaf is the limb list
`[n_assets, public_key(9), collateral(3), (asset_id(4), balance(3), index(3)) * n_assets]`
(13 + 10n limbs), zero-padded to a multiple of 8, absorbed by an overwrite-mode sponge of rate 8
and capacity 8 (Plonky3's `PaddingFreeSponge<_, 16, 8, 8>`): state = 0; for each 8-limb chunk,
state[0:8] = chunk, state = P(state); the digest is state[0:8]. n_assets comes first, so the
length is fixed by the first limb and zero padding is unambiguous. An orders-tree leaf is
`[filled(3), 0 * 5]`, one permutation. The two trees never share a leaf (different trees).

**Node hash.** node = `hash_two(left, right)` = P(left || right)[0:8] (Plonky3's
`TruncatedPermutation`), the compression the Merkle AIRs prove.

**Empty subtrees.** The empty position (public key 0, collateral 0, no assets) and the empty order
(0 filled) are ordinary leaves; `EMPTY_POSITION_SUBTREES[h]` / `EMPTY_ORDER_SUBTREES[h]` are the
roots of empty subtrees of height h, h = 0..64, computed once at import.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perpetua.rollup.constants import TREE_HEIGHT
from perpetua.stark import poseidon2
from perpetua.stark.field import Arr

LIMB_BITS = 30
LIMB_MASK = (1 << LIMB_BITS) - 1
SIGNED_BIAS = 2**63
RATE = 8
DIGEST_BYTES = 32
PUBLIC_KEY_LIMBS = 9
BALANCE_LIMBS = 3
ASSET_ID_LIMBS = 4

Digest = bytes
"""32 bytes: 8 BabyBear elements, little-endian uint32 each."""


def limbs(value: int, count: int) -> list[int]:
    """`value` (0 <= value < 2^(30 count)) as `count` little-endian 30-bit limbs.

    >>> limbs(2**30 + 5, 2)
    [5, 1]
    """
    assert 0 <= value < 1 << (LIMB_BITS * count), (value, count)
    return [(value >> (LIMB_BITS * i)) & LIMB_MASK for i in range(count)]


def position_limbs(public_key: int, collateral: int, assets: Sequence[tuple[int, int, int]]) -> list[int]:
    """The limb list of a position leaf; `assets` = (asset_id, balance, cached_index), sorted."""
    out = [len(assets)]
    out += limbs(public_key, PUBLIC_KEY_LIMBS)
    out += limbs(collateral + SIGNED_BIAS, BALANCE_LIMBS)
    for asset_id, balance, index in assets:
        out += limbs(asset_id, ASSET_ID_LIMBS)
        out += limbs(balance + SIGNED_BIAS, BALANCE_LIMBS)
        out += limbs(index + SIGNED_BIAS, BALANCE_LIMBS)
    return out


def order_limbs(filled: int) -> list[int]:
    """The limb list of an orders-tree leaf."""
    return limbs(filled, BALANCE_LIMBS)


def digests_to_array(digests: Sequence[Digest]) -> Arr:
    """(n, 8) uint64 array of field elements from n 32-byte digests."""
    flat = np.frombuffer(b"".join(digests), dtype="<u4").astype(np.uint64)
    return flat.reshape(len(digests), 8)


def array_to_digests(array: Arr) -> list[Digest]:
    """n 32-byte digests from an (n, 8) array of canonical field elements."""
    raw = np.ascontiguousarray(array, dtype="<u4").tobytes()
    return [raw[i:i + DIGEST_BYTES] for i in range(0, len(raw), DIGEST_BYTES)]


def digest_to_ints(digest: Digest) -> list[int]:
    """The 8 field elements of a digest."""
    return [int(v) for v in np.frombuffer(digest, dtype="<u4")]


def ints_to_digest(values: Sequence[int]) -> Digest:
    """A digest from its 8 field elements."""
    return np.asarray(values, dtype="<u4").tobytes()


def hash_pairs(left: Arr, right: Arr) -> Arr:
    """Node hashes of many (left, right) pairs at once: (n, 8) arrays in, (n, 8) out."""
    return poseidon2.hash_two(left, right)


def hash_node(left: Digest, right: Digest) -> Digest:
    """One node: hash_two(left, right)."""
    return array_to_digests(hash_pairs(digests_to_array([left]), digests_to_array([right])))[0]


def hash_limb_lists(items: Sequence[Sequence[int]]) -> list[Digest]:
    """Sponge hashes of many limb lists at once (grouped by number of chunks, one batched
    permutation per chunk position)."""
    out: list[Digest] = [b""] * len(items)
    groups: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(max(1, -(-len(item) // RATE)), []).append(i)
    for chunks, members in sorted(groups.items()):
        padded = np.zeros((len(members), chunks * RATE), dtype=np.uint64)
        for row, i in enumerate(members):
            item = items[i]
            padded[row, :len(item)] = item
        state = np.zeros((len(members), 16), dtype=np.uint64)
        for c in range(chunks):
            state[:, :RATE] = padded[:, c * RATE:(c + 1) * RATE]
            state = poseidon2.permute(state)
        for row, digest in zip(members, array_to_digests(state[:, :RATE]), strict=True):
            out[row] = digest
    return out


def hash_limbs_ref(item: Sequence[int]) -> Digest:
    """Reference sponge over Python ints (`poseidon2.permute_ref`), for tests."""
    chunks = max(1, -(-len(item) // RATE))
    padded = list(item) + [0] * (chunks * RATE - len(item))
    state = [0] * 16
    for c in range(0, len(padded), RATE):
        state[:RATE] = padded[c:c + RATE]
        state = poseidon2.permute_ref(state)
    return ints_to_digest(state[:RATE])


def empty_subtrees(empty_leaf: Digest) -> tuple[Digest, ...]:
    """Roots of empty subtrees of height 0..TREE_HEIGHT over `empty_leaf`."""
    out = [empty_leaf]
    for _ in range(TREE_HEIGHT):
        out.append(hash_node(out[-1], out[-1]))
    return tuple(out)


EMPTY_POSITION_LEAF = hash_limb_lists([position_limbs(0, 0, ())])[0]
EMPTY_ORDER_LEAF = hash_limb_lists([order_limbs(0)])[0]
EMPTY_POSITION_SUBTREES = empty_subtrees(EMPTY_POSITION_LEAF)
EMPTY_ORDER_SUBTREES = empty_subtrees(EMPTY_ORDER_LEAF)
