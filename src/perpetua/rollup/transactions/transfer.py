"""Transfer (stark-perpetual v1 `transactions/transfer.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.crypto.messages import Transfer as TransferMessage
from perpetua.crypto.messages import hash_transfer
from perpetua.crypto.signatures import Signature
from perpetua.rollup.errors import ErrorCode, InvalidOrder, InvalidPositionUpdate
from perpetua.rollup.orders import check_expiration, fulfil
from perpetua.rollup.outputs import Output
from perpetua.rollup.position import Position, update_position
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class Transfer:
    """A signed collateral transfer between two positions."""

    message: TransferMessage
    sender_public_key: int
    signature: Signature


def transfer_changes(state: RollupState, msg: TransferMessage, sender_public_key: int, signature: Signature,
                     ctx: BatchContext) -> tuple[dict[int, Position], dict[int, int]]:
    """The position and order changes of a (conditional) transfer; see `apply_transfer`."""
    config = ctx.config
    if msg.asset_id != config.collateral_asset_id:
        raise InvalidOrder(ErrorCode.INVALID_COLLATERAL_ASSET_ID, "transfer of a non-collateral asset",
                           asset_id=hex(msg.asset_id))
    if msg.asset_id_fee != 0 or msg.max_amount_fee != 0 or msg.fee_position_id != msg.sender_position_id:
        raise InvalidOrder(ErrorCode.INVALID_TRANSFER_FEE, "transfers carry no fee",
                           asset_id_fee=msg.asset_id_fee, max_amount_fee=msg.max_amount_fee,
                           fee_position_id=msg.fee_position_id)
    if msg.sender_position_id == msg.receiver_position_id:
        raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "sender and receiver are the same position",
                                    position_id=msg.sender_position_id)
    check_expiration(msg.expiration_hours, ctx, "transfer")
    message_hash = hash_transfer(msg)
    ctx.signatures.check(sender_public_key, message_hash, signature, "transfer")
    orders: dict[int, int] = {}
    fulfil(state, orders, message_hash, msg.amount, msg.amount)
    indices, prices = state.funding_indices, state.oracle_prices
    _, sender = update_position(state.position(msg.sender_position_id), sender_public_key, -msg.amount,
                                None, 0, indices, prices, config)
    _, receiver = update_position(state.position(msg.receiver_position_id), msg.receiver_public_key,
                                  msg.amount, None, 0, indices, prices, config)
    return {msg.sender_position_id: sender, msg.receiver_position_id: receiver}, orders


def apply_transfer(state: RollupState, tx: Transfer, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Move `amount` collateral from sender to receiver.

    Rules: collateral only; no fee (fee asset 0, max fee 0, fee position = sender); sender !=
    receiver; not expired; the sender's signature verifies; single use (orders tree); the sender's
    update is a valid transition; the receiver's key owns the receiving position or claims it empty.
    """
    if tx.message.condition is not None:
        raise InvalidOrder(ErrorCode.UNREGISTERED_CONDITION, "a conditional transfer is a ConditionalTransfer")
    positions, orders = transfer_changes(state, tx.message, tx.sender_public_key, tx.signature, ctx)
    return state.with_changes(positions=positions, orders=orders), []
