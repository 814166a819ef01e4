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
    """OPERATOR / TEST COMMAND: set a market's oracle price (collateral quantums per unit) without
    signatures, timestamped at the command time. Production feeds prices with ``OraclePricesTick``;
    the API must not expose this command to traders."""

    timestamp_ns: int
    market_id: str
    price: int


@dataclass(frozen=True, slots=True)
class SignedOraclePrice:
    """One oracle's signed price, as StarkEx / dYdX v3 define it (crypto.messages.OraclePrice): the
    signer signs H(signed_asset_id, external_price * 2^32 + timestamp_s)."""

    signer_key: int
    """The oracle's STARK public key."""
    external_price: int
    """Collateral per whole synthetic unit, fixed point with 10^18 = 1.0 (e.g. 40,000 USD = 4e22)."""
    timestamp_s: int
    """When the oracle observed the price, Unix seconds (32 bits)."""
    signed_asset_id: int
    """asset_pair * 2^40 + oracle_name (e.g. "BTCUSD" padded to 16 bytes, "Maker")."""
    signature_r: int
    signature_s: int


@dataclass(frozen=True, slots=True)
class MarketOraclePrices:
    """The signed prices of one market in a tick, signer keys strictly increasing."""

    market_id: str
    prices: tuple[SignedOraclePrice, ...]


@dataclass(frozen=True, slots=True)
class OraclePricesTick:
    """New oracle prices for one or more markets (market ids strictly increasing). Accepted only as a
    whole: one market failing any rule rejects the tick. See core/oracle.py for the rules."""

    timestamp_ns: int
    markets: tuple[MarketOraclePrices, ...]


@dataclass(frozen=True, slots=True)
class SampleFundingPremium:
    """Sample a market's funding premium from its impact bid / ask and index price (the edge sends
    it on the market's cadence, e.g. every minute)."""

    timestamp_ns: int
    market_id: str


@dataclass(frozen=True, slots=True)
class FundingTick:
    """Close a funding interval: compute the rate, move the global funding index and settle every
    position of the market (``market_id``), or of every market that is due (None)."""

    timestamp_ns: int
    market_id: str | None = None


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


@dataclass(frozen=True, slots=True)
class Liquidate:
    """A keeper's liquidation (StarkEx ``Liquidate``): the liquidator's signed StarkEx limit order takes
    over ``size`` of the liquidated account's position in ``market_id`` at the order's price.

    The order is the ``crypto.messages.LimitOrder`` the liquidator signed with its account's STARK key
    (synthetic asset of the market, collateral as collateral and fee asset, ``position_id`` = the
    liquidator); the fee charged is 0 and the keeper is paid a share of the penalty instead
    (core/liquidation.py). Checks, in order: docs/liquidations.md.
    """

    timestamp_ns: int
    liquidator_position_id: int
    liquidated_position_id: int
    market_id: str
    is_buying_synthetic: bool
    """True when the liquidator buys (takes over a long)."""
    amount_synthetic: int
    amount_collateral: int
    max_amount_fee: int
    nonce: int
    expiration_hours: int
    signature_r: int
    signature_s: int
    size: int
    """Synthetic quantums taken over now (at most the order's amount not yet used)."""


Command = (
    CreateAccount
    | DepositCollateral
    | WithdrawCollateral
    | SetOraclePrice
    | OraclePricesTick
    | SampleFundingPremium
    | FundingTick
    | PlaceOrder
    | CancelOrder
    | CancelAllOrders
    | Liquidate
)
