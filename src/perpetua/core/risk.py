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
from perpetua.core.funding import FUNDING_INDEX_ONE
from perpetua.core.markets import Market
from perpetua.core.quantities import PPM, ceil_div


def position_value(size: int, price: int, resolution: int) -> int:
    """Signed value in collateral quantums, floored (toward minus infinity)."""
    return size * price // resolution


def margin_requirement(abs_size: int, price: int, resolution: int, fraction_ppm: int) -> int:
    """Requirement in collateral quantums, ceiled."""
    return ceil_div(abs_size * price * fraction_ppm, resolution * PPM)


AccountTotals = tuple[int, int, int]
"""(equity TV, initial requirement IMR, maintenance requirement MMR) in collateral quantums: the three
numbers every margin decision needs. A plain tuple: fills compute two of these each."""


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
    ``market_id`` and ``collateral_delta`` to its collateral (how a fill is judged before it happens).

    Hot path (every fill runs it): one loop, no helper calls but the IMF; same arithmetic as
    ``position_value``, ``margin_requirement`` and ``funding.unsettled_funding``.
    """
    equity = account.collateral + collateral_delta
    imr = mmr = 0
    owed = 0
    seen = market_id is None
    for mid, pos in account.positions.items():
        size = pos.size
        delta_index = funding_indices[mid] - pos.funding_index
        if delta_index:
            owed -= delta_index * size
        if mid == market_id:
            size += size_delta
            seen = True
        if size:
            m = markets[mid]
            price = prices[mid]
            r = m.resolution
            equity += size * price // r
            a = size if size > 0 else -size
            imf = m.initial_margin_ppm if a <= m.baseline_position_size else m.initial_margin_fraction_ppm(a)
            den = r * PPM
            imr -= (-a * price * imf) // den
            mmr -= (-a * price * m.maintenance_margin_ppm) // den
    if owed:
        equity += owed // FUNDING_INDEX_ONE
    if not seen and size_delta:
        assert market_id is not None
        m = markets[market_id]
        price = prices[market_id]
        equity += size_delta * price // m.resolution
        a = abs(size_delta)
        imr += margin_requirement(a, price, m.resolution, m.initial_margin_fraction_ppm(a))
        mmr += margin_requirement(a, price, m.resolution, m.maintenance_margin_ppm)
    return equity, imr, mmr


def is_valid_trade(before: AccountTotals, after: AccountTotals, size_before: int, size_after: int) -> bool:
    """The StarkEx trade rule, with dYdX's initial margin as the bar for new risk.

    A trade is allowed if the account ends at or above its initial requirement; otherwise only if it
    reduces risk: the position shrinks without flipping (same sign, smaller or zero), and the ratio
    TV / MMR does not fall (compared cross-multiplied: tv0 * mmr1 <= tv1 * mmr0, exact for any sign);
    when there was no requirement before, TV must not fall.
    """
    tv0, _, mmr0 = before
    tv1, imr1, mmr1 = after
    if tv1 >= imr1:
        return True
    if size_before > 0:
        shrinks = 0 <= size_after < size_before
    elif size_before < 0:
        shrinks = size_before < size_after <= 0
    else:
        shrinks = False
    if not shrinks:
        return False
    if mmr0 == 0:
        return tv1 >= tv0
    return tv0 * mmr1 <= tv1 * mmr0


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
    tv, imr, mmr = account_totals(account, markets, prices, funding_indices)
    notional = sum(
        abs(p.size) * prices[mid] // markets[mid].resolution for mid, p in account.positions.items()
    )
    return MarginSummary(
        equity=tv,
        notional=notional,
        initial_requirement=imr,
        maintenance_requirement=mmr,
        free_collateral=tv - imr,
        margin_ratio_ppm=ceil_div(mmr * PPM, tv) if tv > 0 else None,
        leverage_ppm=notional * PPM // tv if tv > 0 else None,
        liquidatable=tv < mmr,
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
    equity, _, mmr = account_totals(account, markets, prices, funding_indices)
    others_mmr = mmr - margin_requirement(abs(pos.size), prices[market_id], m.resolution, m.maintenance_margin_ppm)
    price, r, f = prices[market_id], m.resolution, m.maintenance_margin_ppm
    if pos.size > 0:
        num = (pos.size * price - (equity - others_mmr) * r) * PPM
        den = pos.size * (PPM - f)
        return ceil_div(num, den) if num > 0 else None
    q = -pos.size
    num = ((equity - others_mmr) * r + q * price) * PPM
    den = q * (PPM + f)
    return num // den if num > 0 else 0
