"""FundingTick (stark-perpetual v1 `transactions/funding_tick.cairo`), and Perpetua's eager settlement.

StarkEx settles funding lazily: a tick only moves the global indices, and a position pays or
receives on its next update (`position.apply_funding`, one floor over all its assets). The
exchange settles eagerly: at each tick, every position of the market pays
floor((cached - new) * balance / 2^32) and the insurance fund receives what the floors left over
(core/funding.py). A rollup that settled lazily would floor differently (once per position over
several ticks and assets) and leave the rounding with nobody, so balances would drift apart.
With `config.insurance_fund_position_id` set, the tick does what the exchange does
(`settle_all`); the lazy rule then never has work, since every cached index is current.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from perpetua.rollup.constants import FUNDING_INDEX_LOWER_BOUND, FUNDING_INDEX_UPPER_BOUND, FXP_32_ONE
from perpetua.rollup.errors import ErrorCode, InvalidFunding
from perpetua.rollup.outputs import FundingIndicesPosted, Output
from perpetua.rollup.position import Position, PositionAsset, check_balance, maybe_empty
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class FundingTick:
    """New global funding indices, as of `funding_timestamp` (seconds)."""

    funding_timestamp: int
    indices: tuple[tuple[int, int], ...]
    """(asset id, index 32.32), asset ids strictly increasing."""


def apply_funding_tick(state: RollupState, tx: FundingTick, ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Rules: system_time <= funding_timestamp; asset ids strictly increasing and covering every
    asset of the previous indices; each |index| < 2^63; for each previous asset (which must have
    an oracle price): |delta_index| * 2^32 <= max_funding_rate * price * delta_t. The tick sets
    system_time = funding_timestamp. Outputs the indices (L1 escapes need them). In eager mode
    (`config.insurance_fund_position_id` set) it then settles every position (`settle_all`).
    """
    if tx.funding_timestamp < state.system_time:
        raise InvalidFunding(ErrorCode.INVALID_FUNDING_TICK_TIMESTAMP, "funding timestamp before system time",
                             funding_timestamp=tx.funding_timestamp, system_time=state.system_time)
    new = dict(tx.indices)
    ids = [asset for asset, _ in tx.indices]
    if any(b <= a for a, b in itertools.pairwise(ids)):
        raise InvalidFunding(ErrorCode.INVALID_FUNDING_ASSETS, "asset ids must be strictly increasing", asset_ids=ids)
    for asset, index in tx.indices:
        if not FUNDING_INDEX_LOWER_BOUND < index < FUNDING_INDEX_UPPER_BOUND:
            raise InvalidFunding(ErrorCode.OUT_OF_RANGE_FUNDING_INDEX, "index out of range", asset_id=asset, index=index)
        if asset not in ctx.config.synthetic_assets:
            raise InvalidFunding(ErrorCode.MISSING_SYNTHETIC_ASSET_ID, "asset not in config", asset_id=asset)
    dt = tx.funding_timestamp - state.funding_timestamp
    for asset, old in state.funding_indices.items():
        if asset not in new:
            raise InvalidFunding(ErrorCode.INVALID_FUNDING_ASSETS, "tick drops an asset", asset_id=asset)
        price = state.oracle_prices.get(asset)
        if price is None:
            raise InvalidFunding(ErrorCode.MISSING_ORACLE_PRICE, "funded asset has no oracle price", asset_id=asset)
        delta = abs(new[asset] - old)
        if delta * FXP_32_ONE > ctx.config.max_funding_rate * price * dt:
            raise InvalidFunding(ErrorCode.INVALID_FUNDING_RATE, "funding rate above the maximum", asset_id=asset,
                                 delta_index=delta, price=price, delta_t=dt,
                                 max_funding_rate=ctx.config.max_funding_rate)
    out = replace(state, funding_indices=new, funding_timestamp=tx.funding_timestamp,
                  system_time=tx.funding_timestamp)
    fund = ctx.config.insurance_fund_position_id
    if fund is not None:
        out = settle_all(out, fund, ctx.config.insurance_fund_public_key)
    return out, [FundingIndicesPosted(tx.funding_timestamp, tx.indices)]


def settle_all(state: RollupState, fund_position_id: int, fund_public_key: int) -> RollupState:
    """Eager settlement at the global indices (the exchange's arithmetic, core/funding.py).

    For every position and every asset whose cached index differs from the global one:
    collateral += floor((cached - global) * balance / 2^32) and cached = global. The amounts sum to
    -R (R >= 0 when longs and shorts balance); R is credited to the insurance-fund position (created
    with `fund_public_key` when empty) after all positions, so the fund's own holdings settle like
    any other. One pass over the positions: O(positions) per tick, as on the exchange.

    Raises:
        InvalidPositionUpdate: OUT_OF_RANGE_BALANCE when a collateral leaves its range.
    """
    indices = state.funding_indices
    changes: dict[int, Position] = {}
    total = 0
    one = FXP_32_ONE
    for pid, position in state.positions.items():
        assets = position.assets
        if not assets:
            continue
        settled: list[PositionAsset] | None = None
        collateral = position.collateral
        for i, asset in enumerate(assets):
            index = indices.get(asset.asset_id, asset.cached_funding_index)
            if index != asset.cached_funding_index:
                amount = (asset.cached_funding_index - index) * asset.balance // one
                collateral += amount
                total += amount
                if settled is None:
                    settled = list(assets)
                settled[i] = PositionAsset(asset.asset_id, asset.balance, index)
        if settled is not None:
            check_balance(collateral, "collateral after funding")
            changes[pid] = Position(position.public_key, collateral, tuple(settled))
    if total:
        fund = changes.get(fund_position_id, state.position(fund_position_id))
        key = fund.public_key if not fund.is_empty else fund_public_key
        check_balance(fund.collateral - total, "insurance fund collateral after funding")
        changes[fund_position_id] = maybe_empty(key, fund.collateral - total, fund.assets)
    return state.with_changes(positions=changes) if changes else state
