"""Range checks shared by the transaction modules."""

from __future__ import annotations

from perpetua.rollup.constants import AMOUNT_UPPER_BOUND, POSITION_ID_UPPER_BOUND
from perpetua.rollup.errors import ErrorCode, InvalidRange


def check_amount(name: str, value: int) -> None:
    """0 <= value < 2^64, else InvalidRange(OUT_OF_RANGE_AMOUNT)."""
    if not 0 <= value < AMOUNT_UPPER_BOUND:
        raise InvalidRange(ErrorCode.OUT_OF_RANGE_AMOUNT, f"{name} out of [0, 2^64)", **{name: value})


def check_position_id(name: str, value: int) -> None:
    """0 <= value < 2^64, else InvalidRange(OUT_OF_RANGE_AMOUNT)."""
    if not 0 <= value < POSITION_ID_UPPER_BOUND:
        raise InvalidRange(ErrorCode.OUT_OF_RANGE_AMOUNT, f"{name} out of [0, 2^64)", **{name: value})
