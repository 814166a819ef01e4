"""FundingTick (stark-perpetual v1 `transactions/funding_tick.cairo`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from perpetua.rollup.constants import FUNDING_INDEX_LOWER_BOUND, FUNDING_INDEX_UPPER_BOUND, FXP_32_ONE
from perpetua.rollup.errors import ErrorCode, InvalidFunding
from perpetua.rollup.outputs import FundingIndicesPosted, Output
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
    system_time = funding_timestamp. Outputs the indices (L1 escapes need them).
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
    return out, [FundingIndicesPosted(tx.funding_timestamp, tx.indices)]
