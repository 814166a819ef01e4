"""Deleverage (stark-perpetual v1 `transactions/deleverage.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.constants import FXP_32_ONE
from perpetua.rollup.errors import ErrorCode, InvalidPositionUpdate
from perpetua.rollup.outputs import Output
from perpetua.rollup.position import position_status, update_position
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.common import check_amount


@dataclass(frozen=True, slots=True)
class Deleverage:
    """The operator closes part of an underwater position against a deleverager (no signatures)."""

    deleveragable_position_id: int
    deleverager_position_id: int
    synthetic_asset_id: int
    amount_synthetic: int
    amount_collateral: int
    deleverager_is_buying_synthetic: bool


def apply_deleverage(state: RollupState, tx: Deleverage, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Rules: distinct positions; both updates are valid transitions; the deleverager reduces (and
    does not flip) its holding: amount_synthetic <= |its balance| on the right side; the
    deleveragable position, after funding, has TV < 0; and the price is the best possible for the
    deleverager: with one collateral unit less for the deleveraged position its TV/TR would
    decrease, i.e. (tv1 - 1) * tr0 < tv0 * tr1.
    """
    if tx.deleverager_position_id == tx.deleveragable_position_id:
        raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "deleverager and deleveraged are the same",
                                    position_id=tx.deleverager_position_id)
    check_amount("amount_synthetic", tx.amount_synthetic)
    check_amount("amount_collateral", tx.amount_collateral)
    s, c = tx.amount_synthetic, tx.amount_collateral
    if tx.deleverager_is_buying_synthetic:
        d_synth, d_coll = s, -c
    else:
        d_synth, d_coll = -s, c
    config, indices, prices = ctx.config, state.funding_indices, state.oracle_prices
    asset = tx.synthetic_asset_id
    funded_x, updated_x = update_position(state.position(tx.deleveragable_position_id), 0, -d_coll, asset,
                                          -d_synth, indices, prices, config)
    funded_d, updated_d = update_position(state.position(tx.deleverager_position_id), 0, d_coll, asset,
                                          d_synth, indices, prices, config)
    balance = funded_d.balance(asset)
    if not (s <= (-balance if tx.deleverager_is_buying_synthetic else balance)):
        raise InvalidPositionUpdate(ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
                                    "the deleverager must reduce its holding", balance=balance, amount_synthetic=s)
    tv0, tr0 = position_status(funded_x, prices, config)
    if tv0 >= 0:
        raise InvalidPositionUpdate(ErrorCode.UNDELEVERAGABLE_POSITION, "position is not underwater",
                                    position_id=tx.deleveragable_position_id, total_value_rep=tv0)
    tv1, tr1 = position_status(updated_x, prices, config)
    if not (tv1 - FXP_32_ONE) * tr0 < tv0 * tr1:
        raise InvalidPositionUpdate(ErrorCode.UNFAIR_DELEVERAGE, "the deleveraged position is paid too much",
                                    tv_before=tv0, tr_before=tr0, tv_after=tv1, tr_after=tr1)
    positions = {tx.deleveragable_position_id: updated_x, tx.deleverager_position_id: updated_d}
    return state.with_changes(positions=positions), []
