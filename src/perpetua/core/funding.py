"""Funding settlement against global funding indices, exactly as StarkEx does it.

A funding index is signed 32.32 fixed point: collateral quantums per synthetic quantum, times 2^32.
When the index of a market rises by d, a position of size s owes d * s / 2^32 collateral quantums
(longs pay when the index rises). Settlement happens before any change to a position and rounds
once per account: collateral * 2^32 - sum((global - cached) * size), floor-divided by 2^32, so
settlement never creates collateral. The rate that moves the indices comes with the funding module
of the prices issue; here the indices are inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

from perpetua.core.accounts import Account

FUNDING_INDEX_ONE = 1 << 32
"""1.0 in the 32.32 fixed-point funding index."""


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
