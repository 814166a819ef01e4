"""The error tree of the core, and the stable codes of every rejection.

A rejection names the field and the rule it broke. Rejections of user commands become events
(``OrderRejected`` / ``CommandRejected``) so they journal and replay; they never change state.
A broken invariant is a bug and crashes (plain ``AssertionError``).
"""

from __future__ import annotations

from enum import StrEnum


class PerpetuaError(Exception):
    """Root of every error Perpetua raises on purpose."""


class RejectCode(StrEnum):
    """Why a command was refused. The value is stable: the API and the journal use it."""

    UNKNOWN_MARKET = "UNKNOWN_MARKET"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ACCOUNT_EXISTS = "ACCOUNT_EXISTS"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    ORDER_NOT_OPEN = "ORDER_NOT_OPEN"
    NOT_ORDER_OWNER = "NOT_ORDER_OWNER"
    DUPLICATE_CLIENT_ID = "DUPLICATE_CLIENT_ID"
    INVALID_FIELD = "INVALID_FIELD"
    TICK_SIZE = "TICK_SIZE"
    STEP_SIZE = "STEP_SIZE"
    MIN_SIZE = "MIN_SIZE"
    MAX_POSITION_SIZE = "MAX_POSITION_SIZE"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    INSUFFICIENT_COLLATERAL = "INSUFFICIENT_COLLATERAL"
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"
    REDUCE_ONLY_WOULD_INCREASE = "REDUCE_ONLY_WOULD_INCREASE"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    EXPIRED = "EXPIRED"
    TRIGGER_ALREADY_CROSSED = "TRIGGER_ALREADY_CROSSED"
    NO_ORACLE_PRICE = "NO_ORACLE_PRICE"
    TIMESTAMP_REGRESSED = "TIMESTAMP_REGRESSED"
    ORACLE_SIGNER_UNKNOWN = "ORACLE_SIGNER_UNKNOWN"
    ORACLE_SIGNERS_UNSORTED = "ORACLE_SIGNERS_UNSORTED"
    ORACLE_ASSET_MISMATCH = "ORACLE_ASSET_MISMATCH"
    ORACLE_QUORUM_NOT_MET = "ORACLE_QUORUM_NOT_MET"
    ORACLE_SIGNATURE_INVALID = "ORACLE_SIGNATURE_INVALID"
    ORACLE_PRICE_STALE = "ORACLE_PRICE_STALE"
    """A signed price is older than the market's bound, or not newer than the current price (replay)."""
    ORACLE_PRICE_FROM_FUTURE = "ORACLE_PRICE_FROM_FUTURE"
    ORACLE_PRICE_MOVE_TOO_LARGE = "ORACLE_PRICE_MOVE_TOO_LARGE"
    MARKET_DEGRADED = "MARKET_DEGRADED"
    """The market's oracle price is stale: orders that add risk are refused."""
    PREMIUM_SAMPLE_NOT_DUE = "PREMIUM_SAMPLE_NOT_DUE"
    FUNDING_NOT_DUE = "FUNDING_NOT_DUE"
    NOT_LIQUIDATABLE = "NOT_LIQUIDATABLE"
    """A ``Liquidate`` names an account whose TV is not below its maintenance requirement."""
    LIQUIDATION_SIGNATURE_INVALID = "LIQUIDATION_SIGNATURE_INVALID"
    LIQUIDATION_ORDER_EXPIRED = "LIQUIDATION_ORDER_EXPIRED"
    LIQUIDATION_ORDER_FILLED = "LIQUIDATION_ORDER_FILLED"
    """The keeper's signed order has no amount left for this fill (it was used before)."""
    LIQUIDATION_WRONG_SIDE = "LIQUIDATION_WRONG_SIDE"
    """The keeper's order does not take over the liquidated position (same side, or no position)."""
    LIQUIDATION_PRICE_OUT_OF_BOUNDS = "LIQUIDATION_PRICE_OUT_OF_BOUNDS"
    """The keeper's price is worse for the liquidated account than its bankruptcy price."""


class CancelReason(StrEnum):
    """Why an accepted order left the book without filling completely."""

    USER_CANCELED = "USER_CANCELED"
    IOC_REMAINDER = "IOC_REMAINDER"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    EXPIRED = "EXPIRED"
    SELF_TRADE = "SELF_TRADE"
    REDUCE_ONLY = "REDUCE_ONLY"
    UNDERMARGINED = "UNDERMARGINED"
    REJECTED_ON_TRIGGER = "REJECTED_ON_TRIGGER"
    LIQUIDATED = "LIQUIDATED"
    """The account was liquidated: its orders are canceled first."""


class RejectedError(PerpetuaError):
    """A command broke a rule. Carries the stable code, the offending field and a readable message."""

    def __init__(self, code: RejectCode, field: str, message: str) -> None:
        super().__init__(f"{code.value}: {field}: {message}")
        self.code = code
        self.field = field
        self.message = message


class ConfigError(PerpetuaError):
    """The market or exchange configuration is invalid."""
