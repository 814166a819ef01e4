"""StarkEx perpetual signed messages and their Pedersen hashes.

Layouts are those of stark-perpetual's `src/services/perpetual/public/perpetual_messages.py` (v1,
the dYdX v3 era, which is also what v3.x keeps for these types) and of dydx-v3-python 2.1.0's
`dydx3/starkex/{order,withdrawal,transfer,conditional_transfer}.py`; see docs/crypto.md. Values are
integers in quantums; `|` below is bit concatenation, most significant field first, and H is the
Pedersen hash.

    limit order (type 3):
        H(H(H(H(asset_sell, asset_buy), asset_fee),
            amount_sell(64) | amount_buy(64) | max_fee(64) | nonce(32)),
          3 | position(64) | position(64) | position(64) | expiration_hours(32) | 0(17))
    withdrawal (type 6, dYdX v3):
        H(asset_collateral, 6 | position(64) | nonce(32) | amount(64) | expiration_hours(32) | 0(49))
    withdrawal to address (type 7, stark-perpetual v2+):
        H(H(asset_collateral, eth_address), 7 | position(64) | nonce(32) | amount(64) | exp(32) | 0(49))
    transfer (type 4) / conditional transfer (type 5):
        m = H(H(asset, asset_fee), receiver_public_key)          [then H(m, condition) for type 5]
        H(H(m, sender(64) | receiver(64) | fee_position(64) | nonce(32)),
          type | amount(64) | max_fee(64) | expiration_hours(32) | 0(81))
    oracle price (signed by each oracle, `get_price_msg`):
        H(asset_pair(128) | oracle_name(40), price(120) | timestamp_s(32))

Every field is range-checked when the message is built, so a hash is never computed over a value
that would not fit its slot (a too-wide field would silently bleed into its neighbour).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from perpetua.crypto.errors import MessageFieldError, Rule
from perpetua.crypto.pedersen import pedersen_hash_unchecked as _h

LIMIT_ORDER_WITH_FEES = 3
TRANSFER = 4
CONDITIONAL_TRANSFER = 5
WITHDRAWAL = 6
WITHDRAWAL_TO_ADDRESS = 7

AMOUNT_BOUND = 2**64
"""Order and transaction amounts: 0 <= amount < 2^64 (quantums)."""
POSITION_ID_BOUND = 2**64
NONCE_BOUND = 2**32
EXPIRATION_HOURS_BOUND = 2**32
SYNTHETIC_ASSET_ID_BOUND = 2**128
"""The order layout gives synthetic ids 128 bits (dYdX's ids are 120-bit, < ASSET_ID_UPPER_BOUND)."""
COLLATERAL_ASSET_ID_BOUND = 2**250
PUBLIC_KEY_BOUND = 2**251
CONDITION_BOUND = 2**251
ETH_ADDRESS_BOUND = 2**160
ORACLE_NAME_BOUND = 2**40
ASSET_PAIR_BOUND = 2**128
EXTERNAL_PRICE_BOUND = 2**120
"""Signed oracle prices: 10^18 = 1.0, below 2^120 (stark-perpetual `definitions/constants.cairo`)."""
TIMESTAMP_BOUND = 2**32
SIGNED_MESSAGE_BOUND = 2**251
ORDER_ID_SHIFT = SIGNED_MESSAGE_BOUND // 2**64
"""order_id = message_hash // 2^187: the top 64 of the 251 bits (stark-perpetual `order/order.cairo`)."""


def _check_range(field: str, value: int, bound: int) -> None:
    if not 0 <= value < bound:
        raise MessageFieldError(field, Rule.OUT_OF_RANGE, f"must be in [0, 2^{bound.bit_length() - 1})", value)


def _check_ranges(message: object, **bounds: int) -> None:
    """Range-check each named field of ``message`` against its bound, in the order given."""
    for field, bound in bounds.items():
        _check_range(field, getattr(message, field), bound)


def _pack(first: int, *fields: tuple[int, int]) -> int:
    """``first | value(bits) | ...``: the bit concatenation of the layouts above, most significant
    field first (a trailing ``(0, n)`` is the zero padding)."""
    packed = first
    for value, bits in fields:
        packed = packed << bits | value
    return packed


@dataclass(frozen=True, slots=True)
class LimitOrder:
    """A StarkEx limit order with fees, as a trader signs it (all amounts in quantums)."""

    asset_id_synthetic: int
    """120-bit synthetic asset id (assets.synthetic_asset_id)."""
    asset_id_collateral: int
    """Collateral asset id of the network (assets.collateral_asset_id)."""
    asset_id_fee: int
    """Asset the fee is paid in; dYdX always uses the collateral."""
    is_buying_synthetic: bool
    """True for a BUY: the order sells collateral for synthetic."""
    amount_synthetic: int
    amount_collateral: int
    max_amount_fee: int
    """The most fee (in asset_id_fee quantums) the trader accepts over the whole order."""
    nonce: int
    """32 bits; dYdX derives it from the client id (dydx.nonce_from_client_id)."""
    position_id: int
    expiration_hours: int
    """Hours since the Unix epoch; dYdX adds a 168-hour buffer to the API expiration."""

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            asset_id_synthetic=SYNTHETIC_ASSET_ID_BOUND,
            asset_id_collateral=COLLATERAL_ASSET_ID_BOUND,
            asset_id_fee=COLLATERAL_ASSET_ID_BOUND,
            amount_synthetic=AMOUNT_BOUND,
            amount_collateral=AMOUNT_BOUND,
            max_amount_fee=AMOUNT_BOUND,
            nonce=NONCE_BOUND,
            position_id=POSITION_ID_BOUND,
            expiration_hours=EXPIRATION_HOURS_BOUND,
        )


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A dYdX v3 withdrawal of collateral from a position (type 6)."""

    asset_id_collateral: int
    position_id: int
    nonce: int
    amount: int
    expiration_hours: int
    """Hours since the Unix epoch, no buffer."""

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            asset_id_collateral=COLLATERAL_ASSET_ID_BOUND,
            position_id=POSITION_ID_BOUND,
            nonce=NONCE_BOUND,
            amount=AMOUNT_BOUND,
            expiration_hours=EXPIRATION_HOURS_BOUND,
        )


@dataclass(frozen=True, slots=True)
class WithdrawalToAddress:
    """A withdrawal to an explicit Ethereum address (type 7, stark-perpetual v2+; not in dYdX v3)."""

    asset_id_collateral: int
    position_id: int
    eth_address: int
    nonce: int
    amount: int
    expiration_hours: int

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            asset_id_collateral=COLLATERAL_ASSET_ID_BOUND,
            position_id=POSITION_ID_BOUND,
            eth_address=ETH_ADDRESS_BOUND,
            nonce=NONCE_BOUND,
            amount=AMOUNT_BOUND,
            expiration_hours=EXPIRATION_HOURS_BOUND,
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    """A collateral transfer between positions (type 4). Conditional when `condition` is set (type 5).

    StarkEx's Cairo program only accepts asset_id_fee = 0, max_amount_fee = 0 and fee_position_id =
    sender_position_id (no transfer fees); the layout still carries them, so they are fields here.
    """

    asset_id: int
    receiver_public_key: int
    sender_position_id: int
    receiver_position_id: int
    nonce: int
    amount: int
    expiration_hours: int
    """Hours since the Unix epoch, no buffer."""
    fee_position_id: int
    asset_id_fee: int = 0
    max_amount_fee: int = 0
    condition: int | None = None
    """keccak(fact_registry || fact) & (2^250 - 1) for a conditional transfer, else None."""

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            asset_id=COLLATERAL_ASSET_ID_BOUND,
            asset_id_fee=COLLATERAL_ASSET_ID_BOUND,
            receiver_public_key=PUBLIC_KEY_BOUND,
            sender_position_id=POSITION_ID_BOUND,
            receiver_position_id=POSITION_ID_BOUND,
            fee_position_id=POSITION_ID_BOUND,
            nonce=NONCE_BOUND,
            amount=AMOUNT_BOUND,
            max_amount_fee=AMOUNT_BOUND,
            expiration_hours=EXPIRATION_HOURS_BOUND,
        )
        if self.condition is not None:
            _check_range("condition", self.condition, CONDITION_BOUND)


@lru_cache(maxsize=4096)
def _assets_hash(first: int, second: int, third: int) -> int:
    """H(H(first, second), third): the asset prefix of an order (or transfer). A venue has a few
    markets, so the same few triples recur and two of an order's four hashes come from here."""
    return _h(_h(first, second), third)


def hash_limit_order(order: LimitOrder) -> int:
    """The message hash a trader signs for `order` (4 Pedersen hashes, 2 of them cached per market
    and side; ~0.1 ms)."""
    if order.is_buying_synthetic:
        asset_sell, asset_buy = order.asset_id_collateral, order.asset_id_synthetic
        amount_sell, amount_buy = order.amount_collateral, order.amount_synthetic
    else:
        asset_sell, asset_buy = order.asset_id_synthetic, order.asset_id_collateral
        amount_sell, amount_buy = order.amount_synthetic, order.amount_collateral
    packed0 = _pack(amount_sell, (amount_buy, 64), (order.max_amount_fee, 64), (order.nonce, 32))
    position = order.position_id
    packed1 = _pack(
        LIMIT_ORDER_WITH_FEES, (position, 64), (position, 64), (position, 64), (order.expiration_hours, 32), (0, 17)
    )
    msg = _assets_hash(asset_sell, asset_buy, order.asset_id_fee)
    return _h(_h(msg, packed0), packed1)


def _withdrawal_packed(kind: int, w: Withdrawal | WithdrawalToAddress) -> int:
    """The second word of both withdrawal types: kind | position | nonce | amount | expiration | 0(49)."""
    return _pack(kind, (w.position_id, 64), (w.nonce, 32), (w.amount, 64), (w.expiration_hours, 32), (0, 49))


def hash_withdrawal(withdrawal: Withdrawal) -> int:
    """The message hash of a dYdX v3 withdrawal."""
    return _h(withdrawal.asset_id_collateral, _withdrawal_packed(WITHDRAWAL, withdrawal))


def hash_withdrawal_to_address(withdrawal: WithdrawalToAddress) -> int:
    """The message hash of a type-7 withdrawal to an Ethereum address."""
    msg = _h(withdrawal.asset_id_collateral, withdrawal.eth_address)
    return _h(msg, _withdrawal_packed(WITHDRAWAL_TO_ADDRESS, withdrawal))


def hash_transfer(transfer: Transfer) -> int:
    """The message hash of a transfer, or of a conditional transfer when it has a condition."""
    msg = _assets_hash(transfer.asset_id, transfer.asset_id_fee, transfer.receiver_public_key)
    if transfer.condition is None:
        kind = TRANSFER
    else:
        kind = CONDITIONAL_TRANSFER
        msg = _h(msg, transfer.condition)
    packed0 = _pack(
        transfer.sender_position_id, (transfer.receiver_position_id, 64), (transfer.fee_position_id, 64),
        (transfer.nonce, 32),
    )
    packed1 = _pack(kind, (transfer.amount, 64), (transfer.max_amount_fee, 64), (transfer.expiration_hours, 32), (0, 81))
    return _h(_h(msg, packed0), packed1)


@dataclass(frozen=True, slots=True)
class OraclePrice:
    """One oracle's signed price for an asset pair (dYdX: asset pair like b"BTCUSD" padded to 16
    bytes, oracle name like b"Maker"); the signed_asset_id StarkEx configures is
    asset_pair * 2^40 + oracle_name."""

    oracle_name: int
    asset_pair: int
    price: int
    """External price, fixed point with 10^18 = 1.0."""
    timestamp_s: int

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            oracle_name=ORACLE_NAME_BOUND,
            asset_pair=ASSET_PAIR_BOUND,
            price=EXTERNAL_PRICE_BOUND,
            timestamp_s=TIMESTAMP_BOUND,
        )

    @property
    def signed_asset_id(self) -> int:
        return self.asset_pair << 40 | self.oracle_name


def hash_oracle_price(price: OraclePrice) -> int:
    """The message hash an oracle signs for one price."""
    return _h(price.signed_asset_id, price.price << 32 | price.timestamp_s)


def order_id(message_hash: int) -> int:
    """The key of a signed message in the orders tree: the top 64 of its 251 bits.

    StarkEx keeps the filled amount per order_id, so two messages whose hashes share the top 64
    bits share one fulfilment record (stark-perpetual `order/order.cairo`).

    Raises:
        MessageFieldError: message_hash.out_of_range unless 0 <= message_hash < 2^251.
    """
    _check_range("message_hash", message_hash, SIGNED_MESSAGE_BOUND)
    return message_hash // ORDER_ID_SHIFT
