"""Liquidate (stark-perpetual v1 `transactions/liquidate.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.errors import ErrorCode, InvalidPositionUpdate
from perpetua.rollup.orders import SignedOrder, execute_limit_order
from perpetua.rollup.outputs import Output
from perpetua.rollup.position import (
    Position,
    apply_funding,
    is_liquidatable,
    position_status,
    update_position,
)
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class Liquidate:
    """A liquidator takes over (part of) a liquidatable position through its signed order."""

    liquidator_order: SignedOrder
    liquidated_position_id: int
    actual_collateral: int
    actual_synthetic: int
    actual_liquidator_fee: int


def apply_liquidate(state: RollupState, tx: Liquidate, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Rules: liquidator and liquidated positions differ; the liquidated position, after funding,
    is liquidatable (TV < TR); its synthetic holding shrinks and keeps its sign (it trades the
    opposite side of the liquidator's order at the actual amounts, no fee); then the liquidator's
    order executes as a limit order (fairness, fee, fulfilment, valid transition).
    """
    order = tx.liquidator_order.order
    pid = tx.liquidated_position_id
    if order.position_id == pid:
        raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "a position cannot liquidate itself",
                                    position_id=pid)
    config = ctx.config
    funded = apply_funding(state.position(pid), state.funding_indices)
    tv, tr = position_status(funded, state.oracle_prices, config)
    if not is_liquidatable(tv, tr):
        raise InvalidPositionUpdate(ErrorCode.UNLIQUIDATABLE_POSITION, "position is not liquidatable",
                                    position_id=pid, total_value_rep=tv, total_risk_rep=tr)
    if order.is_buying_synthetic:  # the liquidated position sells
        collateral_delta, synthetic_delta = tx.actual_collateral, -tx.actual_synthetic
    else:
        collateral_delta, synthetic_delta = -tx.actual_collateral, tx.actual_synthetic
    balance = funded.balance(order.asset_id_synthetic)
    if not (0 <= -synthetic_delta <= balance or balance <= -synthetic_delta <= 0):
        raise InvalidPositionUpdate(ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
                                    "liquidation must shrink the liquidated holding", balance=balance,
                                    synthetic_delta=synthetic_delta)
    _, updated = update_position(funded, funded.public_key, collateral_delta, order.asset_id_synthetic,
                                 synthetic_delta, state.funding_indices, state.oracle_prices, config)
    positions: dict[int, Position] = {pid: updated}
    orders: dict[int, int] = {}
    execute_limit_order(state, ctx, tx.liquidator_order, tx.actual_collateral, tx.actual_synthetic,
                        tx.actual_liquidator_fee, positions, orders)
    return state.with_changes(positions=positions, orders=orders), []
