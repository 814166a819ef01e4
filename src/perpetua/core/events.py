"""Events: what happened, past tense. The sequencer returns them for every command, in order.

Read models (fills, order history, candles) are built from events; the state is built from commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.core.errors import CancelReason, RejectCode
from perpetua.core.orders import OrderType


@dataclass(slots=True)
class AccountCreated:
    position_id: int
    public_key: int


@dataclass(slots=True)
class CollateralDeposited:
    position_id: int
    amount: int
    collateral: int
    """The balance after the deposit."""


@dataclass(slots=True)
class CollateralWithdrawn:
    position_id: int
    amount: int
    collateral: int


@dataclass(slots=True)
class OraclePriceUpdated:
    market_id: str
    price: int


@dataclass(slots=True)
class OrderAccepted:
    order_id: int
    position_id: int
    market_id: str
    client_id: str
    side: int
    order_type: OrderType
    price: int
    size: int
    untriggered: bool


@dataclass(slots=True)
class OrderRejected:
    """A PlaceOrder that changed nothing. ``field`` names the offending field, ``message`` the rule."""

    position_id: int
    market_id: str
    client_id: str
    code: RejectCode
    field: str
    message: str


@dataclass(slots=True)
class OrderTriggered:
    order_id: int
    market_id: str
    trigger_price: int
    """The observed price that triggered it."""


@dataclass(slots=True)
class OrderFilled:
    """One fill, both sides. Fees are collateral quantums (a negative maker fee is a rebate)."""

    fill_id: int
    market_id: str
    price: int
    size: int
    taker_order_id: int
    taker_position_id: int
    taker_side: int
    taker_fee: int
    maker_order_id: int
    maker_position_id: int
    maker_fee: int
    taker_remaining: int
    maker_remaining: int


@dataclass(slots=True)
class OrderCanceled:
    order_id: int
    position_id: int
    market_id: str
    remaining: int
    reason: CancelReason


@dataclass(slots=True)
class FundingSettled:
    """Funding moved into collateral when the account's positions were touched (negative: paid)."""

    position_id: int
    amount: int


@dataclass(slots=True)
class CommandRejected:
    """A non-order command that changed nothing."""

    command: str
    code: RejectCode
    field: str
    message: str


Event = (
    AccountCreated
    | CollateralDeposited
    | CollateralWithdrawn
    | OraclePriceUpdated
    | OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderFilled
    | OrderCanceled
    | FundingSettled
    | CommandRejected
)
