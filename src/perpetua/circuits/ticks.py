"""The batch's global rules, checked natively on public data.

A batch's globals (funding indices and timestamp, oracle prices, system time) are public: they
start where the previous batch's payload left them (the statement claims them, and the fact
service chains them batch to batch) and end in this batch's payload. Every rule that involves only
them and the transactions is checked here by running the rollup's own functions on a state that
holds the globals and no position:

- FundingTick: not before the system time, asset ids strictly increasing and covering every funded
  asset, indices in range, the funding-rate cap against the oracle price and the elapsed time;
- OraclePricesTick: not before the system time, asset ids strictly increasing, prices in range,
  every signed price inside [batch start - price validity period, tick time] (the start is the
  claimed starting system time), quorum, known signers and median (and their signatures);
- every other transaction: the funding indices are not stale (`check_funding_fresh`).

An eager FundingTick's settlements touch positions: the arithmetic circuit proves them, so the
globals-only replay runs in lazy mode. What a position update does with the globals is the
circuit's (`position_update.py`).
"""

from __future__ import annotations

from dataclasses import replace

from perpetua.rollup.apply import apply, check_funding_fresh
from perpetua.rollup.batch import Batch, decode_diff
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.errors import InvalidTransaction
from perpetua.rollup.state import BatchContext, RollupState, SignatureMemo
from perpetua.rollup.transactions.funding_tick import FundingTick
from perpetua.rollup.transactions.oracle_prices_tick import OraclePricesTick


class TickError(ValueError):
    """A tick or a transaction breaks a rule of the batch's globals."""


def replay_globals(batch: Batch, config: GeneralConfig, start: RollupState,
                   memo: SignatureMemo | None = None) -> RollupState:
    """Run the batch's ticks on `start` (globals only), check every other transaction's funding
    freshness, and require the end globals to be exactly the payload's; returns the end state."""
    ctx = BatchContext(replace(config, insurance_fund_position_id=None), signatures=memo or SignatureMemo(),
                       batch_start_system_time=start.system_time)
    state = start
    for i, tx in enumerate(batch.txs):
        try:
            if isinstance(tx, FundingTick | OraclePricesTick):
                state, _ = apply(state, tx, ctx)
            else:
                check_funding_fresh(state, ctx)
        except InvalidTransaction as e:
            raise TickError(f"tx {i} ({type(tx).__name__}): {e}") from e
    diff = decode_diff(batch.payload)
    end = (dict(diff.funding_indices), diff.funding_timestamp, dict(diff.oracle_prices), diff.system_time)
    if end != (state.funding_indices, state.funding_timestamp, state.oracle_prices, state.system_time):
        raise TickError("the globals after the batch's ticks are not the payload's")
    return state


def globals_state(funding_indices: dict[int, int], funding_timestamp: int, oracle_prices: dict[int, int],
                  system_time: int) -> RollupState:
    """A state holding only globals (the replay's start)."""
    return RollupState(funding_indices=dict(sorted(funding_indices.items())), funding_timestamp=funding_timestamp,
                       oracle_prices=dict(sorted(oracle_prices.items())), system_time=system_time)
