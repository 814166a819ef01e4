"""Integer units and the rounding rules of the core.

Every amount in state is an integer:

- collateral (USDC) in quantums of 10^-6 USDC;
- a synthetic size in the market's quantums (``resolution`` quantums per whole unit, e.g. 10^10 per BTC);
- a price in collateral quantums per whole synthetic unit (BTC at 40,000 USDC is ``40_000_000_000``);
- fractions (margin fractions, fees, trailing percentages) in parts per million (ppm); funding premiums
  and rates in parts per billion (ppb);
- times in nanoseconds (``_ns``); configuration gives them in seconds.

Rounding always goes against the trader: values are floored, requirements and fees are ceiled.
``Decimal`` appears only here, at the edge, to turn human text into exact integers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

PPM = 1_000_000
"""One whole in parts per million."""

PPB = 1_000_000_000
"""One whole in parts per billion: the unit of funding premiums and rates (an hourly rate of
0.00125% is 12,500 ppb)."""

NS_PER_S = 1_000_000_000

COLLATERAL_DECIMALS = 6
COLLATERAL_RESOLUTION = 10**COLLATERAL_DECIMALS
"""Collateral quantums per USDC."""


def ceil_div(numerator: int, denominator: int) -> int:
    """Ceiling of ``numerator / denominator`` for a positive denominator, exact for any sign.

    >>> ceil_div(7, 2), ceil_div(-7, 2)
    (4, -3)
    """
    return -((-numerator) // denominator)


def to_integer_units(text: str | int | Decimal, scale: int, field: str) -> int:
    """Exactly convert a decimal amount to integer units of ``1/scale``; raise if it is not exact.

    >>> to_integer_units("0.0001", 10**10, "step_size")
    1000000
    """
    try:
        value = Decimal(str(text)) * scale
    except InvalidOperation as exc:
        raise ValueError(f"{field}: {text!r} is not a decimal number") from exc
    if value != value.to_integral_value():
        raise ValueError(f"{field}: {text!r} is not a whole multiple of 1/{scale}")
    return int(value)


def format_units(value: int, scale: int) -> str:
    """Format integer units of ``1/scale`` as an exact decimal string (for the API and displays).

    >>> format_units(-1500000, 10**6)
    '-1.5'
    """
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), scale)
    if frac == 0:
        return f"{sign}{whole}"
    digits = len(str(scale)) - 1
    return f"{sign}{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"
