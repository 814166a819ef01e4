"""Funding: premium sampling, the rate of an interval, the global funding index, and settlement.

Units. A funding index is signed 32.32 fixed point: collateral quantums per synthetic quantum, times
2^32 (StarkEx). Premiums and rates are in ppb (10^-9). Prices are collateral quantums per whole unit.

1. Premium (``premium_ppb``), sampled by ``SampleFundingPremium`` at most every
   ``premium_sample_interval_ns``: premium = (max(0, impact_bid - index) - max(0, index - impact_ask))
   / index, truncated toward zero. The impact bid (ask) is the average price of selling (buying)
   ``impact_notional`` on the real book (``impact_price``); a side too thin to fill it counts as the
   index price (it adds no premium).
2. Time weighting (``MarketFunding``): a sample holds from its time until the next sample or tick;
   the time of an interval before its first sample carries the previous interval's last premium
   (0 before any sample). TWAP = sum(premium * duration) / interval, truncated toward zero.
3. Rate (``interval_rate_ppb``) for an interval of length dt (dYdX v3: hourly, an 8-hour rate / 8):
   rate = (TWAP + interest_8h) * dt / 8 h, clamped to +/- cap_8h * dt / 8 h (both truncated toward
   zero). Longs pay when the rate is positive.
4. Index move (``index_delta``): delta = rate * index_price * 2^32 / (10^9 * resolution), truncated
   toward zero, so |delta| * 2^32 <= max_rate * price * dt holds as StarkEx's FundingTick requires
   with max_rate = cap / 8 h.
5. Settlement (``settle_market``): at each funding tick every position of the market is settled at
   once, StarkEx's one floor per account: amount = floor(-(new_index - cached_index) * size / 2^32).
   The exact amounts sum to zero (longs = shorts), so the floors sum to -R with 0 <= R < number of
   positions; R goes to the insurance fund. Collateral is conserved exactly, and after a tick every
   cached index equals the global one, so the lazy settlement on touch (``settle_funding``, before a
   fill or a withdrawal) only has work when a future caller moves an index without settling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from perpetua.core.accounts import Account
from perpetua.core.book import BookSide
from perpetua.core.markets import FUNDING_PERIOD_NS, Market
from perpetua.core.quantities import PPB, ceil_div

FUNDING_INDEX_ONE = 1 << 32
"""1.0 in the 32.32 fixed-point funding index."""
FUNDING_INDEX_BOUND = 1 << 63
"""|index| < 2^63 (StarkEx)."""


def _trunc_div(numerator: int, denominator: int) -> int:
    """Division truncated toward zero (a positive denominator)."""
    q = abs(numerator) // denominator
    return q if numerator >= 0 else -q


# -- settlement ------------------------------------------------------------------------------------


def unsettled_funding(account: Account, funding_indices: Mapping[str, int]) -> int:
    """Collateral quantums the account would receive (negative: pay) if settled now, floored."""
    owed = 0
    for market_id, pos in account.positions.items():
        delta = funding_indices[market_id] - pos.funding_index
        if delta:
            owed -= delta * pos.size
    return owed // FUNDING_INDEX_ONE if owed else 0


def settle_funding(account: Account, funding_indices: Mapping[str, int]) -> int:
    """Move unsettled funding into collateral and bring every cached index up to date.

    Returns the collateral change (negative when the account paid).
    """
    amount = unsettled_funding(account, funding_indices)
    account.collateral += amount
    for market_id, pos in account.positions.items():
        pos.funding_index = funding_indices[market_id]
    return amount


def settle_market(accounts: Iterable[Account], market_id: str, new_index: int) -> tuple[list[tuple[Account, int, int]], int]:
    """Settle every position in ``market_id`` to ``new_index`` (module docstring, 5).

    Returns ([(account, amount, size)] in the accounts' order, total of the amounts). The total is
    <= 0: its negation is the rounding left over. A tight loop: 100,000 positions take tens of ms.
    """
    paid: list[tuple[Account, int, int]] = []
    append = paid.append
    total = 0
    one = FUNDING_INDEX_ONE
    for acct in accounts:
        pos = acct.positions.get(market_id)
        if pos is None:
            continue
        size = pos.size
        amount = ((pos.funding_index - new_index) * size) // one
        pos.funding_index = new_index
        if amount:
            acct.collateral += amount
            total += amount
        append((acct, amount, size))
    return paid, total


# -- premium, rate, index ----------------------------------------------------------------------------


def impact_price(side: BookSide, notional: int, resolution: int) -> int | None:
    """Average price of a market order worth ``notional`` collateral quantums against ``side``, or None
    when the side cannot fill it.

    Exact, then rounded once: with Q the size of the levels taken whole and V the value still needed
    at the last level's price p, the size bought is Q + V / p, so the average is
    notional * resolution * p / (Q * p + V); the bid's is floored, the ask's ceiled.

    >>> from perpetua.core.book import BookSide
    >>> from perpetua.core.orders import Order, OrderType, TimeInForce
    >>> bids = BookSide(is_bid=True)
    >>> for oid, price in ((1, 100_000_000), (2, 98_000_000)):
    ...     bids.add(Order(oid, 1, "X", 1, OrderType.LIMIT, TimeInForce.GTT, price, 10**6, "c", 0))
    >>> impact_price(bids, 150_000_000, 10**6)  # 1 unit at 100, 50 USD at 98: 150 / (1 + 50/98)
    99324324
    """
    total = notional * resolution  # value units: size * price (collateral quantums * resolution)
    need = total
    qty = 0
    levels = side.levels
    for price in side.prices_from_best():
        level_size = levels[price].size
        value = level_size * price
        if value >= need:
            num, den = total * price, qty * price + need
            return num // den if side.is_bid else ceil_div(num, den)
        need -= value
        qty += level_size
    return None


def premium_ppb(impact_bid: int | None, impact_ask: int | None, index_price: int) -> int:
    """(max(0, impact_bid - index) - max(0, index - impact_ask)) / index in ppb, truncated toward zero.

    >>> premium_ppb(40_040_000_000, 40_060_000_000, 40_000_000_000)  # bid 0.1% above the index
    1000000
    """
    bid = index_price if impact_bid is None else impact_bid
    ask = index_price if impact_ask is None else impact_ask
    diff = max(0, bid - index_price) - max(0, index_price - ask)
    return _trunc_div(diff * PPB, index_price)


def interval_rate_ppb(market: Market, twap_premium_ppb: int, interval_ns: int) -> int:
    """The funding rate of an interval (module docstring, 3).

    >>> from perpetua.core.markets import load_config
    >>> btc = load_config().markets["BTC-USD"]
    >>> interval_rate_ppb(btc, 800_000, 3600 * 10**9)  # (0.08% + 0.01%) / 8 = 0.01125%
    112500
    """
    rate = _trunc_div((twap_premium_ppb + market.funding_interest_ppb) * interval_ns, FUNDING_PERIOD_NS)
    cap = market.funding_rate_cap_ppb * interval_ns // FUNDING_PERIOD_NS
    return max(-cap, min(cap, rate))


def index_delta(rate_ppb: int, index_price: int, resolution: int) -> int:
    """The move of the funding index for a rate at a price (module docstring, 4).

    >>> index_delta(12_500, 40_000_000_000, 10**10)  # 0.00125% of 4 quantums per quantum, * 2^32
    214748
    """
    return _trunc_div(rate_ppb * index_price * FUNDING_INDEX_ONE, PPB * resolution)


class MarketFunding:
    """A market's funding clock and premium accumulator (module docstring, 2). Integers only."""

    __slots__ = ("last_sample_ns", "last_tick_ns", "premium_ppb", "rate_ppb", "weighted_premium", "weighted_since_ns")

    def __init__(self) -> None:
        self.last_tick_ns = 0
        """End of the last interval; 0 until the market's first oracle price starts the clock."""
        self.last_sample_ns = 0
        """Time of the last premium sample (for the cadence)."""
        self.premium_ppb = 0
        """The latest premium: it holds until the next sample."""
        self.weighted_premium = 0
        """Sum of premium_ppb * duration_ns since the interval began, up to ``weighted_since_ns``."""
        self.weighted_since_ns = 0
        self.rate_ppb = 0
        """The rate of the last interval (0 before the first tick)."""

    @property
    def started(self) -> bool:
        return self.last_tick_ns > 0

    def start(self, now_ns: int) -> None:
        self.last_tick_ns = self.weighted_since_ns = now_ns

    def accumulate(self, now_ns: int) -> None:
        """Weigh the current premium up to ``now_ns``."""
        self.weighted_premium += self.premium_ppb * (now_ns - self.weighted_since_ns)
        self.weighted_since_ns = now_ns

    def sample(self, now_ns: int, premium: int) -> None:
        self.accumulate(now_ns)
        self.premium_ppb = premium
        self.last_sample_ns = now_ns

    def close_interval(self, now_ns: int) -> tuple[int, int]:
        """End the interval at ``now_ns``: return (its length, its TWAP premium) and start the next."""
        self.accumulate(now_ns)
        interval = now_ns - self.last_tick_ns
        twap = _trunc_div(self.weighted_premium, interval)
        self.weighted_premium = 0
        self.last_tick_ns = now_ns
        return interval, twap

    def state_tuple(self) -> tuple[int, ...]:
        return (
            self.last_tick_ns, self.last_sample_ns, self.premium_ppb, self.weighted_premium,
            self.weighted_since_ns, self.rate_ppb,
        )
