"""What a state update carries to L1, and the hashes that bind it: the rollup's batch, reconciled.

A `perpetua.rollup.batch.Batch` becomes an L1 state update with `from_rollup`:

- roots: the rollup commits to two trees (positions, orders); L1 stores the **positions root**
  (`new_roots[0]`), the only one the escape needs. The orders root is bound through the rollup's
  own `commitment` (keccak of sequence, mode, both old and new roots, txs hash, payload hash),
  which the L1 fact binds in full (`batch_commitment`).
- `Modification`: a deposit the batch credits (delta > 0, must be pending on L1) or a withdrawal
  it debits (delta < 0, credited to the STARK key's pending withdrawals when accepted), from the
  rollup's `outputs.Modification`s in order.
- `forced_served`: the L1 request hash of every `ForcedWithdrawal` the batch carries (executed or
  included as failed); forced trades pass theirs explicitly (the rollup's form of the consent
  differs from the L1 request).
- `AssetState`: the last oracle price (32.32) and global funding index (signed 32.32) per asset,
  read from the payload's `oracle_prices` and `funding_indices` (so the escape's prices are the
  DA payload's). The contract stores keccak256(abi_encode(asset_states)); the escape re-supplies
  and checks them.
- The DA payload is **the rollup's own** (`perpetua.rollup.batch.encode_diff`: canonical JSON of
  the changed position leaves and order records, funding indices, prices, system time); the
  contract only hashes it. `da_hash = keccak256(payload)` = the rollup's `payload_hash`.
- The fact (what the verifier must vouch for):
  commitment = keccak256(abi_encode(sequence_number, system_time, modifications, forced_served,
                                    prices_hash, global_config_hash, batch_commitment, da_hash))
  fact       = keccak256(abi_encode(old_root, new_root, commitment))
  with sequence_number = the rollup's sequence + 1 (L1 counts from 1).
- Validium: the committee signs `da_hash` itself, exactly as the rollup's members do
  (`CommitteeSignature`, recoverable secp256k1 over keccak256(payload)), so the rollup's
  signatures go to L1 as they are (v + 27, r, s), sorted by signer address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak

from perpetua.chain.constants import TAG_FORCED_TRADE, TAG_FORCED_WITHDRAWAL
from perpetua.chain.merkle import Leaf, LeafAsset
from perpetua.rollup import batch as rollup_batch
from perpetua.rollup import outputs as rollup_outputs
from perpetua.rollup.position import Position, PositionAsset
from perpetua.rollup.transactions.forced_withdrawal import ForcedWithdrawal

ZERO32 = b"\x00" * 32
Signature = tuple[int, bytes, bytes]
"""(v, r, s) as `ecrecover` takes it."""

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
    payload: bytes = b""
    """The DA payload, in the rollup's format (`perpetua.rollup.batch.encode_diff`)."""
    batch_commitment: bytes = ZERO32
    """The rollup's commitment to the batch (both trees' roots, txs, payload)."""
    committee_signatures: tuple[Signature, ...] = ()
    """Validium: the committee's signatures over `da_hash`, signers in increasing address order."""
    sequence: int | None = None
    """The rollup's sequence number (L1's is this + 1), when the batch came from the rollup."""

    @property
    def da_hash(self) -> bytes:
        return keccak(self.payload)


def leaf_of(position: Position) -> Leaf:
    return Leaf(position.public_key, position.collateral,
                tuple(LeafAsset(a.asset_id, a.balance, a.cached_funding_index) for a in position.assets))


def position_of(leaf: Leaf) -> Position:
    return Position(leaf.public_key, leaf.collateral,
                    tuple(PositionAsset(a.asset_id, a.balance, a.cached_funding_index) for a in leaf.assets))


def asset_states_of(oracle_prices: Mapping[int, int], funding_indices: Mapping[int, int]) -> tuple[AssetState, ...]:
    """Every asset with a price or an index, sorted by id (a missing one is 0)."""
    return tuple(AssetState(a, oracle_prices.get(a, 0), funding_indices.get(a, 0))
                 for a in sorted(set(oracle_prices) | set(funding_indices)))


def encode_payload(positions: Mapping[int, Leaf], asset_states: Sequence[AssetState], system_time: int,
                   orders: Mapping[int, int] | None = None) -> bytes:
    """A payload in the rollup's format from leaves (tests and benchmarks without a rollup)."""
    diff = rollup_batch.StateDiff(
        positions=tuple((pid, position_of(positions[pid])) for pid in sorted(positions)),
        orders=tuple(sorted((orders or {}).items())),
        funding_indices=tuple((s.asset_id, s.funding_index) for s in asset_states),
        funding_timestamp=system_time,
        oracle_prices=tuple((s.asset_id, s.price) for s in asset_states),
        system_time=system_time)
    return rollup_batch.encode_diff(diff)


def decode_payload(payload: bytes) -> tuple[dict[int, Leaf], tuple[AssetState, ...], int]:
    """(position id -> leaf, asset states, system time) of a rollup payload."""
    diff = rollup_batch.decode_diff(payload)
    return ({pid: leaf_of(p) for pid, p in diff.positions},
            asset_states_of(dict(diff.oracle_prices), dict(diff.funding_indices)), diff.system_time)


def committee_signature(sig: rollup_batch.CommitteeSignature) -> Signature:
    """A rollup committee signature (r || s || v, v in {0, 1}) as `ecrecover` takes it."""
    raw = sig.signature
    return (raw[64] + 27, raw[:32], raw[32:64])


def from_rollup(batch: rollup_batch.Batch, forced_served: Sequence[bytes] = ()) -> Batch:
    """The L1 state update for a rollup batch (see the module docstring for what binds what)."""
    diff = rollup_batch.decode_diff(batch.payload)
    mods = tuple(Modification(o.public_key, o.position_id, o.delta) for o in batch.outputs
                 if isinstance(o, rollup_outputs.Modification))
    served = [forced_withdrawal_hash(tx.public_key, tx.position_id, tx.amount) for tx in batch.txs
              if isinstance(tx, ForcedWithdrawal)]
    signatures = tuple(committee_signature(s) for s in
                       sorted(batch.committee_signatures, key=lambda s: int.from_bytes(s.address, "big")))
    return Batch(batch.old_roots[0], batch.new_roots[0], diff.system_time, mods,
                 tuple(served) + tuple(forced_served),
                 asset_states_of(dict(diff.oracle_prices), dict(diff.funding_indices)),
                 batch.payload, batch.commitment, signatures, batch.sequence)


def prices_hash(asset_states: Sequence[AssetState]) -> bytes:
    return keccak(encode([ASSET_STATES_T], [[a.as_tuple() for a in asset_states]]))


def batch_commitment(sequence_number: int, system_time: int, modifications: Sequence[Modification],
                     forced_served: Sequence[bytes], asset_states: Sequence[AssetState],
                     global_config_hash: bytes, rollup_commitment: bytes, da_hash: bytes) -> bytes:
    return keccak(encode(
        ["uint256", "uint256", MODIFICATIONS_T, "bytes32[]", "bytes32", "bytes32", "bytes32", "bytes32"],
        [sequence_number, system_time, [m.as_tuple() for m in modifications], list(forced_served),
         prices_hash(asset_states), global_config_hash, rollup_commitment, da_hash]))


def state_update_fact(old_root: bytes, new_root: bytes, commitment: bytes) -> bytes:
    return keccak(encode(["bytes32", "bytes32", "bytes32"], [old_root, new_root, commitment]))


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
