"""ConditionalTransfer (stark-perpetual v1 `transactions/conditional_transfer.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.crypto.messages import Transfer as TransferMessage
from perpetua.crypto.signatures import Signature
from perpetua.rollup.errors import ErrorCode, InvalidOrder
from perpetua.rollup.outputs import ConditionUsed, Output
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.transfer import transfer_changes


@dataclass(frozen=True, slots=True)
class ConditionalTransfer:
    """A transfer that executes only if its condition (an L1 fact) is registered."""

    message: TransferMessage
    sender_public_key: int
    signature: Signature


def apply_conditional_transfer(state: RollupState, tx: ConditionalTransfer,
                               ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """As a transfer (type 5 hash, which includes the condition), and the condition must be
    registered on L1 (`ctx.registered_conditions`). Outputs the condition, which L1 re-checks.
    """
    condition = tx.message.condition
    if condition is None or condition not in ctx.registered_conditions:
        raise InvalidOrder(ErrorCode.UNREGISTERED_CONDITION, "condition not registered on L1",
                           condition=condition)
    positions, orders = transfer_changes(state, tx.message, tx.sender_public_key, tx.signature, ctx)
    return state.with_changes(positions=positions, orders=orders), [ConditionUsed(condition)]
