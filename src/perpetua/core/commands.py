"""Commands: what the sequencer is asked to do, in order. Imperative names, plain frozen values.

Every command carries ``timestamp_ns``, assigned by the edge that received it; the core never reads a
clock. The journal stores commands; replaying them reproduces the state byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.core.orders import OrderType, TimeInForce, TriggerSource


@dataclass(frozen=True, slots=True)
class CreateAccount:
    """Open a position (account) for a STARK public key."""

    timestamp_ns: int
    position_id: int
    public_key: int


@dataclass(frozen=True, slots=True)
class DepositCollateral:
    """Credit collateral (quantums) to an account, e.g. once an L1 deposit is included."""

    timestamp_ns: int
    position_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class WithdrawCollateral:
    """Debit collateral (quantums); allowed only while the account stays above initial margin."""

    timestamp_ns: int
    position_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class SetOraclePrice:
    """Set a market's oracle price (collateral quantums per unit). Signed ticks arrive with the oracle."""

    timestamp_ns: int
    market_id: str
    price: int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Place an order. ``price`` is the limit price, or the worst acceptable price of a market order."""

    timestamp_ns: int
    position_id: int
    market_id: str
    side: int
    """+1 buy, -1 sell."""
    order_type: OrderType
    time_in_force: TimeInForce
    size: int
    """Synthetic quantums."""
    price: int
    """Collateral quantums per unit."""
    client_id: str
    expires_at_ns: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    trigger_price: int | None = None
    trigger_source: TriggerSource = TriggerSource.MARK
    trailing_ppm: int | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel one open or untriggered order of the account."""

    timestamp_ns: int
    position_id: int
    order_id: int


@dataclass(frozen=True, slots=True)
class CancelAllOrders:
    """Cancel every open and untriggered order of the account, in one market or in all."""

    timestamp_ns: int
    position_id: int
    market_id: str | None = None


Command = (
    CreateAccount
    | DepositCollateral
    | WithdrawCollateral
    | SetOraclePrice
    | PlaceOrder
    | CancelOrder
    | CancelAllOrders
)
