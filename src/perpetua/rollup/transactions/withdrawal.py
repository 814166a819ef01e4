"""Withdrawal (stark-perpetual v1 `transactions/withdrawal.cairo`, type 6 messages)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.crypto.messages import Withdrawal as WithdrawalMessage
from perpetua.crypto.messages import hash_withdrawal
from perpetua.crypto.signatures import Signature
from perpetua.rollup.errors import ErrorCode, InvalidOrder
from perpetua.rollup.orders import check_expiration, fulfil
from perpetua.rollup.outputs import Modification, Output
from perpetua.rollup.position import update_position
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A signed request to move collateral out of a position to L1."""

    message: WithdrawalMessage
    public_key: int
    """The position's key, which signed the message."""
    signature: Signature


def apply_withdrawal(state: RollupState, tx: Withdrawal, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Debit `amount` collateral from the position.

    Rules: the asset is the collateral; not expired; the signature verifies for the position's
    key; the message was not used before (orders tree, full = update = amount); the position,
    after funding and the debit, is a valid transition (well leveraged, or risk-reducing).
    Outputs: a modification (-amount) that L1 credits to the owner's pending withdrawals.
    """
    msg = tx.message
    if msg.asset_id_collateral != ctx.config.collateral_asset_id:
        raise InvalidOrder(ErrorCode.INVALID_COLLATERAL_ASSET_ID, "withdrawal of a non-collateral asset",
                           asset_id=hex(msg.asset_id_collateral))
    check_expiration(msg.expiration_hours, ctx, "withdrawal")
    message_hash = hash_withdrawal(msg)
    ctx.signatures.check(tx.public_key, message_hash, tx.signature, "withdrawal")
    orders: dict[int, int] = {}
    fulfil(state, orders, message_hash, msg.amount, msg.amount)
    _, updated = update_position(state.position(msg.position_id), tx.public_key, -msg.amount, None, 0,
                                 state.funding_indices, state.oracle_prices, ctx.config)
    new = state.with_changes(positions={msg.position_id: updated}, orders=orders)
    return new, [Modification(msg.position_id, tx.public_key, -msg.amount)]
