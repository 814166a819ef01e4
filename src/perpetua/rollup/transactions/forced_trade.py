"""ForcedTrade (stark-perpetual v1 `transactions/forced_trade.cairo`), in Perpetua's form."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.errors import ErrorCode, InvalidOrder, InvalidPositionUpdate, InvalidTransaction
from perpetua.rollup.orders import SignedOrder, check_expiration, fulfil, limit_order_hash
from perpetua.rollup.outputs import ForcedActionResult, Output
from perpetua.rollup.position import Position, update_position
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class ForcedTrade:
    """A trade requested on L1 by party A against party B's signed consent.

    Perpetua's form: party B's consent is a limit order with max fee 0 for exactly the traded
    amounts (StarkEx hashes a dedicated forced-trade message); party A was authenticated by L1.
    No fees are charged.
    """

    position_id_a: int
    public_key_a: int
    party_b: SignedOrder
    is_valid: bool


def _changes(state: RollupState, tx: ForcedTrade, ctx: BatchContext) -> tuple[dict[int, Position], dict[int, int]]:
    order = tx.party_b.order
    if order.position_id == tx.position_id_a:
        raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "a position cannot trade with itself",
                                    position_id=tx.position_id_a)
    if order.asset_id_collateral != ctx.config.collateral_asset_id or order.max_amount_fee != 0:
        raise InvalidOrder(ErrorCode.INVALID_FULFILLMENT_INFO, "forced trades are in collateral, with no fee")
    check_expiration(order.expiration_hours, ctx, "forced trade")
    message_hash = limit_order_hash(order)
    ctx.signatures.check(tx.party_b.public_key, message_hash, tx.party_b.signature, "forced trade")
    orders: dict[int, int] = {}
    fulfil(state, orders, message_hash, order.amount_synthetic, order.amount_synthetic)
    sign = 1 if order.is_buying_synthetic else -1
    c, s = order.amount_collateral, order.amount_synthetic
    indices, prices, config = state.funding_indices, state.oracle_prices, ctx.config
    _, b = update_position(state.position(order.position_id), tx.party_b.public_key, -sign * c,
                           order.asset_id_synthetic, sign * s, indices, prices, config)
    _, a = update_position(state.position(tx.position_id_a), tx.public_key_a, sign * c,
                           order.asset_id_synthetic, -sign * s, indices, prices, config)
    return {order.position_id: b, tx.position_id_a: a}, orders


def apply_forced_trade(state: RollupState, tx: ForcedTrade, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Execute the trade (both updates valid transitions, consent signed and unused), or include
    it as failed; `is_valid` must match what execution gives."""
    try:
        positions, orders = _changes(state, tx, ctx)
    except InvalidTransaction:
        if tx.is_valid:
            raise
        return state, [ForcedActionResult("trade", tx.position_id_a, executed=False)]
    if not tx.is_valid:
        raise InvalidTransaction(ErrorCode.INVALID_FORCED_ACTION, "a valid forced trade was marked failed",
                                 position_id=tx.position_id_a)
    return (state.with_changes(positions=positions, orders=orders),
            [ForcedActionResult("trade", tx.position_id_a, executed=True)])
