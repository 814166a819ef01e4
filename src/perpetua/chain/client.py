"""Deploying the L1 contracts and driving them: the operator's client and a trader's helpers.

Written against `backend.Chain`, so the in-process EVM (`BoaChain`) can be swapped for a JSON-RPC
node. Entry points for the main job (`perpetua up`) and the dashboard's settlement view:

- `deploy(chain, ...) -> Deployment`: token, interim fact registry, escape verifier, exchange.
- `OperatorClient.submit_batch(batch)`: registers the fact (interim verifier keys), then sends the
  state update (rollup: state diff as calldata; validium: committee signatures).
- Reads: `state()`, `batches()`, `pending_deposits()`, `forced_requests()`, `withdrawals()`.
- `Trader`: register, deposit, cancel/reclaim, withdraw, forced withdrawal, freeze, escape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from perpetua.chain import batch as B
from perpetua.chain.backend import Chain, Receipt
from perpetua.chain.constants import (
    CHANGE_GLOBAL_CONFIG,
    CHANGE_VERIFIER,
    DA_ROLLUP,
    DA_VALIDIUM,
    FREEZE_GRACE_PERIOD_S,
    TAG_USER_REGISTRATION,
)
from perpetua.chain.merkle import EMPTY_SUBTREES, Leaf
from perpetua.rollup.rebuild import rebuild as rollup_rebuild

ZERO32 = b"\x00" * 32


def account(label: str) -> LocalAccount:
    """A deterministic test account (private key = keccak(label))."""
    return Account.from_key(keccak(text=f"perpetua:{label}"))


def sign_hash(signer: LocalAccount, digest: bytes) -> tuple[int, bytes, bytes]:
    """A raw secp256k1 signature (v, r, s) over a 32-byte digest, for `ecrecover`."""
    sig = signer.unsafe_sign_hash(digest)
    return (sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big"))


@dataclass
class Deployment:
    chain: Chain
    da_mode: int
    token: str
    fact_registry: str
    escape_verifier: str
    exchange: str
    governor: LocalAccount
    operator: LocalAccount
    user_admin: LocalAccount
    verifier_keys: list[LocalAccount]
    committee: list[LocalAccount]


def deploy(chain: Chain, *, da_mode: int = DA_ROLLUP, committee_size: int = 3, quorum: int = 2,
           verifier_keys: int = 1, verifier_threshold: int = 1,
           initial_root: bytes = EMPTY_SUBTREES[64], global_config_hash: bytes = ZERO32,
           test_network: bool = True, label: str = "perpetua") -> Deployment:
    """Deploys the four contracts; the governor deploys, the operator submits batches."""
    governor, operator = account(f"{label}:governor"), account(f"{label}:operator")
    user_admin = account(f"{label}:user-admin")
    keys = [account(f"{label}:verifier:{i}") for i in range(verifier_keys)]
    committee = sorted((account(f"{label}:committee:{i}") for i in range(committee_size)),
                       key=lambda a: int(a.address, 16))
    g = governor.address
    token = chain.deploy("CollateralToken", "USD Coin", "USDC", test_network, 0, sender=g)
    registry = chain.deploy("InterimFactRegistry", [k.address for k in keys], verifier_threshold, sender=g)
    escape_verifier = chain.deploy("PerpetualEscapeVerifier", sender=g)
    members = [m.address for m in committee] if da_mode == DA_VALIDIUM else []
    exchange = chain.deploy("PerpetualExchange", token, registry, escape_verifier, da_mode, members,
                            quorum if da_mode == DA_VALIDIUM else 0, user_admin.address, initial_root,
                            global_config_hash, sender=g)
    return Deployment(chain, da_mode, token, registry, escape_verifier, exchange, governor, operator,
                      user_admin, keys, committee)


@dataclass
class BatchRecord:
    sequence_number: int
    old_root: bytes
    new_root: bytes
    da_mode: int
    da_hash: bytes
    batch_commitment: bytes
    system_time: int
    accepted_at: int


@dataclass
class OperatorClient:
    d: Deployment
    da_payloads: dict[int, bytes] = field(default_factory=dict)
    """sequence number -> DA payload (validium: what the committee keeps off-chain)."""
    withdrawal_requests: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)
    """(stark key, position id) -> [(amount, L2 request time s)], oldest first (`note_withdrawal_request`)."""

    @property
    def chain(self) -> Chain:
        return self.d.chain

    def _read(self, function: str, *args: Any) -> Any:
        return self.chain.call(self.d.exchange, function, *args)

    def note_withdrawal_request(self, stark_key: int, position_id: int, amount: int, requested_at: int) -> None:
        """Records when a withdrawal was requested on L2, so `withdrawals()` can report its delay."""
        self.withdrawal_requests.setdefault((stark_key, position_id), []).append((amount, requested_at))

    # --- writes ------------------------------------------------------------------------------
    def register_user(self, eth_address: str, stark_key: int) -> Receipt:
        digest = keccak(encode(["uint256", "address", "address", "uint256"],
                               [TAG_USER_REGISTRATION, self.d.exchange, eth_address, stark_key]))
        return self.chain.transact(self.d.operator.address, self.d.exchange, "register_user",
                                   eth_address, stark_key, sign_hash(self.d.user_admin, digest))

    def fact_for(self, batch: B.Batch) -> bytes:
        sequence = self._read("sequence_number") + 1
        commitment = B.batch_commitment(sequence, batch.system_time, batch.modifications,
                                        batch.forced_served, batch.asset_states,
                                        self._read("global_config_hash"), batch.batch_commitment,
                                        batch.da_hash)
        return B.state_update_fact(batch.old_root, batch.new_root, commitment)

    def register_fact(self, fact: bytes) -> list[Receipt]:
        """Interim verifier: the configured keys vouch for the fact (no proof is checked)."""
        threshold = self.chain.call(self.d.fact_registry, "threshold")
        return [self.chain.transact(k.address, self.d.fact_registry, "register_fact", fact)
                for k in self.d.verifier_keys[:threshold]
                if not self.chain.call(self.d.fact_registry, "approved_by", fact, k.address)]

    def committee_signatures(self, da_hash: bytes,
                             signers: Sequence[LocalAccount] | None = None) -> list[tuple[int, bytes, bytes]]:
        """Signatures of (by default) every committee member over da_hash, in address order (the
        rollup's committee signs the same hash: `perpetua.rollup.batch.sign_payload`)."""
        chosen = sorted(signers if signers is not None else self.d.committee,
                        key=lambda a: int(a.address, 16))
        return [sign_hash(m, da_hash) for m in chosen]

    def submit_batch(self, batch: B.Batch, *, register_fact: bool = True,
                     signatures: Sequence[tuple[int, bytes, bytes]] | None = None) -> Receipt:
        """Registers the batch's fact (unless told not to) and sends the state update: rollup mode
        posts the payload as calldata; validium mode posts its hash with the committee's
        signatures (the batch's own, e.g. the rollup committee's, else the deployment's)."""
        payload = batch.payload
        da_hash = batch.da_hash
        if register_fact:
            self.register_fact(self.fact_for(batch))
        mods = [m.as_tuple() for m in batch.modifications]
        states = [a.as_tuple() for a in batch.asset_states]
        common = (batch.old_root, batch.new_root, batch.system_time, mods, list(batch.forced_served), states,
                  batch.batch_commitment)
        if self.d.da_mode == DA_ROLLUP:
            receipt = self.chain.transact(self.d.operator.address, self.d.exchange,
                                          "update_state_rollup", *common, payload)
        else:
            if signatures is None:
                signatures = list(batch.committee_signatures) or self.committee_signatures(da_hash)
            receipt = self.chain.transact(self.d.operator.address, self.d.exchange,
                                          "update_state_validium", *common, da_hash, list(signatures))
        self.da_payloads[self._read("sequence_number")] = payload
        return receipt

    def propose_change(self, kind: int, value: bytes) -> Receipt:
        return self.chain.transact(self.d.governor.address, self.d.exchange, "propose_change", kind, value)

    def execute_change(self, kind: int, value: bytes) -> Receipt:
        return self.chain.transact(self.d.governor.address, self.d.exchange, "execute_change", kind, value)

    @staticmethod
    def verifier_change_value(address: str) -> bytes:
        return int(address, 16).to_bytes(32, "big")

    # --- reads (the settlement view) ----------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "state_root": bytes(self._read("state_root")),
            "sequence_number": self._read("sequence_number"),
            "system_time": self._read("system_time"),
            "frozen": self._read("frozen"),
            "da_mode": "rollup" if self.d.da_mode == DA_ROLLUP else "validium",
            "verifier": str(self._read("verifier")),
            "global_config_hash": bytes(self._read("global_config_hash")),
        }

    def is_frozen(self) -> bool:
        return bool(self._read("frozen"))

    def batches(self) -> list[BatchRecord]:
        out = []
        for _, t, e in self.chain.events(self.d.exchange, "StateUpdated"):
            a = e.args
            out.append(BatchRecord(a["sequence_number"], bytes(a["old_root"]), bytes(a["new_root"]),
                                   a["da_mode"], bytes(a["da_hash"]), bytes(a["batch_commitment"]),
                                   a["system_time"], t))
        return out

    def pending_deposits(self) -> dict[tuple[int, int], int]:
        """(stark key, position id) -> amount waiting for a batch (what the operator may include)."""
        keys = {(e.args["stark_key"], e.args["position_id"])
                for _, _, e in self.chain.events(self.d.exchange, "Deposit")}
        out = {}
        for stark_key, position_id in sorted(keys):
            amount = self._read("pending_deposits", stark_key, position_id)
            if amount:
                out[(stark_key, position_id)] = amount
        return out

    def forced_requests(self) -> list[dict[str, Any]]:
        """Pending forced requests with their freeze deadlines, oldest first."""
        out = []
        for _, t, e in self.chain.events(self.d.exchange):
            if e.name not in ("ForcedWithdrawalRequested", "ForcedTradeRequested"):
                continue
            request = bytes(e.args["request"])
            if self._read("forced_request_time", request) == 0:
                continue
            out.append({"request": request, "kind": e.name, "requested_at": t,
                        "deadline": t + FREEZE_GRACE_PERIOD_S, **{k: v for k, v in e.args.items()
                                                                 if k != "request"}})
        return out

    def withdrawals(self) -> list[dict[str, Any]]:
        """Each withdrawal from its L2 request to claimable on L1 (its batch's acceptance) and
        claimed (the owner's next `withdraw` of that STARK key)."""
        requests = {k: list(v) for k, v in self.withdrawal_requests.items()}
        claims: dict[int, list[int]] = {}
        for _, t, e in self.chain.events(self.d.exchange, "Withdrawn"):
            claims.setdefault(e.args["stark_key"], []).append(t)
        out = []
        for _, t, e in self.chain.events(self.d.exchange, "WithdrawalCredited"):
            key = (e.args["stark_key"], e.args["position_id"])
            amount = e.args["amount"]
            pending = requests.get(key, [])
            match = next((i for i, (a, _) in enumerate(pending) if a == amount), None)
            requested = pending.pop(match)[1] if match is not None else None
            claimed = next((c for c in claims.get(key[0], []) if c >= t), None)
            out.append({"stark_key": key[0], "position_id": key[1], "amount": amount,
                        "sequence_number": e.args["sequence_number"], "requested_at": requested,
                        "claimable_at": t, "delay_s": None if requested is None else t - requested,
                        "claimed_at": claimed})
        return out


# --- traders ----------------------------------------------------------------------------------
@dataclass
class Trader:
    d: Deployment
    eth: LocalAccount
    stark_key: int

    def _tx(self, function: str, *args: Any) -> Receipt:
        return self.d.chain.transact(self.eth.address, self.d.exchange, function, *args)

    def approve_and_deposit(self, position_id: int, amount: int) -> Receipt:
        self.d.chain.transact(self.eth.address, self.d.token, "approve", self.d.exchange, 2**256 - 1)
        return self._tx("deposit", self.stark_key, position_id, amount)

    def deposit(self, position_id: int, amount: int) -> Receipt:
        return self._tx("deposit", self.stark_key, position_id, amount)

    def cancel_deposit(self, position_id: int) -> Receipt:
        return self._tx("deposit_cancel", self.stark_key, position_id)

    def reclaim_deposit(self, position_id: int) -> Receipt:
        return self._tx("deposit_reclaim", self.stark_key, position_id)

    def withdraw(self) -> Receipt:
        return self._tx("withdraw", self.stark_key)

    def forced_withdrawal(self, position_id: int, amount: int) -> Receipt:
        return self._tx("forced_withdrawal_request", self.stark_key, position_id, amount)

    def forced_trade(self, trade: B.ForcedTrade, counterparty: LocalAccount) -> Receipt:
        sig = sign_hash(counterparty, trade.request_hash())
        return self._tx("forced_trade_request", trade.stark_key_a, trade.stark_key_b, trade.position_a,
                        trade.position_b, trade.synthetic_asset_id, trade.amount_collateral,
                        trade.amount_synthetic, trade.a_is_buying_synthetic,
                        trade.submission_expiration, trade.nonce, sig)

    def freeze(self, request: bytes) -> Receipt:
        return self._tx("freeze_request", request)

    def escape(self, position_id: int, leaf: Leaf, path: Sequence[bytes],
               asset_states: Sequence[B.AssetState]) -> Receipt:
        return self._tx("escape", self.stark_key, position_id, leaf.collateral,
                        [(a.asset_id, a.balance, a.cached_funding_index) for a in leaf.assets],
                        list(path), [s.as_tuple() for s in asset_states])


class Rebuilt:
    """The positions tree and last asset states rebuilt from DA payloads alone (the rollup's
    `rebuild`): what a trader needs to escape. `leaves`, `root` and `path` read like
    `merkle.PositionTree`'s; paths come from the rollup's own tree."""

    def __init__(self, payloads: Sequence[bytes]) -> None:
        self.state, self.tree = rollup_rebuild(payloads)
        self.leaves: dict[int, Leaf] = {pid: B.leaf_of(p) for pid, p in self.state.positions.items()}
        self.asset_states = B.asset_states_of(self.state.oracle_prices, self.state.funding_indices)

    @property
    def root(self) -> bytes:
        return self.tree.positions.root

    def path(self, position_id: int) -> list[bytes]:
        return self.tree.positions.proof(position_id)


def rollup_payloads_on_chain(chain: Chain, exchange: str) -> list[bytes]:
    """The payloads of every accepted `update_state_rollup`, in order (their calldata)."""
    return [bytes(args[-1]) for _, args in chain.transactions(exchange, "update_state_rollup")]


def rebuild_from_chain(chain: Chain, exchange: str) -> tuple[Rebuilt, tuple[B.AssetState, ...]]:
    """The positions tree and last asset states, from the rollup-mode payloads on L1 alone."""
    rebuilt = Rebuilt(rollup_payloads_on_chain(chain, exchange))
    return rebuilt, rebuilt.asset_states


def rebuild_from_payloads(payloads: Mapping[int, bytes]) -> tuple[Rebuilt, tuple[B.AssetState, ...]]:
    """The same from the DA payloads a validium committee holds, in sequence order."""
    rebuilt = Rebuilt([payloads[seq] for seq in sorted(payloads)])
    return rebuilt, rebuilt.asset_states


__all__ = [
    "CHANGE_GLOBAL_CONFIG",
    "CHANGE_VERIFIER",
    "Deployment",
    "OperatorClient",
    "Rebuilt",
    "Trader",
    "account",
    "deploy",
    "rebuild_from_chain",
    "rebuild_from_payloads",
]
