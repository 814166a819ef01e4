"""Derived prices: the index price and the mark price (docs/prices-and-funding.md).

Which price does what:

- oracle price (core/oracle.py: the median of a quorum of signed prices): margin (equity,
  requirements, order margin, withdrawals) and liquidation checks; funding payments;
- index price: the funding premium's reference. By default (and today, the only source) it is the
  oracle price: a signed tick is already the median of independent sources, as StarkEx and dYdX v3
  (Chainlink) define it. A separate index (median of other configured feeds) would plug in here;
- mark price: the median of (oracle price, best bid, best ask), clamped to the oracle price +/- the
  market's ``mark_price_band_ppm`` so a thin or spoofed book cannot move it far; a missing side of the
  book counts as the oracle price. Stop, take-profit and trailing orders trigger on it unless they
  ask for the oracle price (``TriggerSource``).
"""

from __future__ import annotations

from perpetua.core.quantities import PPM, ceil_div


def index_price(oracle: int | None) -> int | None:
    """The index price: the oracle price (see the module docstring)."""
    return oracle


def mark_price(oracle: int | None, best_bid: int | None, best_ask: int | None, band_ppm: int) -> int | None:
    """The mark price in collateral quantums per unit, or None without an oracle price.

    >>> mark_price(100_000, 99_000, 101_000, 10_000)
    100000
    >>> mark_price(100_000, 150_000, 160_000, 10_000)  # a crossed or spoofed book is clamped
    101000
    """
    if oracle is None:
        return None
    bid = oracle if best_bid is None else best_bid
    ask = oracle if best_ask is None else best_ask
    median = sorted((oracle, bid, ask))[1]
    low = ceil_div(oracle * (PPM - band_ppm), PPM)
    high = oracle * (PPM + band_ppm) // PPM
    return min(max(median, low), high)
