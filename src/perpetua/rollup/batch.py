"""Batches, their data-availability payloads and commitments.

A batch is cut when it holds `max_txs` transactions or its first transaction is `max_age_s`
old. It carries:

- `old_roots` / `new_roots`: (positions root, orders root) before and after,
- `txs`: the transactions, in order,
- `payload`: the DA payload, the state diff: every changed position leaf (id, key, collateral,
  assets) and order record (id, filled), plus the global funding indices, their timestamp, the
  oracle prices and the system time after the batch. It is canonical JSON (`canonical_json`):
  sorted keys, no spaces, integers as JSON numbers, bytes as hex,
- `commitment`: keccak256 over the canonical encoding of (sequence number, mode, old roots, new
  roots, keccak256(canonical txs), keccak256(payload)).

Two modes. **rollup**: the payload is posted on L1 with the state update. **validium**: only
keccak256(payload) goes to L1, with signatures of a data-availability committee: N members, each
with an Ethereum (secp256k1) key, sign keccak256(payload) (recoverable, as `eth_sign` would over
the raw 32 bytes), and a quorum of distinct members is needed. Members keep the payloads and
serve them back (`committee.py`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from coincurve import PrivateKey, PublicKey

from perpetua.crypto.keccak import keccak256
from perpetua.rollup.apply import Transaction, apply
from perpetua.rollup.hashing import Digest
from perpetua.rollup.outputs import Output
from perpetua.rollup.pmap import changed_keys
from perpetua.rollup.position import EMPTY_POSITION, Position, PositionAsset
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.tree import StateTree


class Mode(StrEnum):
    ROLLUP = "rollup"
    VALIDIUM = "validium"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_canonical(obj: Any) -> Any:
    """A JSON-ready value: dataclasses as {"type": name, fields...}, bytes as hex, sets sorted."""
    cls = type(obj)
    if cls is int or cls is str or cls is bool or obj is None:
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {"type": cls.__name__}
        for name in _field_names(cls):
            out[name] = to_canonical(getattr(obj, name))
        return out
    if isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, tuple | list):
        return [to_canonical(v) for v in obj]
    if isinstance(obj, frozenset | set):
        return sorted(to_canonical(v) for v in obj)
    if isinstance(obj, dict):
        return {str(k): to_canonical(v) for k, v in obj.items()}
    raise TypeError(f"no canonical encoding for {type(obj).__name__}")


def canonical_json(obj: Any) -> bytes:
    return json.dumps(to_canonical(obj), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class StateDiff:
    """The DA payload: changed leaves and the globals after the batch."""

    positions: tuple[tuple[int, Position], ...]
    """(position id, leaf) for every changed position, sorted; an emptied one is EMPTY_POSITION."""
    orders: tuple[tuple[int, int], ...]
    funding_indices: tuple[tuple[int, int], ...]
    funding_timestamp: int
    oracle_prices: tuple[tuple[int, int], ...]
    system_time: int


def encode_diff(diff: StateDiff) -> bytes:
    """The payload bytes: canonical JSON of the diff, positions as [id, key, collateral,
    [[asset, balance, index], ...]]."""
    doc = {
        "positions": [[pid, p.public_key, p.collateral,
                       [[a.asset_id, a.balance, a.cached_funding_index] for a in p.assets]]
                      for pid, p in diff.positions],
        "orders": [list(o) for o in diff.orders],
        "funding_indices": [list(i) for i in diff.funding_indices],
        "funding_timestamp": diff.funding_timestamp,
        "oracle_prices": [list(p) for p in diff.oracle_prices],
        "system_time": diff.system_time,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def decode_diff(payload: bytes) -> StateDiff:
    doc = json.loads(payload)
    positions = tuple(
        (int(pid), Position(int(key), int(coll), tuple(PositionAsset(int(a), int(b), int(i)) for a, b, i in assets)))
        for pid, key, coll, assets in doc["positions"])
    return StateDiff(
        positions=positions,
        orders=tuple((int(o), int(f)) for o, f in doc["orders"]),
        funding_indices=tuple((int(a), int(i)) for a, i in doc["funding_indices"]),
        funding_timestamp=int(doc["funding_timestamp"]),
        oracle_prices=tuple((int(a), int(p)) for a, p in doc["oracle_prices"]),
        system_time=int(doc["system_time"]),
    )


def state_diff(old: RollupState, new: RollupState) -> StateDiff:
    """The changed leaves between two states (structural sharing makes this O(changes))."""
    pids = changed_keys(old.positions, new.positions)
    oids = changed_keys(old.orders, new.orders)
    return StateDiff(
        positions=tuple((pid, new.position(pid)) for pid in pids),
        orders=tuple((oid, new.fulfilled(oid)) for oid in oids),
        funding_indices=tuple(sorted(new.funding_indices.items())),
        funding_timestamp=new.funding_timestamp,
        oracle_prices=tuple(sorted(new.oracle_prices.items())),
        system_time=new.system_time,
    )


def commitment(sequence: int, mode: Mode, old_roots: tuple[Digest, Digest], new_roots: tuple[Digest, Digest],
               txs: Sequence[Transaction], payload: bytes) -> bytes:
    """keccak256 of the canonical encoding binding a batch's parts."""
    body = {"sequence": sequence, "mode": str(mode), "old_roots": [r.hex() for r in old_roots],
            "new_roots": [r.hex() for r in new_roots], "txs_hash": keccak256(canonical_json(list(txs))).hex(),
            "payload_hash": keccak256(payload).hex()}
    return keccak256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


@dataclass(frozen=True, slots=True)
class CommitteeSignature:
    address: bytes
    """20-byte Ethereum address of the member."""
    signature: bytes
    """65-byte recoverable secp256k1 signature (r || s || v) over keccak256(payload)."""


def eth_address(public_key: PublicKey) -> bytes:
    return keccak256(public_key.format(compressed=False)[1:])[-20:]


def sign_payload(private_key: PrivateKey, payload_hash: bytes) -> CommitteeSignature:
    return CommitteeSignature(eth_address(private_key.public_key),
                              private_key.sign_recoverable(payload_hash, hasher=None))


def recover_signer(payload_hash: bytes, signature: bytes) -> bytes | None:
    """The address that made the signature, or None if it is malformed."""
    try:
        return eth_address(PublicKey.from_signature_and_message(signature, payload_hash, hasher=None))
    except Exception:
        return None


def check_quorum(payload_hash: bytes, signatures: Sequence[CommitteeSignature], members: frozenset[bytes],
                 quorum: int) -> bool:
    """True when at least `quorum` distinct committee members signed this payload hash."""
    signers = set()
    for sig in signatures:
        address = recover_signer(payload_hash, sig.signature)
        if address is not None and address == sig.address and address in members:
            signers.add(address)
    return len(signers) >= quorum


@dataclass(frozen=True, slots=True)
class Batch:
    sequence: int
    mode: Mode
    old_roots: tuple[Digest, Digest]
    new_roots: tuple[Digest, Digest]
    txs: tuple[Transaction, ...]
    outputs: tuple[Output, ...]
    payload: bytes
    payload_hash: bytes
    commitment: bytes
    committee_signatures: tuple[CommitteeSignature, ...] = ()

    def onchain_data(self) -> bytes:
        """What L1 receives: the payload in rollup mode, only its hash in validium mode."""
        return self.payload if self.mode is Mode.ROLLUP else self.payload_hash


@dataclass
class Batcher:
    """Applies transactions and cuts batches (the operator side; mutable by design)."""

    state: RollupState
    context: BatchContext
    mode: Mode = Mode.ROLLUP
    max_txs: int = 1000
    max_age_s: int = 60
    committee: Sequence[PrivateKey] = ()
    tree: StateTree = field(default_factory=StateTree)
    sequence: int = 0
    pending: list[Transaction] = field(default_factory=list)
    pending_outputs: list[Output] = field(default_factory=list)
    started_at_s: int | None = None
    batch_start_state: RollupState | None = None

    def __post_init__(self) -> None:
        if self.batch_start_state is None:
            self.batch_start_state = self.state
            if len(self.state.positions) or len(self.state.orders):
                self.tree.apply_diff(dict(self.state.positions.items()), dict(self.state.orders.items()))
        self._start_window()

    def _start_window(self) -> None:
        """The oracle timestamp window's lower edge is the system time when the batch began."""
        assert self.batch_start_state is not None
        self.context = dataclasses.replace(self.context, batch_start_system_time=self.batch_start_state.system_time)

    def submit(self, tx: Transaction, now_s: int | None = None) -> list[Output]:
        """Apply `tx` (raising InvalidTransaction, state unchanged) and queue it."""
        self.state, outputs = apply(self.state, tx, self.context)
        self.pending.append(tx)
        self.pending_outputs.extend(outputs)
        if self.started_at_s is None:
            self.started_at_s = now_s
        return outputs

    def due(self, now_s: int | None = None) -> bool:
        """Whether the batch should be cut: full, or its first transaction is max_age_s old."""
        if len(self.pending) >= self.max_txs:
            return True
        return bool(self.pending) and now_s is not None and self.started_at_s is not None and \
            now_s - self.started_at_s >= self.max_age_s

    def cut(self) -> Batch:
        """Close the batch: diff, root updates, payload, commitment (and committee signatures)."""
        start = self.batch_start_state
        assert start is not None
        diff = state_diff(start, self.state)
        old_roots = self.tree.roots()
        new_roots = self.tree.apply_diff(dict(diff.positions), dict(diff.orders))
        payload = encode_diff(diff)
        payload_hash = keccak256(payload)
        txs = tuple(self.pending)
        batch = Batch(self.sequence, self.mode, old_roots, new_roots, txs, tuple(self.pending_outputs), payload,
                      payload_hash, commitment(self.sequence, self.mode, old_roots, new_roots, txs, payload),
                      tuple(sign_payload(k, payload_hash) for k in self.committee)
                      if self.mode is Mode.VALIDIUM else ())
        self.sequence += 1
        self.pending, self.pending_outputs, self.started_at_s = [], [], None
        self.batch_start_state = self.state
        self._start_window()
        return batch


def diff_leaves(diff: StateDiff) -> dict[int, Position]:
    return {pid: (EMPTY_POSITION if p.is_empty else p) for pid, p in diff.positions}
