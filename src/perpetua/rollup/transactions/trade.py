"""Trade (stark-perpetual v1 `transactions/trade.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.errors import ErrorCode, InvalidOrder, InvalidPositionUpdate
from perpetua.rollup.orders import SignedOrder, execute_limit_order
from perpetua.rollup.outputs import Output
from perpetua.rollup.position import Position
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class Trade:
    """Two signed limit orders matched at actual amounts."""

    party_a: SignedOrder
    party_b: SignedOrder
    actual_collateral: int
    actual_synthetic: int
    actual_a_fee: int
    actual_b_fee: int


def apply_trade(state: RollupState, tx: Trade, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Settle a match between two limit orders.

    Rules: the orders name the same synthetic and collateral assets and opposite sides; they
    belong to different positions; then each side is executed as a limit order (not expired,
    signature, fulfilment within the signed amount, fairness of price and fee, fee to the fee
    position, valid position transition).
    """
    a, b = tx.party_a.order, tx.party_b.order
    if a.asset_id_synthetic != b.asset_id_synthetic or a.asset_id_collateral != b.asset_id_collateral:
        raise InvalidOrder(ErrorCode.INVALID_ORDER_ASSETS, "orders trade different assets",
                           synthetic_a=hex(a.asset_id_synthetic), synthetic_b=hex(b.asset_id_synthetic))
    if a.is_buying_synthetic == b.is_buying_synthetic:
        raise InvalidOrder(ErrorCode.INVALID_ORDER_SIDES, "orders are on the same side",
                           buying=a.is_buying_synthetic)
    if a.position_id == b.position_id:
        raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "a position cannot trade with itself",
                                    position_id=a.position_id)
    positions: dict[int, Position] = {}
    orders: dict[int, int] = {}
    execute_limit_order(state, ctx, tx.party_a, tx.actual_collateral, tx.actual_synthetic, tx.actual_a_fee,
                        positions, orders)
    execute_limit_order(state, ctx, tx.party_b, tx.actual_collateral, tx.actual_synthetic, tx.actual_b_fee,
                        positions, orders)
    return state.with_changes(positions=positions, orders=orders), []
