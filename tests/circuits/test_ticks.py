"""The batch's global rules, checked natively by the verifier on public data (`circuits/ticks.py`):
an honest batch with ticks passes; a batch an operator made by skipping one rule of `apply()` (a
stale signed oracle price, a funding rate above the cap, a tick back in time, trading on stale
funding indices) is refused; the Batcher itself now enforces the oracle window from the batch's
start."""

from __future__ import annotations

import dataclasses

import pytest

from perpetua.circuits.arithmetic import prove_arithmetic
from perpetua.circuits.statement import Statement, StatementError, build_statement, records
from perpetua.rollup.adapter import dev_oracle_signer
from perpetua.rollup.batch import Batch, Batcher
from perpetua.rollup.config import GeneralConfig, internal_price
from perpetua.rollup.constants import EXTERNAL_PRICE_ONE
from perpetua.rollup.errors import ErrorCode, InvalidTransaction
from perpetua.rollup.state import RollupState
from perpetua.rollup.transactions.funding_tick import FundingTick
from perpetua.rollup.transactions.oracle_prices_tick import AssetOraclePrice, OraclePricesTick
from tests.rollup.helpers import BTC, CONFIG, ETH, EXCHANGE, NOW_S, context, funded_state, trade

BTC_ID, ETH_ID = BTC.synthetic_asset_id, ETH.synthetic_asset_id
SIGNER = dev_oracle_signer(EXCHANGE)
BTC1 = 10**10
COST = 40_000 * 10**6


def oracle_tick(at_s: int, usd: int, signed_at_s: int | None = None) -> OraclePricesTick:
    """BTC at `usd` dollars, signed by the dev oracles at `signed_at_s` (default: the tick's time)."""
    price = usd * 10**6
    signed = SIGNER(BTC.market_id, price * EXTERNAL_PRICE_ONE // 10**6, at_s if signed_at_s is None else signed_at_s)
    return OraclePricesTick(at_s, (AssetOraclePrice(BTC_ID, internal_price(price, BTC.resolution), signed),))


def funding_tick(at_s: int, btc_index: int) -> FundingTick:
    return FundingTick(at_s, tuple(sorted({BTC_ID: btc_index, ETH_ID: 0}.items())))


def max_index(state: RollupState, dt: int, config: GeneralConfig = CONFIG) -> int:
    """The largest BTC index move the funding-rate cap allows over `dt` seconds."""
    return config.max_funding_rate * state.oracle_prices[BTC_ID] * dt // 2**32


def batches(txs: list[object], config: GeneralConfig = CONFIG, *, window_from_zero: bool = False,
            first: list[object] | None = None) -> tuple[RollupState, Batch]:
    """Cut a batch of `first` (moving the system time), then the batch of `txs` under test. With
    `window_from_zero` the operator skips the oracle window's lower edge (as before the Batcher
    set it)."""
    batcher = Batcher(funded_state((10, 10**12), (11, 10**12)), dataclasses.replace(context(), config=config))
    for tx in first or []:
        batcher.submit(tx)  # type: ignore[arg-type]
    batcher.cut()
    old = batcher.state
    if window_from_zero:
        batcher.context = dataclasses.replace(batcher.context, batch_start_system_time=0)
    for tx in txs:
        batcher.submit(tx)  # type: ignore[arg-type]
    return old, batcher.cut()


def check(old: RollupState, batch: Batch, config: GeneralConfig = CONFIG, *, made_with: GeneralConfig | None = None) -> None:
    """The verifier's native pass under `config` over the statement an operator built from `old`
    under `made_with` (its own, possibly laxer, rules); no proof needed: `verify_arithmetic` runs
    `records` before it reads the proof."""
    records(build_statement(old, batch, made_with or config), batch, config)


DAY = 86_400


def test_an_honest_batch_of_ticks_and_trades_passes_and_its_start_is_in_the_statement() -> None:
    later = NOW_S + 3_600
    old, batch = batches([trade(10, 11, BTC1, COST), oracle_tick(later, 39_000, signed_at_s=later - 60),
                          funding_tick(later + 10, 1_000), trade(11, 10, BTC1, COST, nonce=2)])
    statement = build_statement(old, batch, CONFIG)
    assert (statement.system_time, statement.funding_timestamp, statement.funded) == (NOW_S, NOW_S, (BTC_ID, ETH_ID))
    again, _ = Statement.from_bytes(statement.to_bytes())
    assert again == statement
    records(statement, batch, CONFIG)


def test_the_batcher_enforces_the_oracle_window_from_the_batch_start() -> None:
    # The first batch moves the system time two days on; a price signed before (start - 1 day) is stale.
    moved = NOW_S + 2 * DAY
    with pytest.raises(InvalidTransaction) as info:
        batches([oracle_tick(moved + 5, 39_000, signed_at_s=moved - DAY - 1)],
                first=[funding_tick(moved, 0)])
    assert info.value.code is ErrorCode.ORACLE_TIMESTAMP_OUT_OF_WINDOW
    batches([oracle_tick(moved + 5, 39_000, signed_at_s=moved - DAY)], first=[funding_tick(moved, 0)])


def test_a_stale_signed_price_is_refused_by_the_verifier() -> None:
    moved = NOW_S + 2 * DAY
    old, batch = batches([oracle_tick(moved + 5, 39_000, signed_at_s=moved - DAY - 1)],
                         first=[funding_tick(moved, 0)], window_from_zero=True)
    with pytest.raises(StatementError, match="outside the window"):
        check(old, batch)


def test_a_claimed_start_time_is_what_the_window_starts_from() -> None:
    # The same stale price "passes" only if the statement claims an earlier start: the fact service
    # chains the start to the previous batch's payload (tests/circuits/test_arithmetic.py).
    moved = NOW_S + 2 * DAY
    old, batch = batches([oracle_tick(moved + 5, 39_000, signed_at_s=moved - DAY - 1)],
                         first=[funding_tick(moved, 0)], window_from_zero=True)
    statement = dataclasses.replace(build_statement(old, batch, CONFIG), system_time=NOW_S)
    records(statement, batch, CONFIG)
    with pytest.raises(StatementError, match="outside the window"):
        records(dataclasses.replace(statement, system_time=moved), batch, CONFIG)


def test_a_funding_rate_above_the_cap_is_refused() -> None:
    lax = dataclasses.replace(CONFIG, max_funding_rate=CONFIG.max_funding_rate * 2)
    state = funded_state()
    cap = max_index(state, 3_600)
    old, batch = batches([funding_tick(NOW_S + 3_600, cap)], lax)
    check(old, batch)  # at the cap: fine under the real config too
    old, batch = batches([funding_tick(NOW_S + 3_600, cap + 2**10)], lax)
    check(old, batch, lax)
    with pytest.raises(StatementError, match="funding rate above the maximum"):
        check(old, batch, made_with=lax)


def test_a_tick_back_in_time_is_refused() -> None:
    # an operator whose clock went back: its own rollup refuses it, and so does the verifier when the
    # statement claims the true start
    old, batch = batches([oracle_tick(NOW_S + 100, 39_000)])
    statement = build_statement(old, batch, CONFIG)
    records(statement, batch, CONFIG)
    with pytest.raises(StatementError, match="tick before system time"):
        records(dataclasses.replace(statement, system_time=NOW_S + 101), batch, CONFIG)


def test_trading_on_stale_funding_indices_is_refused() -> None:
    lax = dataclasses.replace(CONFIG, funding_validity_period_s=10**9)
    late = NOW_S + CONFIG.funding_validity_period_s + 1
    old, batch = batches([oracle_tick(late, 40_000), trade(10, 11, BTC1, COST)], lax)
    check(old, batch, lax)
    with pytest.raises(StatementError, match="stale"):
        check(old, batch, made_with=lax)


def test_end_times_must_be_the_payloads() -> None:
    old, batch = batches([oracle_tick(NOW_S + 100, 39_000)])
    statement = build_statement(old, batch, CONFIG)
    # one second later at the start and no tick would move the time: the payload's time is not reached
    plain_old, plain = batches([trade(10, 11, BTC1, COST)])
    plain_statement = build_statement(plain_old, plain, CONFIG)
    with pytest.raises(StatementError, match="not the payload's"):
        records(dataclasses.replace(plain_statement, system_time=NOW_S - 1), plain, CONFIG)
    with pytest.raises(StatementError, match="not the payload's"):
        records(dataclasses.replace(plain_statement, funded=(BTC_ID,)), plain, CONFIG)
    records(statement, batch, CONFIG)


def test_the_prover_refuses_a_batch_with_a_stale_price() -> None:
    # The prover runs the same native pass (`records`) before it proves: there is no proof to make.
    moved = NOW_S + 2 * DAY
    old, batch = batches([oracle_tick(moved + 5, 39_000, signed_at_s=moved - DAY - 1), trade(10, 11, BTC1, COST)],
                         first=[funding_tick(moved, 0)], window_from_zero=True)
    with pytest.raises(StatementError, match="outside the window"):
        prove_arithmetic(old, batch, CONFIG)


def test_an_unfunded_asset_must_claim_index_zero() -> None:
    # the rows read the statement's index list as it is: an index claimed for an asset that has
    # none (a value no tick set) is refused, not carried into the rows
    old, batch = batches([trade(10, 11, BTC1, COST)])
    statement = build_statement(old, batch, CONFIG)
    assets = sorted(CONFIG.synthetic_assets)
    unfunded = next(k for k, a in enumerate(assets) if a not in statement.funded)
    indices = list(statement.indices)
    indices[unfunded] = 5
    with pytest.raises(StatementError, match="funded assets do not match"):
        records(dataclasses.replace(statement, indices=tuple(indices)), batch, CONFIG)
