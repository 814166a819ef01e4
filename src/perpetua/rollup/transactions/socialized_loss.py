"""SocializedLoss: a bankrupt position's negative balance charged to the other side (Perpetua-specific).

StarkEx has no transaction for this: its answer to a loss the insurance fund cannot cover is
`Deleverage`. The exchange's socialized-loss mode (`ExchangeConfig.socialized_loss`, off by default,
docs/liquidations.md) instead lets fills below bankruptcy proceed and charges what remains of the
account's negative balance, once its positions are closed, to the holders of the other side of the
market, pro rata to size. The rollup recomputes the split from its own state, so the transaction
carries only what the exchange decided:

0. The rollup runs in socialized-loss mode (`RollupConfig.socialized_loss`): with the mode off
   every fill below bankruptcy was covered by the fund, so no loss is left to charge and nobody's
   collateral may be taken this way.
1. The bankrupt position is neither the insurance fund nor the fee position; after funding it holds
   no synthetic asset and its collateral is negative; `amount` is exactly minus that collateral.
2. The payers are every position holding `synthetic_asset_id` on the charged side (long when
   `payers_long`), in position-id order; their total holding is > 0.
3. Each payer pays floor(amount * |balance| / total); the rest of `amount` is paid by the largest
   holder (lowest id first among equals), so collateral is conserved exactly. A payer may end up
   liquidatable (the exchange liquidates it next); no risk check applies to the payers, only the
   balance range.
4. The bankrupt position ends at collateral 0 with no assets: empty.

Cost: one pass over the positions (as the exchange scans the market's holders).
"""

from __future__ import annotations

from dataclasses import dataclass

from perpetua.rollup.errors import ErrorCode, InvalidPositionUpdate
from perpetua.rollup.outputs import Output
from perpetua.rollup.position import Position, apply_funding, check_balance, maybe_empty
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.common import check_amount, check_position_id


@dataclass(frozen=True, slots=True)
class SocializedLoss:
    """Charge the bankrupt position's loss to the holders of one side of one asset."""

    bankrupt_position_id: int
    synthetic_asset_id: int
    payers_long: bool
    """True: the longs pay (the bankrupt position was short); False: the shorts pay."""
    amount: int


def apply_socialized_loss(state: RollupState, tx: SocializedLoss,
                          ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Charge the loss (rules in the module docstring)."""
    config = ctx.config
    pid, asset = tx.bankrupt_position_id, tx.synthetic_asset_id
    check_position_id("bankrupt_position_id", pid)
    check_amount("amount", tx.amount)
    if not config.socialized_loss:
        raise InvalidPositionUpdate(ErrorCode.INVALID_SOCIALIZED_LOSS,
                                    "the rollup is not in socialized-loss mode (RollupConfig.socialized_loss)",
                                    position_id=pid)
    if pid in (config.insurance_fund_position_id, config.fee_position_id):
        raise InvalidPositionUpdate(ErrorCode.INVALID_LIQUIDATION_PARTY, "the fund and the fee position are never bankrupt",
                                    position_id=pid)
    bankrupt = apply_funding(state.position(pid), state.funding_indices)
    if bankrupt.assets or bankrupt.collateral >= 0 or tx.amount != -bankrupt.collateral:
        raise InvalidPositionUpdate(ErrorCode.INVALID_SOCIALIZED_LOSS,
                                    "only the negative balance of a position with no assets is socialized",
                                    position_id=pid, collateral=bankrupt.collateral, n_assets=len(bankrupt.assets),
                                    amount=tx.amount)
    payers = sorted((p, position) for p, position in state.positions.items()
                    if (position.balance(asset) > 0) == tx.payers_long and position.balance(asset) != 0)
    total = sum(abs(position.balance(asset)) for _, position in payers)
    if total == 0:
        raise InvalidPositionUpdate(ErrorCode.INVALID_SOCIALIZED_LOSS, "nobody holds the charged side",
                                    asset_id=asset, payers_long=tx.payers_long)
    changes: dict[int, Position] = {}
    charged = 0
    for p, position in payers:
        share = tx.amount * abs(position.balance(asset)) // total
        charged += share
        changes[p] = position if share == 0 else _charge(position, share)
    largest = max(payers, key=lambda item: (abs(item[1].balance(asset)), -item[0]))[0]
    changes[largest] = _charge(changes[largest], tx.amount - charged)
    changes[pid] = maybe_empty(bankrupt.public_key, 0, ())
    return state.with_changes(positions=changes), []


def _charge(position: Position, amount: int) -> Position:
    collateral = position.collateral - amount
    check_balance(collateral, "collateral after a socialized loss")
    return Position(position.public_key, collateral, position.assets)
