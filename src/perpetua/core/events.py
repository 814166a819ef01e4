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
    """Collateral quantums per whole unit."""
    timestamp_ns: int = 0
    """When the price was observed: the oldest signed timestamp of a tick, or the command time of an
    operator ``SetOraclePrice``."""
    signatures: int = 0
    """Valid signatures behind the price (0: set by the operator)."""


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
    side: int = 0
    """+1 buy, -1 sell (so a book-delta read model needs no lookup)."""
    price: int = 0
    """The order's limit price."""
    was_resting: bool = False
    """True when the order was in the book (its removal changes the book)."""


@dataclass(slots=True)
class FundingSettled:
    """Funding moved into collateral when the account's positions were touched (negative: paid)."""

    position_id: int
    amount: int


@dataclass(slots=True)
class FundingPremiumSampled:
    """A premium sample: (max(0, impact_bid - index) - max(0, index - impact_ask)) / index."""

    market_id: str
    timestamp_ns: int
    premium_ppb: int
    impact_bid: int | None
    """Average price of selling ``impact_notional`` into the bids; None when the book is too thin."""
    impact_ask: int | None
    index_price: int


@dataclass(slots=True)
class FundingRateUpdated:
    """A funding tick of one market: the rate for the interval and the new global index. The market's
    funding rate history is the sequence of these."""

    market_id: str
    timestamp_ns: int
    """When the rate took effect (the tick's time)."""
    interval_ns: int
    """Length of the interval the rate covers."""
    premium_ppb: int
    """Time-weighted average premium over the interval."""
    rate_ppb: int
    """Rate for the interval: longs pay size * index_price * rate (shorts receive) when positive."""
    index_price: int
    """The price the payment was computed at (the oracle price)."""
    funding_index: int
    """The new global funding index (32.32 collateral quantums per synthetic quantum)."""
    index_delta: int
    positions_settled: int
    rounding: int
    """Collateral quantums the per-position floors left over, credited to the insurance fund."""


@dataclass(slots=True)
class FundingPaid:
    """One account's funding payment at a tick (negative: paid). An account's funding history."""

    position_id: int
    market_id: str
    timestamp_ns: int
    amount: int
    position_size: int
    rate_ppb: int
    index_price: int
    collateral: int
    """The balance after the payment."""


@dataclass(slots=True)
class CommandRejected:
    """A non-order command that changed nothing."""

    command: str
    code: RejectCode
    field: str
    message: str


@dataclass(slots=True)
class InsuranceFundChanged:
    """A movement of the insurance fund's balance: an inflow (penalty, funding rounding) or an
    outflow (a shortfall below bankruptcy). The fund's balance history is the sequence of these."""

    timestamp_ns: int
    market_id: str
    amount: int
    """Signed collateral quantums: positive into the fund."""
    reason: str
    """``LIQUIDATION_PENALTY``, ``LIQUIDATION_SHORTFALL`` or ``FUNDING_ROUNDING``."""
    position_id: int
    """The account the movement came from or went to (0 for funding rounding)."""
    balance: int
    """The fund's balance after."""


@dataclass(slots=True)
class LiquidationFilled:
    """One fill of a liquidation: the liquidated account's position shrinks by ``size`` at ``price``
    against a resting order (``maker_order_id``) or a keeper's signed order (``maker_order_id`` 0)."""

    fill_id: int
    market_id: str
    liquidated_position_id: int
    liquidated_side: int
    """The liquidated account's trade side: -1 sells (closes a long), +1 buys."""
    counterparty_position_id: int
    maker_order_id: int
    price: int
    size: int
    bankruptcy_price: int
    """The price at which this fill would leave the account's TV / MMR unchanged (quantums per unit,
    rounded toward the account)."""
    penalty: int
    """Collateral the liquidated account paid (penalty; 0 when the fill is below bankruptcy)."""
    fund_delta: int
    """Signed change of the insurance fund: penalty share in, or the shortfall paid out (< 0)."""
    keeper_reward: int
    """The keeper's share of the penalty (0 for book fills)."""
    liquidated_collateral: int
    """The liquidated account's collateral after."""
    fund_balance: int
    order_amount_synthetic: int = 0
    """A keeper fill's signed StarkEx limit order (0 for book fills), so the rollup can settle it
    (rollup/adapter.py): the order's amounts, max fee, nonce, expiration (hours) and signature; its
    side is the opposite of ``liquidated_side``, its position the counterparty's."""
    order_amount_collateral: int = 0
    order_max_fee: int = 0
    order_nonce: int = 0
    order_expiration_hours: int = 0
    order_signature_r: int = 0
    order_signature_s: int = 0


@dataclass(slots=True)
class PositionDeleveraged:
    """Auto-deleveraging: ``size`` of the deleveraged account's position is closed against the
    deleverager's opposite position at the bankruptcy price. Both traders are named."""

    market_id: str
    deleveraged_position_id: int
    deleverager_position_id: int
    deleveraged_side: int
    """The deleveraged account's trade side (-1: its long is sold to the deleverager)."""
    size: int
    price: int
    """Bankruptcy price, quantums per unit (the exact amount is ``collateral_amount``)."""
    collateral_amount: int
    """Collateral the deleveraged account received (negative: paid) and the deleverager paid."""
    rank: int
    """The deleverager's place in the ranking (0 first) among the opposite positions."""
    score: int
    """Its ranking score: (PnL / TV) * (notional / TV) in ppm, or -1 when not in profit."""
    deleveraged_collateral: int
    deleverager_collateral: int
    deleverager_size: int
    """The deleverager's position after (signed)."""


@dataclass(slots=True)
class AccountLiquidated:
    """The end of one liquidation step of an account: what it was and what it is now."""

    position_id: int
    timestamp_ns: int
    equity_before: int
    maintenance_before: int
    equity_after: int
    maintenance_after: int
    closed_notional: int
    """Notional closed (book, keeper and deleveraging), at fill prices."""
    penalty: int
    fund_delta: int
    """Net change of the insurance fund from this step."""
    deleveraged_size: int
    full: bool
    """True when every position was closed."""
    liquidator_position_id: int = 0
    """The keeper of a ``Liquidate`` (0: the exchange's own liquidation)."""
    complete: bool = True
    """False when the account is still liquidatable (no counterparty could take the rest)."""


@dataclass(slots=True)
class LossSocialized:
    """Socialized-loss mode: a shortfall the fund could not cover, charged to the accounts holding the
    other side of ``market_id`` pro rata to their size."""

    market_id: str
    position_id: int
    """The bankrupt account."""
    amount: int
    accounts: int
    """How many accounts were charged."""


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
    | FundingPremiumSampled
    | FundingRateUpdated
    | FundingPaid
    | CommandRejected
    | InsuranceFundChanged
    | LiquidationFilled
    | PositionDeleveraged
    | AccountLiquidated
    | LossSocialized
)
