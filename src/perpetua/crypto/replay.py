"""Replay protection for signed messages, as pure helpers over state the caller owns.

Nothing here keeps state of its own: the caller passes the record in (the sequencer's, the rollup's)
and gets the new value back, or the record updated in place where that is the point.

- Orders (stark-perpetual `order/order.cairo`, `update_order_fulfillment`): the orders tree maps
  order_id (= message_hash >> 187) to the amount already filled; a fill of `amount` is allowed only
  when 0 <= amount <= full_amount - filled, across any number of partial fills.
- Withdrawals and transfers go through the same record with update = full = their amount, so each
  is single use; `consume_message` states that directly (and also stops a zero-amount replay).
- dYdX v3 additionally treats a transfer's or withdrawal's clientId (its nonce) as single use per
  account: `consume_nonce`.
- Expirations are signed in hours. A message with expiration_hours E is valid while
  now <= E hours; a batch built at `now` has minimum expiration ceil(now / 1 hour), which accepts
  exactly the messages `check_not_expired` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, MutableSet

from perpetua.crypto.errors import ExpiredError, MessageFieldError, ReplayError, Rule

AMOUNT_BOUND = 2**64
ONE_HOUR_MS = 3_600_000


def next_fulfilled_amount(filled: int, fill_amount: int, full_amount: int) -> int:
    """The filled amount after a fill of `fill_amount` on an order signed for `full_amount`.

    Raises:
        MessageFieldError: fill_amount.out_of_range (negative), full_amount.out_of_range (>= 2^64).
        ReplayError: order.overfilled when filled + fill_amount > full_amount.
    """
    if fill_amount < 0:
        raise MessageFieldError("fill_amount", Rule.OUT_OF_RANGE, "a fill must not be negative", fill_amount)
    if not 0 <= full_amount < AMOUNT_BOUND:
        raise MessageFieldError("full_amount", Rule.OUT_OF_RANGE, "must be in [0, 2^64)", full_amount)
    if fill_amount > full_amount - filled:
        raise ReplayError(
            "order",
            Rule.OVERFILLED,
            f"fill of {fill_amount} on top of {filled} exceeds the signed amount {full_amount}",
            (filled, fill_amount, full_amount),
        )
    return filled + fill_amount


def remaining_amount(filled_by_order: Mapping[int, int], order_id: int, full_amount: int) -> int:
    """What is left to fill of an order (never negative, even after an order-id collision)."""
    return max(0, full_amount - filled_by_order.get(order_id, 0))


def apply_fill(
    filled_by_order: MutableMapping[int, int], order_id: int, fill_amount: int, full_amount: int
) -> int:
    """Record a fill in `filled_by_order` (keyed by order_id) and return the new filled amount.
    The record is unchanged when the fill is refused.

    Raises:
        MessageFieldError, ReplayError: as `next_fulfilled_amount`.
    """
    filled = next_fulfilled_amount(filled_by_order.get(order_id, 0), fill_amount, full_amount)
    filled_by_order[order_id] = filled
    return filled


def consume_message(consumed: MutableMapping[int, int], order_id: int, amount: int) -> None:
    """Mark a withdrawal or transfer (by order_id) as executed for its full `amount`.

    Raises:
        ReplayError: message.reused when this order_id was already executed.
        MessageFieldError: amount.out_of_range.
    """
    if order_id in consumed:
        raise ReplayError("message", Rule.REUSED, "this signed message was already executed", order_id)
    if not 0 <= amount < AMOUNT_BOUND:
        raise MessageFieldError("amount", Rule.OUT_OF_RANGE, "must be in [0, 2^64)", amount)
    consumed[order_id] = amount


def consume_nonce(used: MutableSet[tuple[int, int]], position_id: int, nonce: int) -> None:
    """Mark (position_id, nonce) as used: a clientId-derived nonce serves one transfer or withdrawal.

    Raises:
        ReplayError: nonce.reused.
    """
    key = (position_id, nonce)
    if key in used:
        raise ReplayError("nonce", Rule.REUSED, f"nonce {nonce} was already used by position {position_id}", key)
    used.add(key)


def min_expiration_hours(now_ms: int) -> int:
    """The smallest expiration_hours still valid at `now_ms` (a batch's minimum expiration)."""
    return -(-now_ms // ONE_HOUR_MS)


def check_not_expired(expiration_hours: int, now_ms: int, field: str = "expiration_hours") -> None:
    """Refuse a message whose signed expiration (hours since the epoch) lies before `now_ms`.

    Raises:
        ExpiredError: <field>.expired.
    """
    if expiration_hours < min_expiration_hours(now_ms):
        raise ExpiredError(
            field,
            Rule.EXPIRED,
            f"expired at hour {expiration_hours}, now is {now_ms} ms since the epoch",
            expiration_hours,
        )
