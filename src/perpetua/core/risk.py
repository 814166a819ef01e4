"""Cross-margin risk math, StarkEx-shaped, in integers.

For an account with collateral C and signed sizes s_i at oracle prices P_i (resolution r_i):

- equity (StarkEx "total value") TV = C + sum(s_i * P_i / r_i) + unsettled funding;
- notional N = sum(|s_i| * P_i / r_i);
- maintenance requirement (StarkEx "total risk") MMR = sum(|s_i| * P_i / r_i * MMF_i);
- initial requirement IMR = sum(|s_i| * P_i / r_i * IMF_i(|s_i|)), with dYdX v3's incremental IMF;
- free collateral = TV - IMR; liquidatable iff TV < MMR (strictly, as StarkEx).

Rounding goes against the trader: each position value is floored (a short's value is more negative),
each requirement is ceiled, unsettled funding is floored.

Displayed ratios: margin ratio = MMR / TV (100% means liquidation; shown as "none" when TV <= 0
means the account is already liquidatable or has no positions); leverage = N / TV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from perpetua.core.accounts import Account
from perpetua.core.funding import unsettled_funding
from perpetua.core.markets import Market
from perpetua.core.quantities import PPM, ceil_div


def position_value(size: int, price: int, resolution: int) -> int:
    """Signed value in collateral quantums, floored (toward minus infinity)."""
    return size * price // resolution


def margin_requirement(abs_size: int, price: int, resolution: int, fraction_ppm: int) -> int:
    """Requirement in collateral quantums, ceiled."""
    return ceil_div(abs_size * price * fraction_ppm, resolution * PPM)


@dataclass(frozen=True, slots=True)
class AccountTotals:
    """The three numbers every margin decision needs, in collateral quantums."""

    equity: int
    initial_requirement: int
    maintenance_requirement: int


def account_totals(
    account: Account,
    markets: Mapping[str, Market],
    prices: Mapping[str, int],
    funding_indices: Mapping[str, int],
    market_id: str | None = None,
    size_delta: int = 0,
    collateral_delta: int = 0,
) -> AccountTotals:
    """TV, IMR and MMR of ``account``, optionally as if ``size_delta`` were added to its position in
    ``market_id`` and ``collateral_delta`` to its collateral (how a fill is judged before it happens)."""
    equity = account.collateral + collateral_delta + unsettled_funding(account, funding_indices)
    imr = mmr = 0
    seen = False
    for mid, pos in account.positions.items():
        size = pos.size
        if mid == market_id:
            size += size_delta
            seen = True
        if size:
            m = markets[mid]
            price = prices[mid]
            equity += size * price // m.resolution
            a = size if size > 0 else -size
            imr += ceil_div(a * price * m.initial_margin_fraction_ppm(a), m.resolution * PPM)
            mmr += ceil_div(a * price * m.maintenance_margin_ppm, m.resolution * PPM)
    if market_id is not None and not seen and size_delta:
        m = markets[market_id]
        price = prices[market_id]
        equity += size_delta * price // m.resolution
        a = abs(size_delta)
        imr += ceil_div(a * price * m.initial_margin_fraction_ppm(a), m.resolution * PPM)
        mmr += ceil_div(a * price * m.maintenance_margin_ppm, m.resolution * PPM)
    return AccountTotals(equity, imr, mmr)


def is_valid_trade(before: AccountTotals, after: AccountTotals, size_before: int, size_after: int) -> bool:
    """The StarkEx trade rule, with dYdX's initial margin as the bar for new risk.

    A trade is allowed if the account ends at or above its initial requirement; otherwise only if it
    reduces risk: the position shrinks without flipping (same sign, smaller or zero), and the ratio
    TV / MMR does not fall (compared cross-multiplied: tv0 * mmr1 <= tv1 * mmr0, exact for any sign);
    when there was no requirement before, TV must not fall.
    """
    if after.equity >= after.initial_requirement:
        return True
    if size_before > 0:
        shrinks = 0 <= size_after < size_before
    elif size_before < 0:
        shrinks = size_before < size_after <= 0
    else:
        shrinks = False
    if not shrinks:
        return False
    mmr0, mmr1 = before.maintenance_requirement, after.maintenance_requirement
    if mmr0 == 0:
        return after.equity >= before.equity
    return before.equity * mmr1 <= after.equity * mmr0


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """What a trader sees of the account's margin, in collateral quantums and ppm."""

    equity: int
    notional: int
    initial_requirement: int
    maintenance_requirement: int
    free_collateral: int
    margin_ratio_ppm: int | None
    """MMR / TV in ppm (liquidation at 1,000,000); None when TV <= 0."""
    leverage_ppm: int | None
    """Notional / TV in ppm; None when TV <= 0."""
    liquidatable: bool


def margin_summary(
    account: Account,
    markets: Mapping[str, Market],
    prices: Mapping[str, int],
    funding_indices: Mapping[str, int],
) -> MarginSummary:
    totals = account_totals(account, markets, prices, funding_indices)
    notional = sum(
        abs(p.size) * prices[mid] // markets[mid].resolution for mid, p in account.positions.items()
    )
    tv = totals.equity
    return MarginSummary(
        equity=tv,
        notional=notional,
        initial_requirement=totals.initial_requirement,
        maintenance_requirement=totals.maintenance_requirement,
        free_collateral=tv - totals.initial_requirement,
        margin_ratio_ppm=ceil_div(totals.maintenance_requirement * PPM, tv) if tv > 0 else None,
        leverage_ppm=notional * PPM // tv if tv > 0 else None,
        liquidatable=tv < totals.maintenance_requirement,
    )


def liquidation_price(
    account: Account,
    market_id: str,
    markets: Mapping[str, Market],
    prices: Mapping[str, int],
    funding_indices: Mapping[str, int],
) -> int | None:
    """The oracle price of ``market_id`` at which the account becomes liquidatable, every other price
    held where it is (cross margin). None when there is no position, or when no positive price
    liquidates it (a long backed by more than its maintenance need at any price).

    With E the equity, M_o the maintenance requirement of the other positions, s the size in units,
    P its price and f its MMF, liquidation is E + s (P' - P) = M_o + |s| P' f, so
      long:  P' = (s P - E + M_o) / (s (1 - f)),   rounded up (the warning comes no later than the event);
      short: P' = (E + |s| P - M_o) / (|s| (1 + f)), rounded down.
    In quantums: s = size / r, so both sides are multiplied by r and f is in ppm.
    """
    pos = account.positions.get(market_id)
    if pos is None or pos.size == 0:
        return None
    m = markets[market_id]
    totals = account_totals(account, markets, prices, funding_indices)
    others_mmr = totals.maintenance_requirement - margin_requirement(
        abs(pos.size), prices[market_id], m.resolution, m.maintenance_margin_ppm
    )
    price, r, f = prices[market_id], m.resolution, m.maintenance_margin_ppm
    if pos.size > 0:
        num = (pos.size * price - (totals.equity - others_mmr) * r) * PPM
        den = pos.size * (PPM - f)
        return ceil_div(num, den) if num > 0 else None
    q = -pos.size
    num = ((totals.equity - others_mmr) * r + q * price) * PPM
    den = q * (PPM + f)
    return num // den if num > 0 else 0
