"""Deposit (stark-perpetual `transactions/deposit.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.outputs import Modification, Output
from perpetua.rollup.position import update_position
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.common import check_amount, check_position_id


@dataclass(frozen=True, slots=True)
class Deposit:
    """Collateral deposited on L1 for a position (the L1 contract checked the depositor)."""

    position_id: int
    public_key: int
    """The STARK key the deposit was made for: it must own the position, or claim it if empty."""
    amount: int
    """Collateral quantums, 0 <= amount < 2^64."""


def apply_deposit(state: RollupState, tx: Deposit, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Credit `amount` collateral to the position after settling its funding.

    Rules: amount and position id in range; the key owns the position or the position is empty;
    the update is a valid position transition (always true for a credit).
    Outputs: a modification (+amount) that L1 settles against the pending deposit.
    """
    check_position_id("position_id", tx.position_id)
    check_amount("amount", tx.amount)
    _, updated = update_position(state.position(tx.position_id), tx.public_key, tx.amount, None, 0,
                                 state.funding_indices, state.oracle_prices, ctx.config)
    new = state.with_changes(positions={tx.position_id: updated})
    return new, [Modification(tx.position_id, tx.public_key, tx.amount)]
