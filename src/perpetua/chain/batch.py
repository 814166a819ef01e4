"""What a state update carries to L1, and the hashes that bind it.

- `Modification`: a deposit the batch credits (delta > 0, must be pending on L1) or a withdrawal
  it debits (delta < 0, credited to the STARK key's pending withdrawals when accepted).
- `AssetState`: the last oracle price (32.32) and global funding index (signed 32.32) per asset.
  The contract stores keccak256(abi_encode(asset_states)); the escape re-supplies and checks them.
- The DA payload (`encode_state_diff`): every changed position leaf in full, then the asset
  states, so a trader can rebuild the tree and its path from the payloads alone.
- The fact (what the verifier must vouch for):
  commitment = keccak256(abi_encode(sequence_number, system_time, modifications, forced_served,
                                    prices_hash, global_config_hash, da_hash))
  fact       = keccak256(abi_encode(old_root, new_root, commitment))
  with da_hash = keccak256(state_diff) in rollup mode, and a committee-signed hash in validium mode.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eth_abi import encode
from eth_utils import keccak

from perpetua.chain.constants import TAG_AVAILABILITY, TAG_FORCED_TRADE, TAG_FORCED_WITHDRAWAL
from perpetua.chain.merkle import SIGNED_BIAS, Leaf, LeafAsset

MODIFICATIONS_T = "(uint256,uint64,int256)[]"
ASSET_STATES_T = "(uint256,uint256,int256)[]"


@dataclass(frozen=True, slots=True)
class Modification:
    stark_key: int
    position_id: int
    delta: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.stark_key, self.position_id, self.delta)


@dataclass(frozen=True, slots=True)
class AssetState:
    asset_id: int
    price: int
    funding_index: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.asset_id, self.price, self.funding_index)


@dataclass(frozen=True, slots=True)
class Batch:
    """One state update as the operator submits it."""

    old_root: bytes
    new_root: bytes
    system_time: int
    modifications: tuple[Modification, ...] = ()
    forced_served: tuple[bytes, ...] = ()
    asset_states: tuple[AssetState, ...] = ()
    changed_positions: Mapping[int, Leaf] = field(default_factory=dict)
    """position id -> new leaf, for the DA payload."""

    @property
    def state_diff(self) -> bytes:
        return encode_state_diff(self.changed_positions, self.asset_states)


def prices_hash(asset_states: Sequence[AssetState]) -> bytes:
    return keccak(encode([ASSET_STATES_T], [[a.as_tuple() for a in asset_states]]))


def batch_commitment(sequence_number: int, system_time: int, modifications: Sequence[Modification],
                     forced_served: Sequence[bytes], asset_states: Sequence[AssetState],
                     global_config_hash: bytes, da_hash: bytes) -> bytes:
    return keccak(encode(
        ["uint256", "uint256", MODIFICATIONS_T, "bytes32[]", "bytes32", "bytes32", "bytes32"],
        [sequence_number, system_time, [m.as_tuple() for m in modifications], list(forced_served),
         prices_hash(asset_states), global_config_hash, da_hash]))


def state_update_fact(old_root: bytes, new_root: bytes, commitment: bytes) -> bytes:
    return keccak(encode(["bytes32", "bytes32", "bytes32"], [old_root, new_root, commitment]))


def availability_hash(exchange: str, new_root: bytes, sequence_number: int, da_hash: bytes) -> bytes:
    """What each committee member signs in validium mode."""
    return keccak(encode(["uint256", "address", "bytes32", "uint256", "bytes32"],
                         [TAG_AVAILABILITY, exchange, new_root, sequence_number, da_hash]))


def forced_withdrawal_hash(stark_key: int, position_id: int, amount: int) -> bytes:
    return keccak(encode(["uint256", "uint256", "uint64", "uint256"],
                         [TAG_FORCED_WITHDRAWAL, stark_key, position_id, amount]))


@dataclass(frozen=True, slots=True)
class ForcedTrade:
    stark_key_a: int
    stark_key_b: int
    position_a: int
    position_b: int
    synthetic_asset_id: int
    amount_collateral: int
    amount_synthetic: int
    a_is_buying_synthetic: bool
    submission_expiration: int
    nonce: int

    def request_hash(self) -> bytes:
        return keccak(encode(
            ["uint256", "uint256", "uint256", "uint64", "uint64", "uint256", "uint256", "uint256",
             "bool", "uint256", "uint256"],
            [TAG_FORCED_TRADE, self.stark_key_a, self.stark_key_b, self.position_a, self.position_b,
             self.synthetic_asset_id, self.amount_collateral, self.amount_synthetic,
             self.a_is_buying_synthetic, self.submission_expiration, self.nonce]))


# --- the DA payload ---------------------------------------------------------------------------
# u32 n_positions; per position (sorted by id): u64 position_id, 32-byte public key,
# u64 collateral + 2^63, u8 n_assets, per asset: 15-byte asset id, u64 balance + 2^63,
# u64 cached index + 2^63; then u8 n_assets; per asset: 15-byte id, u64 price, u64 index + 2^63.
# Big-endian throughout.

def encode_state_diff(positions: Mapping[int, Leaf], asset_states: Sequence[AssetState]) -> bytes:
    out = [struct.pack(">I", len(positions))]
    for position_id in sorted(positions):
        leaf = positions[position_id]
        out.append(struct.pack(">Q", position_id) + leaf.public_key.to_bytes(32, "big"))
        out.append(struct.pack(">QB", leaf.collateral + SIGNED_BIAS, len(leaf.assets)))
        for a in leaf.assets:
            out.append(a.asset_id.to_bytes(15, "big"))
            out.append(struct.pack(">QQ", a.balance + SIGNED_BIAS, a.cached_funding_index + SIGNED_BIAS))
    out.append(struct.pack(">B", len(asset_states)))
    for s in asset_states:
        out.append(s.asset_id.to_bytes(15, "big") + struct.pack(">QQ", s.price, s.funding_index + SIGNED_BIAS))
    return b"".join(out)


def decode_state_diff(data: bytes) -> tuple[dict[int, Leaf], tuple[AssetState, ...]]:
    """The inverse of `encode_state_diff`."""
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos:pos + n]
        assert len(chunk) == n, "truncated state diff"
        pos += n
        return chunk

    positions: dict[int, Leaf] = {}
    (n_positions,) = struct.unpack(">I", take(4))
    for _ in range(n_positions):
        (position_id,) = struct.unpack(">Q", take(8))
        public_key = int.from_bytes(take(32), "big")
        collateral, n_assets = struct.unpack(">QB", take(9))
        assets = []
        for _ in range(n_assets):
            asset_id = int.from_bytes(take(15), "big")
            balance, index = struct.unpack(">QQ", take(16))
            assets.append(LeafAsset(asset_id, balance - SIGNED_BIAS, index - SIGNED_BIAS))
        positions[position_id] = Leaf(public_key, collateral - SIGNED_BIAS, tuple(assets))
    states = []
    (n_states,) = struct.unpack(">B", take(1))
    for _ in range(n_states):
        asset_id = int.from_bytes(take(15), "big")
        price, index = struct.unpack(">QQ", take(16))
        states.append(AssetState(asset_id, price, index - SIGNED_BIAS))
    assert pos == len(data), "trailing bytes in state diff"
    return positions, tuple(states)
