"""The settlement view: what the dashboard shows of L1, as one JSON-ready read.

    settlement_view(op: OperatorClient, latest=10, now=None) -> dict

Keys (bytes as 0x-hex, times in L1 seconds):

- `frozen` (bool), `da_mode` ("rollup" | "validium"), `state_root`, `sequence_number`,
  `system_time`, `verifier`, `now`;
- `batches`: the latest `latest` accepted state updates, newest first: `sequence_number`,
  `old_root`, `new_root` (positions roots), `da_mode`, `da_hash` (keccak of the DA payload),
  `batch_commitment` (the rollup's), `system_time`, `accepted_at`;
- `withdrawals`: every withdrawal credited on L1, newest first: `stark_key`, `position_id`,
  `amount`, `sequence_number` (its batch), `requested_at` (L2 request, when the operator noted it),
  `claimable_at`, `delay_s`, `claimed_at` (None until the owner withdraws);
- `pending_deposits`: deposits on L1 no batch has included yet: `stark_key`, `position_id`, `amount`;
- `forced_requests`: pending forced requests, oldest first: `request`, `kind`, `requested_at`,
  `deadline`, `seconds_left` (negative once overdue), `freezable` (anyone may freeze now);
- `pending_changes`: governance changes proposed and not executed or cancelled: `change_id`,
  `kind` ("verifier" | "global_config"), `value`, `eta`.

Only reads (eth_call and logs through `backend.Chain`): safe to call from any thread that owns
the chain object, and cheap enough per page load for a few hundred batches.
"""

from __future__ import annotations

from typing import Any

from perpetua.chain.client import OperatorClient
from perpetua.chain.constants import CHANGE_VERIFIER


def _hex(value: Any) -> Any:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else value


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _hex(v) for k, v in row.items()}


def settlement_view(op: OperatorClient, latest: int = 10, now: int | None = None) -> dict[str, Any]:
    chain, exchange = op.chain, op.d.exchange
    now = chain.now() if now is None else now
    state = op.state()
    batches = [{"sequence_number": b.sequence_number, "old_root": b.old_root, "new_root": b.new_root,
                "da_mode": "rollup" if b.da_mode == 0 else "validium", "da_hash": b.da_hash,
                "batch_commitment": b.batch_commitment, "system_time": b.system_time,
                "accepted_at": b.accepted_at} for b in op.batches()]
    forced = []
    for r in op.forced_requests():
        forced.append({"request": r["request"], "kind": r["kind"], "stark_key": r.get("stark_key", r.get("stark_key_a")),
                       "requested_at": r["requested_at"], "deadline": r["deadline"],
                       "seconds_left": r["deadline"] - now, "freezable": now > r["deadline"] and not state["frozen"]})
    changes = []
    for _, _, e in chain.events(exchange):
        if e.name == "ChangeProposed":
            changes.append({"change_id": bytes(e.args["change_id"]), "kind": e.args["kind"],
                            "value": bytes(e.args["value"]), "eta": e.args["eta"]})
        elif e.name in ("ChangeExecuted", "ChangeCancelled"):
            done = bytes(e.args["change_id"])
            changes = [c for c in changes if c["change_id"] != done]
    for c in changes:
        c["kind"] = "verifier" if c["kind"] == CHANGE_VERIFIER else "global_config"
    return {
        "now": now,
        "frozen": state["frozen"],
        "da_mode": state["da_mode"],
        "state_root": _hex(state["state_root"]),
        "sequence_number": state["sequence_number"],
        "system_time": state["system_time"],
        "verifier": state["verifier"],
        "batches": [_json(b) for b in reversed(batches[-latest:])] if latest > 0 else [],
        "withdrawals": [_json(w) for w in reversed(op.withdrawals())],
        "pending_deposits": [{"stark_key": k, "position_id": p, "amount": a}
                             for (k, p), a in op.pending_deposits().items()],
        "forced_requests": [_json(r) for r in forced],
        "pending_changes": [_json(c) for c in changes],
    }
