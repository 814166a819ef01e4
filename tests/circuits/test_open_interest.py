"""Open interest in the statement: it shows that a list of positions is *every* holder. A
SocializedLoss is checked natively on its claimed states (every payer listed, the rollup's own
charge), and an eager FundingTick must settle every holder of an asset whose index moved; leaving
a holder out, or charging a payer wrongly, is refused."""

from __future__ import annotations

import dataclasses

import pytest

from perpetua.circuits.statement import Statement, StatementError, build_statement, open_interest, records
from perpetua.rollup.batch import Batcher
from perpetua.rollup.state import BatchContext
from tests.circuits.test_arithmetic import _funding_batch
from tests.circuits.test_coverage import SOCIALIZED, _socialized_loss_batch
from tests.rollup.helpers import BTC, CONFIG, NOW_H, funded_state, trade

A = BTC.synthetic_asset_id
USD = 10**6
ASSETS = tuple(sorted(CONFIG.synthetic_assets))
SLOT = ASSETS.index(A)


def test_open_interest_sums_long_and_short_balances() -> None:
    state = funded_state((10, 10**12), (11, 10**12), (12, 10**12))
    batcher = Batcher(state, BatchContext(CONFIG, min_expiration_hours=NOW_H))
    batcher.submit(trade(10, 11, 3 * 10**8, 12_000 * USD))
    batcher.submit(trade(12, 11, 10**8, 4_000 * USD, nonce=2))
    long, short = open_interest(batcher.state.positions.items(), ASSETS)
    assert long[SLOT] == short[SLOT] == 4 * 10**8  # 10 and 12 long, 11 short: every trade has two sides
    statement = build_statement(state, batcher.cut(), CONFIG)
    assert statement.open_long[SLOT] == statement.open_short[SLOT] == 0  # the batch's start
    again, _ = Statement.from_bytes(statement.to_bytes())
    assert again == statement


def test_a_socialized_loss_is_checked_natively_and_lists_every_payer() -> None:
    old, batch = _socialized_loss_batch()
    statement = build_statement(old, batch, SOCIALIZED)
    checked = records(statement, batch, SOCIALIZED)
    payers = [pid for pid, p in old.positions.items() if p.balance(A) < 0]
    assert payers and {c.position_id for c in statement.opaque} == {10, *payers}
    assert checked.open_short == statement.open_short  # collateral moves, balances do not


def test_leaving_a_payer_out_is_refused() -> None:
    old, batch = _socialized_loss_batch()
    statement = build_statement(old, batch, SOCIALIZED)
    payer = next(c for c in statement.opaque if c.position_id != 10)
    without = dataclasses.replace(statement, opaque=tuple(c for c in statement.opaque if c is not payer))
    with pytest.raises(StatementError, match="not every holder of the charged side"):
        records(without, batch, SOCIALIZED)
    # (lowering the claimed open interest instead is refused by the fact service, which chains it
    # from batch to batch: tests/circuits/test_arithmetic.py)


def test_a_wrong_charge_is_refused() -> None:
    old, batch = _socialized_loss_batch()
    statement = build_statement(old, batch, SOCIALIZED)
    for d in (-1, 1):
        bent = tuple(c if c.position_id == 10 else dataclasses.replace(
            c, after=dataclasses.replace(c.after, collateral=c.after.collateral + d)) for c in statement.opaque)
        with pytest.raises(StatementError, match="does not end as the socialized loss charges it"):
            records(dataclasses.replace(statement, opaque=bent), batch, SOCIALIZED)


def test_a_claim_listed_twice_is_refused() -> None:
    old, batch = _socialized_loss_batch()
    statement = build_statement(old, batch, SOCIALIZED)
    with pytest.raises(StatementError, match="claimed twice"):
        records(dataclasses.replace(statement, opaque=statement.opaque + statement.opaque[-1:]), batch, SOCIALIZED)


def test_an_eager_tick_must_settle_every_holder() -> None:
    old, batch = _funding_batch(CONFIG)
    statement = build_statement(old, batch, CONFIG)  # type: ignore[arg-type]
    records(statement, batch, CONFIG)  # type: ignore[arg-type]
    fund = CONFIG.insurance_fund_position_id
    tick = next(i for i, tx in enumerate(batch.txs) if type(tx).__name__ == "FundingTick")  # type: ignore[attr-defined]
    settled = [c for c in statement.claims if c.tx_index == tick and c.position_id != fund]
    assert len(settled) >= 2
    for left_out in settled:
        claims = tuple(c for c in statement.claims if c is not left_out)
        with pytest.raises(StatementError, match="does not settle every holder"):
            records(dataclasses.replace(statement, claims=claims), batch, CONFIG)  # type: ignore[arg-type]
