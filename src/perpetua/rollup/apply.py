"""The state transition: `apply(state, tx, ctx) -> (state, outputs)`, routed on the type.

As StarkEx's `execute_batch.cairo`: every transaction but a FundingTick requires fresh funding,
system_time <= funding_timestamp + funding_validity_period. A refused transaction raises an
`InvalidTransaction` subclass and the input state is unchanged (states are immutable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from perpetua.rollup.errors import ErrorCode, InvalidFunding, InvalidTransaction
from perpetua.rollup.outputs import Output
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.conditional_transfer import ConditionalTransfer, apply_conditional_transfer
from perpetua.rollup.transactions.deleverage import Deleverage, apply_deleverage
from perpetua.rollup.transactions.deposit import Deposit, apply_deposit
from perpetua.rollup.transactions.forced_trade import ForcedTrade, apply_forced_trade
from perpetua.rollup.transactions.forced_withdrawal import ForcedWithdrawal, apply_forced_withdrawal
from perpetua.rollup.transactions.funding_tick import FundingTick, apply_funding_tick
from perpetua.rollup.transactions.liquidate import Liquidate, apply_liquidate
from perpetua.rollup.transactions.liquidation_close import LiquidationClose, apply_liquidation_close
from perpetua.rollup.transactions.oracle_prices_tick import OraclePricesTick, apply_oracle_prices_tick
from perpetua.rollup.transactions.socialized_loss import SocializedLoss, apply_socialized_loss
from perpetua.rollup.transactions.trade import Trade, apply_trade
from perpetua.rollup.transactions.transfer import Transfer, apply_transfer
from perpetua.rollup.transactions.withdrawal import Withdrawal, apply_withdrawal

Transaction = (
    Deposit | Withdrawal | Transfer | ConditionalTransfer | Trade | Liquidate | Deleverage | FundingTick
    | OraclePricesTick | ForcedWithdrawal | ForcedTrade | LiquidationClose | SocializedLoss
)

Handler = Callable[[RollupState, Any, BatchContext], tuple[RollupState, list[Output]]]

HANDLERS: dict[type, Handler] = {
    Deposit: apply_deposit,
    Withdrawal: apply_withdrawal,
    Transfer: apply_transfer,
    ConditionalTransfer: apply_conditional_transfer,
    Trade: apply_trade,
    Liquidate: apply_liquidate,
    Deleverage: apply_deleverage,
    FundingTick: apply_funding_tick,
    OraclePricesTick: apply_oracle_prices_tick,
    ForcedWithdrawal: apply_forced_withdrawal,
    ForcedTrade: apply_forced_trade,
    # Perpetua's own (docs/rollup.md, "Liquidations"):
    LiquidationClose: apply_liquidation_close,
    SocializedLoss: apply_socialized_loss,
}


def check_funding_fresh(state: RollupState, ctx: BatchContext) -> None:
    """Raises InvalidFunding(FUNDING_TOO_OLD) unless system_time <= funding_timestamp + validity."""
    limit = state.funding_timestamp + ctx.config.funding_validity_period_s
    if state.system_time > limit:
        raise InvalidFunding(ErrorCode.FUNDING_TOO_OLD, "funding indices are stale; a FundingTick is due",
                             system_time=state.system_time, funding_timestamp=state.funding_timestamp)


def apply(state: RollupState, tx: Transaction, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Apply one transaction; return the new state and its outputs.

    Raises:
        InvalidTransaction: (a subclass, with a stable `code`) when any rule fails.
    """
    handler = HANDLERS.get(type(tx))
    if handler is None:
        raise InvalidTransaction(ErrorCode.UNKNOWN_TRANSACTION, "unknown transaction type", type=type(tx).__name__)
    if type(tx) is not FundingTick:
        check_funding_fresh(state, ctx)
    return handler(state, tx, ctx)


def apply_all(state: RollupState, txs: Iterable[Transaction], ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Apply transactions in order (all or nothing: the first invalid one raises)."""
    outputs: list[Output] = []
    for tx in txs:
        state, out = apply(state, tx, ctx)
        outputs.extend(out)
    return state, outputs
