"""LiquidationClose: one close of a liquidation, with the insurance fund's part (Perpetua-specific).

StarkEx v1 has two transactions for a failing position: `Liquidate` (a liquidator's signed order
takes over part of a liquidatable position; two accounts) and `Deleverage` (the operator closes part
of a position with TV < 0 against an opposite position at the price best for the deleverager; two
accounts, no signatures). The exchange (core/liquidation.py) settles each fill of a liquidation
between *three* accounts: the counterparty, the liquidated position and the insurance fund (the
penalty in, or the fund's payment of a fill below bankruptcy out), and deleverages remainders the
book cannot take also when TV >= 0. A `LiquidationClose` is one such close: the book fills of one
liquidation order (or one keeper fill), then the deleverages of what the book left, all of one
synthetic asset of one position, atomic.

Rules (the StarkEx rule each follows in brackets):

1. An insurance-fund position is configured (`GeneralConfig.insurance_fund_position_id`); the
   liquidated position is neither it nor the fee position; there is something to settle.
2. The liquidated position, after funding, is liquidatable at the batch's oracle prices:
   TV < TR [Liquidate]. Checked once, at the start of the close (the exchange decides each close
   of a step on a liquidatable account; a fill may lift it above TR before the close ends).
3. Each fill: the counterparty's signed order names the asset and the opposite side and belongs to
   another position than the liquidated one and the fund; it executes as a limit order: expiry,
   signature, fulfilment, price and fee fairness, fee to the fee position, valid transition of the
   counterparty [Liquidate's liquidator, Trade]. The liquidated position trades the other side at
   the actual amounts, pays no trading fee, and its holding shrinks without flipping [Liquidate].
4. Each fill's fund leg `fund_delta` moves collateral from the liquidated position to the fund
   (Perpetua's bankruptcy rule, docs/liquidations.md):
   - `fund_delta >= 0` (a penalty, or nothing): at most the penalty fraction of the fill,
     fund_delta <= ceil((actual_collateral + 1) * penalty_ppm / 10^6), and the liquidated position's
     TV/TR does not fall: the fill with the penalty pays it at least its bankruptcy amount
     [Liquidate's valid transition, TV/TR not lower];
   - `fund_delta < 0` (the fund pays a fill below bankruptcy): the payment does not lift the
     liquidated TV/TR above where it was: the fund pays at most the shortfall [Deleverage's "best for
     the deleverager", applied to the fund];
   - in socialized-loss mode (`GeneralConfig.socialized_loss`) a fill with `fund_delta <= 0` may
     leave the TV/TR lower: the fund paid what it could (perhaps nothing) and the rest of the loss is
     charged to the other side later (`SocializedLoss`). No penalty is taken below bankruptcy.
   The fund's collateral never goes below 0; the fund is created with `insurance_fund_public_key`
   when empty.
5. Each deleverage: the deleverager is another position than the liquidated one, the fund and the
   fee position; it reduces (does not flip) its opposite holding and passes the valid-transition rule
   [Deleverage]; the liquidated position's holding shrinks without flipping; the amount paid is its
   bankruptcy amount: TV/TR neither falls nor rises [Deleverage's fairness, both ways]. Extension:
   StarkEx requires TV < 0; here rule 2 (liquidatable at the close's start) suffices, because the
   exchange also deleverages a TV >= 0 remainder the book could not take within the bankruptcy bound.

**Rounding tolerance** (a deliberate deviation, rules 4 and 5): the exchange computes bankruptcy
amounts in its own integers (per-market floors of size * price / resolution, margins in ppm rounded
up, the oracle price per whole unit) while the rollup uses 32.32 prices and 0.32 risk factors. The
TV/TR comparisons therefore allow `exchange_rounding_rep(position, tv)`: two collateral quantums per
market plus one, one 32.32 unit per synthetic quantum held (the internal price is within half a unit
of the exchange's) and 2^-24 of |TV| (risk factors rounded to 0.32). A fill paying a position more
than a few quantums beyond this from its bankruptcy amount is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.core.quantities import PPM
from perpetua.rollup.constants import AMOUNT_UPPER_BOUND, FXP_32_ONE
from perpetua.rollup.errors import ErrorCode, InvalidOrder, InvalidPositionUpdate, InvalidRange
from perpetua.rollup.orders import SignedOrder, execute_limit_order
from perpetua.rollup.outputs import Output
from perpetua.rollup.position import (
    Position,
    add_asset,
    apply_funding,
    check_balance,
    is_liquidatable,
    maybe_empty,
    position_status,
    update_position,
)
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.common import check_amount, check_position_id


@dataclass(frozen=True, slots=True)
class LiquidationFill:
    """The liquidated position trades against one signed order: a resting maker's, or a keeper's."""

    order: SignedOrder
    actual_collateral: int
    actual_synthetic: int
    actual_fee: int
    """The counterparty's fee, to the fee position (a maker's trading fee; 0 for a keeper)."""
    fund_delta: int
    """Signed collateral from the liquidated position into the insurance fund: a penalty (>= 0), or
    the fund's payment of a fill below bankruptcy (< 0)."""


@dataclass(frozen=True, slots=True)
class DeleverageFill:
    """The operator closes `amount_synthetic` of the liquidated holding against an opposite one."""

    deleverager_position_id: int
    amount_synthetic: int
    amount_collateral: int
    """Signed: collateral the liquidated position receives (negative: pays) from the deleverager."""


@dataclass(frozen=True, slots=True)
class LiquidationClose:
    """One close of a liquidated position's holding in one synthetic asset (module docstring)."""

    liquidated_position_id: int
    synthetic_asset_id: int
    liquidated_is_buying_synthetic: bool
    """The liquidated position's side: True buys (closes a short), False sells (closes a long)."""
    fills: tuple[LiquidationFill, ...] = ()
    deleverages: tuple[DeleverageFill, ...] = ()


def exchange_rounding_rep(position: Position, tv: int) -> int:
    """The TV tolerance (32.32) for comparing the exchange's bankruptcy amounts (module docstring)."""
    return ((2 * len(position.assets) + 1) * FXP_32_ONE + sum(abs(a.balance) for a in position.assets)
            + (abs(tv) >> 24))


def check_shrinks(before: int, delta: int, what: str) -> None:
    """The holding keeps its sign and does not grow: 0 <= after < before or before < after <= 0."""
    after = before + delta
    if not (0 <= after < before or before < after <= 0):
        raise InvalidPositionUpdate(ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
                                    f"{what} must shrink without flipping", balance=before, synthetic_delta=delta)


def move(position: Position, collateral_delta: int, asset_id: int, synthetic_delta: int,
         state: RollupState) -> Position:
    """The position after the deltas (no risk check: the caller applies the liquidation rules)."""
    collateral = position.collateral + collateral_delta
    check_balance(collateral, "collateral")
    assets = add_asset(position, asset_id, synthetic_delta, state.funding_indices)
    return maybe_empty(position.public_key, collateral, assets)


def check_bound(before: Position, after: Position, state: RollupState, ctx: BatchContext, *, floor: bool,
                ceiling: bool, code_floor: ErrorCode, code_ceiling: ErrorCode) -> None:
    """TV/TR of `after` vs `before`, within the rounding tolerance: not lower (`floor`), not higher
    (`ceiling`). Cross-multiplied; TR before is > 0 (the position holds the asset)."""
    prices, config = state.oracle_prices, ctx.config
    tv0, tr0 = position_status(before, prices, config)
    tv1, tr1 = position_status(after, prices, config)
    tol = exchange_rounding_rep(before, tv0)
    if floor and (tv1 + tol) * tr0 < tv0 * tr1:
        raise InvalidPositionUpdate(code_floor, "the liquidated position is paid less than its bankruptcy amount",
                                    tv_before=tv0, tr_before=tr0, tv_after=tv1, tr_after=tr1)
    if ceiling and (tv1 - tol) * tr0 > tv0 * tr1:
        raise InvalidPositionUpdate(code_ceiling, "the liquidated position is paid more than its bankruptcy amount",
                                    tv_before=tv0, tr_before=tr0, tv_after=tv1, tr_after=tr1)


def apply_liquidation_close(state: RollupState, tx: LiquidationClose,
                            ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Settle one close of a liquidation (rules in the module docstring)."""
    config = ctx.config
    fund_id = config.insurance_fund_position_id
    if fund_id is None:
        raise InvalidPositionUpdate(ErrorCode.NO_INSURANCE_FUND, "liquidations need an insurance-fund position")
    pid, asset = tx.liquidated_position_id, tx.synthetic_asset_id
    check_position_id("liquidated_position_id", pid)
    if pid in (fund_id, config.fee_position_id):
        raise InvalidPositionUpdate(ErrorCode.INVALID_LIQUIDATION_PARTY, "the fund and the fee position are never liquidated",
                                    position_id=pid)
    if not tx.fills and not tx.deleverages:
        raise InvalidPositionUpdate(ErrorCode.INVALID_LIQUIDATION_PARTY, "a close settles at least one fill",
                                    position_id=pid)
    if asset not in config.synthetic_assets:
        raise InvalidPositionUpdate(ErrorCode.MISSING_SYNTHETIC_ASSET_ID, "asset not in config", asset_id=asset)
    liquidated = apply_funding(state.position(pid), state.funding_indices)
    tv, tr = position_status(liquidated, state.oracle_prices, config)
    if not is_liquidatable(tv, tr):
        raise InvalidPositionUpdate(ErrorCode.UNLIQUIDATABLE_POSITION, "position is not liquidatable",
                                    position_id=pid, total_value_rep=tv, total_risk_rep=tr)
    sign = 1 if tx.liquidated_is_buying_synthetic else -1
    penalty_ppm = config.synthetic_assets[asset].liquidation_penalty_ppm
    positions: dict[int, Position] = {}
    orders: dict[int, int] = {}
    for fill in tx.fills:
        order = fill.order.order
        if order.asset_id_synthetic != asset:
            raise InvalidOrder(ErrorCode.INVALID_ORDER_ASSETS, "the order trades another asset",
                               order_asset=hex(order.asset_id_synthetic), asset=hex(asset))
        if order.is_buying_synthetic == tx.liquidated_is_buying_synthetic:
            raise InvalidOrder(ErrorCode.INVALID_ORDER_SIDES, "the order is on the liquidated position's side",
                               buying=order.is_buying_synthetic)
        if order.position_id == pid:
            raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "a position cannot liquidate itself",
                                        position_id=pid)
        if order.position_id == fund_id:
            raise InvalidPositionUpdate(ErrorCode.INVALID_LIQUIDATION_PARTY, "the fund does not trade",
                                        position_id=fund_id)
        if not -AMOUNT_UPPER_BOUND < fill.fund_delta < AMOUNT_UPPER_BOUND:
            raise InvalidRange(ErrorCode.OUT_OF_RANGE_AMOUNT, "fund_delta out of (-2^64, 2^64)", fund_delta=fill.fund_delta)
        execute_limit_order(state, ctx, fill.order, fill.actual_collateral, fill.actual_synthetic, fill.actual_fee,
                            positions, orders)
        synthetic_delta = sign * fill.actual_synthetic
        check_shrinks(liquidated.balance(asset), synthetic_delta, "the liquidated holding")
        after = move(liquidated, -sign * fill.actual_collateral - fill.fund_delta, asset, synthetic_delta, state)
        if fill.fund_delta >= 0:
            cap = -(-(fill.actual_collateral + 1) * penalty_ppm // PPM)
            if fill.fund_delta > cap:
                raise InvalidPositionUpdate(ErrorCode.LIQUIDATION_PENALTY_TOO_HIGH, "penalty above the penalty fraction",
                                            fund_delta=fill.fund_delta, cap=cap)
        # Socialized-loss mode: below bankruptcy the fund pays what it can (maybe nothing), no penalty.
        below_allowed = config.socialized_loss and fill.fund_delta <= 0
        check_bound(liquidated, after, state, ctx, floor=fill.fund_delta >= 0 and not below_allowed,
                    ceiling=fill.fund_delta < 0, code_floor=ErrorCode.LIQUIDATION_BELOW_BANKRUPTCY,
                    code_ceiling=ErrorCode.INSURANCE_FUND_OVERPAYS)
        liquidated = after
        if fill.fund_delta:
            fund = apply_funding(positions.get(fund_id) or state.position(fund_id), state.funding_indices)
            collateral = fund.collateral + fill.fund_delta
            if collateral < 0:
                raise InvalidPositionUpdate(ErrorCode.INSURANCE_FUND_NEGATIVE, "the insurance fund cannot pay this",
                                            fund=fund.collateral, fund_delta=fill.fund_delta)
            check_balance(collateral, "insurance fund collateral")
            positions[fund_id] = maybe_empty(fund.public_key or config.insurance_fund_public_key, collateral, fund.assets)
    for dl in tx.deleverages:
        did = dl.deleverager_position_id
        check_position_id("deleverager_position_id", did)
        if did == pid:
            raise InvalidPositionUpdate(ErrorCode.SAME_POSITION_ID, "deleverager and deleveraged are the same",
                                        position_id=pid)
        if did in (fund_id, config.fee_position_id):
            raise InvalidPositionUpdate(ErrorCode.INVALID_LIQUIDATION_PARTY, "the fund and the fee position do not deleverage",
                                        position_id=did)
        check_amount("amount_synthetic", dl.amount_synthetic)
        if not -AMOUNT_UPPER_BOUND < dl.amount_collateral < AMOUNT_UPPER_BOUND:
            raise InvalidRange(ErrorCode.OUT_OF_RANGE_AMOUNT, "amount_collateral out of (-2^64, 2^64)",
                               amount_collateral=dl.amount_collateral)
        if dl.amount_synthetic < 1:
            raise InvalidRange(ErrorCode.OUT_OF_RANGE_POSITIVE_AMOUNT, "amount_synthetic must be >= 1",
                               amount_synthetic=dl.amount_synthetic)
        synthetic_delta = sign * dl.amount_synthetic
        check_shrinks(liquidated.balance(asset), synthetic_delta, "the deleveraged holding")
        funded_d, updated_d = update_position(positions.get(did) or state.position(did), 0, -dl.amount_collateral,
                                              asset, -synthetic_delta, state.funding_indices, state.oracle_prices,
                                              config)
        check_shrinks(funded_d.balance(asset), -synthetic_delta, "the deleverager's holding")
        after = move(liquidated, dl.amount_collateral, asset, synthetic_delta, state)
        check_bound(liquidated, after, state, ctx, floor=True, ceiling=True, code_floor=ErrorCode.UNFAIR_DELEVERAGE,
                    code_ceiling=ErrorCode.UNFAIR_DELEVERAGE)
        liquidated = after
        positions[did] = updated_d
    positions[pid] = liquidated
    return state.with_changes(positions=positions, orders=orders), []
