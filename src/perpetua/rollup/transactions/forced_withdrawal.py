"""ForcedWithdrawal (stark-perpetual v1 `transactions/forced_withdrawal.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.errors import ErrorCode, InvalidTransaction
from perpetua.rollup.outputs import ForcedActionResult, Modification, Output
from perpetua.rollup.position import update_position
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.common import check_amount


@dataclass(frozen=True, slots=True)
class ForcedWithdrawal:
    """A withdrawal requested on L1 (the contract authenticated the owner)."""

    position_id: int
    public_key: int
    amount: int
    is_valid: bool
    """The operator's verdict: executed, or included as failed."""


def apply_forced_withdrawal(state: RollupState, tx: ForcedWithdrawal,
                            ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """The operator must serve every forced request: execute it, or include it as failed, and the
    verdict must be true: `is_valid` iff the withdrawal is a valid position update.
    """
    check_amount("amount", tx.amount)
    try:
        _, updated = update_position(state.position(tx.position_id), tx.public_key, -tx.amount, None, 0,
                                     state.funding_indices, state.oracle_prices, ctx.config)
    except InvalidTransaction:
        if tx.is_valid:
            raise
        return state, [ForcedActionResult("withdrawal", tx.position_id, executed=False)]
    if not tx.is_valid:
        raise InvalidTransaction(ErrorCode.INVALID_FORCED_ACTION, "a valid forced withdrawal was marked failed",
                                 position_id=tx.position_id, amount=tx.amount)
    new = state.with_changes(positions={tx.position_id: updated})
    return new, [Modification(tx.position_id, tx.public_key, -tx.amount),
                 ForcedActionResult("withdrawal", tx.position_id, executed=True)]
