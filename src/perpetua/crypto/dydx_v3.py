"""dYdX v3's rules for turning API fields into StarkEx messages.

The v3 API sends decimal strings (size, price, limitFee, amount), an ISO expiration and a free-form
clientId; the server rebuilds the exact StarkEx message the client signed from those and the
account's position id. Every rule here reproduces dydx-v3-python 2.1.0 (`dydx3/starkex/helpers.py`,
`order.py`, `withdrawal.py`, `transfer.py`, `conditional_transfer.py`) bit for bit:

- nonce = int(sha256(utf8(client_id))) mod 2^32.
- expiration_hours = ceil(expiration_s / 3600); orders add a 168-hour (7-day) buffer so the signature
  outlives the order's time on the book until settlement.
- synthetic = size * resolution, exact (else an error). Collateral: BUY rounds size * price UP (to
  28 significant digits) then up to whole quantums; SELL rounds DOWN both times. Fee: limitFee is
  truncated to 6 decimals, then fee = ceil(limitFee * collateral_quantums). The fee asset is the
  collateral.

Decimal arithmetic runs in explicit contexts (precision 28, the decimal module's default, as the
client has it) so a caller's thread-local decimal context cannot change a result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum

from perpetua.crypto.assets import (
    COLLATERAL_RESOLUTION,
    DEFAULT_NETWORK,
    Network,
    collateral_asset_id,
    market_synthetic,
)
from perpetua.crypto.errors import AmountConversionError, MessageFieldError, Rule
from perpetua.crypto.keccak import fact_to_condition
from perpetua.crypto.messages import LimitOrder, Transfer, Withdrawal

NONCE_BOUND = 2**32
ONE_HOUR_MS = 3_600_000
ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS = 24 * 7
"""Added to an order's API expiration (DY `starkex/constants.py`); not to withdrawals or transfers."""
LIMIT_FEE_QUANTUM = Decimal("0.000001")
"""limitFee is truncated to 6 decimals before it multiplies the collateral amount."""

_TRAPS = [InvalidOperation, DivisionByZero, Overflow]
_EXACT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[*_TRAPS, Inexact])
_UP = Context(prec=28, rounding=ROUND_UP, traps=_TRAPS)
_DOWN = Context(prec=28, rounding=ROUND_DOWN, traps=_TRAPS)
_PLAIN = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=_TRAPS)
"""The decimal module's default context, which the client's `amount * resolution` runs in."""


class Side(StrEnum):
    """Order side as the v3 API spells it."""

    BUY = "BUY"
    SELL = "SELL"


def nonce_from_client_id(client_id: str) -> int:
    """The 32-bit StarkEx nonce dYdX derives from a clientId (orders, withdrawals, transfers).

    >>> nonce_from_client_id("1")
    3079101259
    """
    digest = hashlib.sha256(client_id.encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % NONCE_BOUND


def iso_to_epoch_ms(text: str, field: str = "expiration") -> int:
    """Epoch milliseconds of an ISO-8601 time such as "2020-09-17T04:15:55.028Z".

    A time without a zone is taken as UTC. Sub-millisecond digits round UP, which keeps every
    hour ceiling below exact (ceil(ceil(t) / h) = ceil(t / h) for whole-ms h).

    Raises:
        MessageFieldError: <field>.malformed.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MessageFieldError(field, Rule.MALFORMED, "expected an ISO-8601 time", text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -(-micros // 1000)


def expiration_hours(expiration_ms: int) -> int:
    """ceil(expiration / 1 hour): the signed expiration of a withdrawal or transfer."""
    return -(-expiration_ms // ONE_HOUR_MS)


def order_expiration_hours(expiration_ms: int) -> int:
    """The signed expiration of an order: the API expiration's hour ceiling plus 168 hours."""
    return expiration_hours(expiration_ms) + ORDER_SIGNATURE_EXPIRATION_BUFFER_HOURS


def _parse_decimal(field: str, value: str | Decimal | int) -> Decimal:
    """A finite, non-negative Decimal from an API value. Floats are refused: a float has already
    lost the digits the trader typed."""
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise AmountConversionError(field, Rule.MALFORMED, "expected a decimal string", value)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise AmountConversionError(field, Rule.MALFORMED, "expected a decimal string", value) from None
    if not number.is_finite():
        raise AmountConversionError(field, Rule.MALFORMED, "must be a finite number", value)
    if number < 0:
        raise AmountConversionError(field, Rule.OUT_OF_RANGE, "must not be negative", value)
    return number


def _to_quantums(field: str, amount: Decimal, resolution: int, rounding: Context) -> int:
    """amount * resolution as whole quantums, rounded by `rounding` (or exact under _EXACT).

    Mirrors DY `_to_quantums_helper`: the amount is first taken into the context (28 digits), the
    product with the resolution runs in the default context, and the context makes it integral.
    """
    try:
        scaled = _PLAIN.multiply(rounding.create_decimal(amount), Decimal(resolution))
        quantums = scaled.to_integral_exact(context=rounding)
    except Inexact:
        raise AmountConversionError(
            field, Rule.INEXACT, f"not a whole number of quantums at resolution {resolution}", str(amount)
        ) from None
    except (InvalidOperation, Overflow):
        raise AmountConversionError(field, Rule.OUT_OF_RANGE, "too large to convert", str(amount)) from None
    return int(quantums)


def to_quantums_exact(amount: str | Decimal | int, resolution: int, field: str = "amount") -> int:
    """`amount` (a decimal string) in quantums at `resolution`, which must be exact.

    Raises:
        AmountConversionError: <field>.malformed / .out_of_range / .inexact.

    >>> to_quantums_exact("145.0005", 10**9, "size")
    145000500000
    """
    return _to_quantums(field, _parse_decimal(field, amount), resolution, _EXACT)


def collateral_quantums(size: str | Decimal | int, price: str | Decimal | int, side: Side) -> int:
    """The collateral amount an order signs: size * price, rounded against the trader (a BUY pays at
    most, a SELL receives at least, this amount at the worst price).

    Raises:
        AmountConversionError: size/price .malformed or .out_of_range.
    """
    size_dec = _parse_decimal("size", size)
    price_dec = _parse_decimal("price", price)
    rounding = _UP if side is Side.BUY else _DOWN
    try:
        cost = rounding.multiply(size_dec, price_dec)
    except (InvalidOperation, Overflow):
        raise AmountConversionError("price", Rule.OUT_OF_RANGE, "size * price is too large", str(price)) from None
    return _to_quantums("price", cost, COLLATERAL_RESOLUTION, rounding)


def fee_quantums(limit_fee: str | Decimal | int, amount_collateral: int) -> int:
    """The max fee an order signs: ceil(trunc_6dp(limitFee) * collateral quantums).

    Raises:
        AmountConversionError: limit_fee .malformed / .out_of_range.
    """
    fee_rate = _parse_decimal("limit_fee", limit_fee)
    try:
        truncated = _DOWN.quantize(fee_rate, LIMIT_FEE_QUANTUM)
        fee = _UP.multiply(truncated, amount_collateral).to_integral_value(context=_UP)
    except (InvalidOperation, Overflow):
        raise AmountConversionError("limit_fee", Rule.OUT_OF_RANGE, "too large", str(limit_fee)) from None
    return int(fee)


@dataclass(frozen=True, slots=True)
class OrderAmounts:
    """The three quantum amounts of a v3 order."""

    synthetic: int
    collateral: int
    fee: int


def order_amounts(
    size: str | Decimal | int,
    price: str | Decimal | int,
    limit_fee: str | Decimal | int,
    side: Side,
    synthetic_resolution: int,
) -> OrderAmounts:
    """The synthetic, collateral and fee quantums of a v3 order (see the module docstring)."""
    synthetic = to_quantums_exact(size, synthetic_resolution, "size")
    collateral = collateral_quantums(size, price, side)
    return OrderAmounts(synthetic, collateral, fee_quantums(limit_fee, collateral))


def _amount_in_bounds(field: str, value: int) -> int:
    if value >= 2**64:
        raise AmountConversionError(field, Rule.OUT_OF_RANGE, "exceeds 2^64 - 1 quantums", value)
    return value


def build_limit_order(
    *,
    market: str,
    side: Side | str,
    position_id: int,
    size: str | Decimal | int,
    price: str | Decimal | int,
    limit_fee: str | Decimal | int,
    client_id: str,
    expiration_ms: int,
    network: Network = DEFAULT_NETWORK,
) -> LimitOrder:
    """The StarkEx order a v3 client signs for these API fields (DY `SignableOrder`).

    Raises:
        MessageFieldError: market.unknown, side.malformed, or a field out of its layout's range.
        AmountConversionError: size/price/limit_fee conversion failures.
    """
    try:
        asset_id_synthetic, resolution = market_synthetic(market)
    except ValueError:
        raise MessageFieldError("market", Rule.UNKNOWN, "no such market", market) from None
    try:
        order_side = Side(side)
    except ValueError:
        raise MessageFieldError("side", Rule.MALFORMED, "expected BUY or SELL", side) from None
    amounts = order_amounts(size, price, limit_fee, order_side, resolution)
    collateral_id = collateral_asset_id(network)
    return LimitOrder(
        asset_id_synthetic=asset_id_synthetic,
        asset_id_collateral=collateral_id,
        asset_id_fee=collateral_id,
        is_buying_synthetic=order_side is Side.BUY,
        amount_synthetic=_amount_in_bounds("size", amounts.synthetic),
        amount_collateral=_amount_in_bounds("price", amounts.collateral),
        max_amount_fee=_amount_in_bounds("limit_fee", amounts.fee),
        nonce=nonce_from_client_id(client_id),
        position_id=position_id,
        expiration_hours=order_expiration_hours(expiration_ms),
    )


def build_withdrawal(
    *,
    position_id: int,
    amount: str | Decimal | int,
    client_id: str,
    expiration_ms: int,
    network: Network = DEFAULT_NETWORK,
) -> Withdrawal:
    """The StarkEx withdrawal a v3 client signs (DY `SignableWithdrawal`); amount in USDC, exact."""
    quantums = to_quantums_exact(amount, COLLATERAL_RESOLUTION, "amount")
    return Withdrawal(
        asset_id_collateral=collateral_asset_id(network),
        position_id=position_id,
        nonce=nonce_from_client_id(client_id),
        amount=_amount_in_bounds("amount", quantums),
        expiration_hours=expiration_hours(expiration_ms),
    )


def build_transfer(
    *,
    sender_position_id: int,
    receiver_position_id: int,
    receiver_public_key: int,
    amount: str | Decimal | int,
    client_id: str,
    expiration_ms: int,
    network: Network = DEFAULT_NETWORK,
    condition: int | None = None,
) -> Transfer:
    """The StarkEx transfer a v3 client signs (DY `SignableTransfer`): collateral only, no fee
    (fee asset 0, max fee 0, fee position = sender). With `condition`, a conditional transfer."""
    quantums = to_quantums_exact(amount, COLLATERAL_RESOLUTION, "amount")
    return Transfer(
        asset_id=collateral_asset_id(network),
        receiver_public_key=receiver_public_key,
        sender_position_id=sender_position_id,
        receiver_position_id=receiver_position_id,
        nonce=nonce_from_client_id(client_id),
        amount=_amount_in_bounds("amount", quantums),
        expiration_hours=expiration_hours(expiration_ms),
        fee_position_id=sender_position_id,
        condition=condition,
    )


def build_conditional_transfer(
    *,
    sender_position_id: int,
    receiver_position_id: int,
    receiver_public_key: int,
    fact_registry_address: str,
    fact: bytes,
    amount: str | Decimal | int,
    client_id: str,
    expiration_ms: int,
    network: Network = DEFAULT_NETWORK,
) -> Transfer:
    """The StarkEx conditional transfer a v3 client signs for a fast withdrawal
    (DY `SignableConditionalTransfer`); needs keccak for the condition."""
    return build_transfer(
        sender_position_id=sender_position_id,
        receiver_position_id=receiver_position_id,
        receiver_public_key=receiver_public_key,
        amount=amount,
        client_id=client_id,
        expiration_ms=expiration_ms,
        network=network,
        condition=fact_to_condition(fact_registry_address, fact),
    )
