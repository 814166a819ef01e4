"""Why a transaction is invalid: one numbered list of codes and one error tree.

Codes 0-28 are stark-perpetual v1's `PerpetualErrorCode` with the same numbers and names
(`definitions/perpetual_error_code.cairo`); Cairo turns several further rules into bare asserts, and
those get their own codes from 100 up. Every error keeps the offending values in `values`.
"""

from __future__ import annotations

from enum import IntEnum

from perpetua.core.errors import PerpetuaError


class ErrorCode(IntEnum):
    """A stable, numbered verdict. The name reads as the reason."""

    SUCCESS = 0
    ERROR = 1
    ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS = 2
    ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE = 3
    ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO = 4
    INVALID_ASSET_ORACLE_PRICE = 5
    INVALID_COLLATERAL_ASSET_ID = 6
    INVALID_FULFILLMENT_ASSETS_RATIO = 7
    INVALID_FULFILLMENT_FEE_RATIO = 8
    INVALID_FULFILLMENT_INFO = 9
    INVALID_FUNDING_TICK_TIMESTAMP = 10
    INVALID_PUBLIC_KEY = 11
    INVALID_SIGNATURE = 12
    MISSING_GLOBAL_FUNDING_INDEX = 13
    MISSING_ORACLE_PRICE = 14
    MISSING_SYNTHETIC_ASSET_ID = 15
    OUT_OF_RANGE_AMOUNT = 16
    OUT_OF_RANGE_BALANCE = 17
    OUT_OF_RANGE_FUNDING_INDEX = 18
    OUT_OF_RANGE_POSITIVE_AMOUNT = 19
    OUT_OF_RANGE_TOTAL_RISK = 20
    OUT_OF_RANGE_TOTAL_VALUE = 21
    SAME_POSITION_ID = 22
    TOO_MANY_SYNTHETIC_ASSETS_IN_POSITION = 23
    TOO_MANY_SYNTHETIC_ASSETS_IN_SYSTEM = 24
    UNDELEVERAGABLE_POSITION = 25
    UNFAIR_DELEVERAGE = 26
    UNLIQUIDATABLE_POSITION = 27
    UNSORTED_ORACLE_PRICES = 28
    # Rules Cairo states as plain asserts.
    EXPIRED_ORDER = 100
    OVERFILLED_ORDER = 101
    FUNDING_TOO_OLD = 102
    INVALID_FUNDING_RATE = 103
    INVALID_FUNDING_ASSETS = 104
    INVALID_ORDER_ASSETS = 105
    INVALID_ORDER_SIDES = 106
    FEE_POSITION_ORDER = 107
    INVALID_TRANSFER_FEE = 108
    UNREGISTERED_CONDITION = 109
    ORACLE_QUORUM_NOT_REACHED = 110
    ORACLE_PRICE_NOT_MEDIAN = 111
    ORACLE_TIMESTAMP_OUT_OF_WINDOW = 112
    ORACLE_UNKNOWN_SIGNER = 113
    ORACLE_PRICE_OUT_OF_BATCH_RANGE = 114
    SYSTEM_TIME_REGRESSED = 115
    INVALID_FORCED_ACTION = 116
    UNKNOWN_TRANSACTION = 117
    # Perpetua's liquidation settlement (transactions/liquidation_close.py, socialized_loss.py).
    NO_INSURANCE_FUND = 118
    INSURANCE_FUND_NEGATIVE = 119
    LIQUIDATION_BELOW_BANKRUPTCY = 120
    INSURANCE_FUND_OVERPAYS = 121
    LIQUIDATION_PENALTY_TOO_HIGH = 122
    INVALID_LIQUIDATION_PARTY = 123
    INVALID_SOCIALIZED_LOSS = 124


class InvalidTransaction(PerpetuaError):
    """A transaction the state transition refuses. The input state is never changed.

    Attributes:
        code: the stable `ErrorCode`.
        values: the offending values by name (amounts, ids, balances), for logs and tests.
    """

    def __init__(self, code: ErrorCode, message: str, **values: object) -> None:
        detail = ", ".join(f"{k}={v}" for k, v in values.items())
        super().__init__(f"{code.name}: {message}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.message = message
        self.values = values


class InvalidSignature(InvalidTransaction):
    """A signature that does not verify for the claimed key and message."""


class InvalidOrder(InvalidTransaction):
    """A signed order or message used against its own terms: expired, overfilled, unfair."""


class InvalidPositionUpdate(InvalidTransaction):
    """A position change the risk rules forbid, or one out of range."""


class InvalidFunding(InvalidTransaction):
    """A funding tick that breaks the rate bound or ordering rules, or stale funding."""


class InvalidOraclePrices(InvalidTransaction):
    """An oracle price tick without quorum, median or timestamp window."""


class InvalidRange(InvalidTransaction):
    """A field outside its bound."""
