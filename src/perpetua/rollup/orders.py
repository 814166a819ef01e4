"""Signed orders and their settlement (stark-perpetual v1 `order/*.cairo`,
`transactions/execute_limit_order.cairo`).

Rules shared by Trade, Liquidate and ForcedTrade, and (fulfilment, expiry) by Withdrawal and
Transfer:

- **Expiry**: the batch's minimum expiration (hours) <= expiration_hours.
- **Fulfilment**: the orders tree keeps the amount already filled per order id (the top 64 bits
  of the message hash); a fill requires fulfilled + update <= full amount. Withdrawals and
  transfers use update = full = their amount, so each is single use.
- **Fairness** of a limit order executed at (actual_collateral, actual_synthetic, actual_fee):
  fee: actual_fee * amount_collateral <= max_fee * actual_collateral;
  buying: (actual_collateral - 1) * amount_synthetic < amount_collateral * actual_synthetic;
  selling: actual_synthetic * amount_collateral < amount_synthetic * (actual_collateral + 1).
- **Execution**: the fee goes to the fee position; the order's position pays (buying) or receives
  (selling) actual_collateral, less the fee, and moves actual_synthetic; both updates must be
  valid position transitions. An order may not belong to the fee position.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from perpetua.crypto.messages import LimitOrder, hash_limit_order, order_id
from perpetua.crypto.signatures import Signature
from perpetua.rollup.constants import AMOUNT_UPPER_BOUND
from perpetua.rollup.errors import ErrorCode, InvalidOrder, InvalidRange
from perpetua.rollup.position import Position, update_position
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """A limit order with the key that signed it and its signature."""

    order: LimitOrder
    public_key: int
    signature: Signature


@lru_cache(maxsize=1 << 16)
def limit_order_hash(order: LimitOrder) -> int:
    """The order's message hash (memoised: an order is usually filled several times)."""
    return hash_limit_order(order)


def check_expiration(expiration_hours: int, ctx: BatchContext, what: str) -> None:
    """Raises InvalidOrder(EXPIRED_ORDER) when expiration_hours < the batch's minimum."""
    if expiration_hours < ctx.min_expiration_hours:
        raise InvalidOrder(ErrorCode.EXPIRED_ORDER, f"{what} expired", expiration_hours=expiration_hours,
                           min_expiration_hours=ctx.min_expiration_hours)


def fulfil(state: RollupState, orders: dict[int, int], message_hash: int, update: int, full: int) -> None:
    """Record `update` more on the order (writes into `orders`, the transaction's pending record).

    Raises:
        InvalidOrder: OVERFILLED_ORDER when fulfilled + update > full.
    """
    oid = order_id(message_hash)
    filled = orders.get(oid)
    if filled is None:
        filled = state.fulfilled(oid)
    if not 0 <= update <= full - filled:
        raise InvalidOrder(ErrorCode.OVERFILLED_ORDER, "order over-filled", order_id=oid, fulfilled=filled,
                           update=update, full_amount=full)
    orders[oid] = filled + update


def check_fairness(order: LimitOrder, actual_collateral: int, actual_synthetic: int, actual_fee: int) -> None:
    """The limit order is not executed at a worse price or a higher fee rate than signed.

    Raises:
        InvalidOrder: INVALID_FULFILLMENT_FEE_RATIO, INVALID_FULFILLMENT_ASSETS_RATIO.
        InvalidRange: OUT_OF_RANGE_AMOUNT.
    """
    for name, value in (("actual_collateral", actual_collateral), ("actual_synthetic", actual_synthetic),
                        ("actual_fee", actual_fee)):
        if not 0 <= value < AMOUNT_UPPER_BOUND:
            raise InvalidRange(ErrorCode.OUT_OF_RANGE_AMOUNT, f"{name} out of [0, 2^64)", **{name: value})
    amount_c, amount_s = order.amount_collateral, order.amount_synthetic
    if actual_fee * amount_c > order.max_amount_fee * actual_collateral:
        raise InvalidOrder(ErrorCode.INVALID_FULFILLMENT_FEE_RATIO, "fee above the signed rate",
                           actual_fee=actual_fee, actual_collateral=actual_collateral,
                           max_fee=order.max_amount_fee, amount_collateral=amount_c)
    if order.is_buying_synthetic:
        fair = (actual_collateral - 1) * amount_s < amount_c * actual_synthetic
    else:
        fair = actual_synthetic * amount_c < amount_s * (actual_collateral + 1)
    if not fair:
        raise InvalidOrder(ErrorCode.INVALID_FULFILLMENT_ASSETS_RATIO, "price worse than the signed limit",
                           actual_collateral=actual_collateral, actual_synthetic=actual_synthetic,
                           amount_collateral=amount_c, amount_synthetic=amount_s,
                           buying=order.is_buying_synthetic)


def execute_limit_order(
    state: RollupState,
    ctx: BatchContext,
    signed: SignedOrder,
    actual_collateral: int,
    actual_synthetic: int,
    actual_fee: int,
    positions: dict[int, Position],
    orders: dict[int, int],
) -> None:
    """Execute one side of a trade or a liquidation, writing into the pending `positions` and
    `orders` records (the caller builds the new state only if everything passes).

    Raises:
        InvalidTransaction: any of the rules in the module docstring.
    """
    order = signed.order
    config = ctx.config
    if order.position_id == config.fee_position_id:
        raise InvalidOrder(ErrorCode.FEE_POSITION_ORDER, "the fee position cannot trade",
                           position_id=order.position_id)
    if order.asset_id_collateral != config.collateral_asset_id or order.asset_id_fee != config.collateral_asset_id:
        raise InvalidOrder(ErrorCode.INVALID_COLLATERAL_ASSET_ID, "wrong collateral or fee asset",
                           asset_id_collateral=hex(order.asset_id_collateral))
    if order.amount_collateral < 1:
        raise InvalidRange(ErrorCode.OUT_OF_RANGE_POSITIVE_AMOUNT, "order amount_collateral must be >= 1",
                           amount_collateral=order.amount_collateral)
    if actual_synthetic < 1:
        raise InvalidRange(ErrorCode.OUT_OF_RANGE_POSITIVE_AMOUNT, "actual_synthetic must be >= 1",
                           actual_synthetic=actual_synthetic)
    check_fairness(order, actual_collateral, actual_synthetic, actual_fee)
    message_hash = limit_order_hash(order)
    check_expiration(order.expiration_hours, ctx, "order")
    ctx.signatures.check(signed.public_key, message_hash, signed.signature, "order")
    fulfil(state, orders, message_hash, actual_synthetic, order.amount_synthetic)
    if order.is_buying_synthetic:
        collateral_delta, synthetic_delta = -actual_collateral - actual_fee, actual_synthetic
    else:
        collateral_delta, synthetic_delta = actual_collateral - actual_fee, -actual_synthetic
    indices, prices = state.funding_indices, state.oracle_prices
    fee_id = config.fee_position_id
    _, positions[fee_id] = update_position(
        positions.get(fee_id) or state.position(fee_id), config.fee_public_key, actual_fee, None, 0,
        indices, prices, config)
    pid = order.position_id
    _, positions[pid] = update_position(
        positions.get(pid) or state.position(pid), signed.public_key, collateral_delta,
        order.asset_id_synthetic, synthetic_delta, indices, prices, config)
