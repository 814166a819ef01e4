"""Coverage of ConditionalTransfer, ForcedWithdrawal, ForcedTrade and LiquidationClose by the
arithmetic circuit: honest batches prove with nothing opaque; each arithmetic rule, tampered in one
record (everything else consistent), has no witness; a cheating prover's proof fails (slow)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pytest

from perpetua.circuits.arithmetic import circuit_for, prove_arithmetic, verify_arithmetic
from perpetua.circuits.intarith import ArithmeticError_, IntAir, build_trace
from perpetua.circuits.position_update import PPM, UpdateRecord, public_values, row_values
from perpetua.circuits.statement import Statement, StatementError, build_statement, records
from perpetua.core.quantities import PPM as CORE_PPM
from perpetua.crypto.messages import hash_transfer
from perpetua.crypto.signatures import sign
from perpetua.rollup.batch import Batch, Batcher
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.conditional_transfer import ConditionalTransfer
from perpetua.rollup.transactions.forced_trade import ForcedTrade
from perpetua.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from perpetua.rollup.transactions.liquidation_close import DeleverageFill
from perpetua.rollup.transactions.socialized_loss import SocializedLoss
from perpetua.stark.errors import VerificationError
from perpetua.stark.prover import prove
from perpetua.stark.verifier import verify
from tests.rollup.helpers import (
    BTC,
    CONFIG,
    NOW_H,
    context,
    funded_state,
    key,
    order,
    private_key,
    transfer,
)
from tests.rollup.test_liquidation_txs import close, sell_fill
from tests.rollup.test_liquidation_txs import setup as liquidation_setup

USD = 10**6
HALF = 5 * 10**9
FUND = CONFIG.insurance_fund_position_id
assert FUND is not None
A = BTC.synthetic_asset_id
CIRCUIT = circuit_for(CONFIG)
SOCIALIZED = dataclasses.replace(CONFIG, socialized_loss=True)


def test_ppm_is_the_cores() -> None:
    assert PPM == CORE_PPM


def test_schema_degree_stays_within_five() -> None:
    """Degree 5 lets the arithmetic proof run at blowup 4 (`ARITHMETIC_OPTIONS`)."""
    assert CIRCUIT.schema.max_degree <= 5


# -- batches ---------------------------------------------------------------------------------------


def _cut(state: RollupState, txs: list[object], ctx: BatchContext | None = None) -> tuple[RollupState, Batch]:
    batcher = Batcher(state, ctx or context())
    for tx in txs:
        batcher.submit(tx)  # type: ignore[arg-type]
    return state, batcher.cut()


def _conditional(sender: int, receiver: int, amount: int, condition: int = 12345, nonce: int = 9) -> ConditionalTransfer:
    m = transfer(sender, receiver, amount, nonce=nonce, condition=condition)
    return ConditionalTransfer(m, key(sender), sign(private_key(sender), hash_transfer(m)))


def _liq_setup(fund: int = 0, price: int = 39_000) -> RollupState:
    """tests/rollup/test_liquidation_txs.py's: 10 long 1 BTC with 2,000 of cash at 40,000; price 39,000."""
    return liquidation_setup(fund, price)


_sell_fill = sell_fill
_close = close


def _batches() -> dict[str, tuple[RollupState, Batch, GeneralConfig]]:
    ctx_cond = context(registered_conditions=frozenset({12345}))
    out: dict[str, tuple[RollupState, Batch, GeneralConfig]] = {}
    rich = funded_state((20, 1_000 * USD), (21, 10 * USD), (5, 100 * USD))
    out["conditional transfer"] = (*_cut(rich, [_conditional(20, 21, 300 * USD)], ctx_cond), CONFIG)
    out["forced withdrawal"] = (*_cut(rich, [ForcedWithdrawal(5, key(5), 50 * USD, True),
                                             ForcedWithdrawal(5, key(5), 500 * USD, False),
                                             ForcedWithdrawal(20, key(21), 1, False)]), CONFIG)
    traders = funded_state((10, 10_000 * USD), (11, 10_000 * USD), (12, 100 * USD))
    consent = order(11, False, HALF // 10, 4_000 * USD // 2)
    used = order(11, False, HALF, 20_000 * USD, nonce=2)
    thin = order(10, False, 2 * HALF, 40_000 * USD, nonce=3)
    out["forced trade"] = (*_cut(traders, [ForcedTrade(10, key(10), consent, True),
                                           ForcedTrade(10, key(10), consent, False),   # consent used
                                           ForcedTrade(12, key(12), used, False),      # 12 cannot afford it
                                           ForcedTrade(12, key(12), thin, False),      # 10 would flip / grow
                                           ForcedTrade(10, key(10), order(10, True, 1, 1, nonce=4), False)]),
                           CONFIG)
    out["liquidation close (penalty)"] = (*_cut(_liq_setup(), [_close(_sell_fill(39_500, 197_500_000))]), CONFIG)
    out["liquidation close (fund pays)"] = (*_cut(_liq_setup(fund=1_000 * USD),
                                                  [_close(_sell_fill(37_000, -500 * USD))]), CONFIG)
    out["liquidation close (deleverage)"] = (*_cut(_liq_setup(), [_close(
        deleverages=(DeleverageFill(11, HALF, 19_000 * USD),))]), CONFIG)
    soc = BatchContext(config=SOCIALIZED, min_expiration_hours=NOW_H)
    out["liquidation close (socialized)"] = (*_cut(_liq_setup(), [_close(_sell_fill(37_000, 0))], soc), SOCIALIZED)
    return out


BATCHES = _batches()


@pytest.mark.parametrize("case", list(BATCHES))
def test_an_honest_batch_proves_with_nothing_opaque(case: str) -> None:
    old, batch, config = BATCHES[case]
    statement, proof = prove_arithmetic(old, batch, config)
    assert not statement.opaque
    checked = verify_arithmetic(batch, config, statement, proof)
    assert checked.first and set(checked.first) == set(checked.last)  # type: ignore[attr-defined]
    again, used = Statement.from_bytes(statement.to_bytes())
    assert again == statement and used == len(statement.to_bytes())


def _socialized_loss_batch() -> tuple[RollupState, Batch]:
    """tests/rollup/test_liquidation_txs.py's: 10 closed at 37,000 uncovered (-1,000), the shorts pay."""
    batcher = Batcher(_liq_setup(), BatchContext(config=SOCIALIZED, min_expiration_hours=NOW_H))
    batcher.submit(_close(_sell_fill(37_000, 0, size=2 * HALF)))
    batcher.cut()
    old = batcher.state
    batcher.submit(SocializedLoss(10, A, False, 1_000 * USD))
    return old, batcher.cut()


def test_a_socialized_loss_is_claimed_opaque_and_admitted_only_in_socialized_mode() -> None:
    old, batch = _socialized_loss_batch()
    statement, proof = prove_arithmetic(old, batch, SOCIALIZED)
    assert statement.opaque_txs == (0,)
    assert {c.position_id for c in statement.opaque} == {10, 11}  # the bankrupt position and the payer
    verify_arithmetic(batch, SOCIALIZED, statement, proof)
    # a verifier of a rollup that is not in socialized-loss mode refuses the unproven change
    with pytest.raises(StatementError, match="only in socialized-loss mode"):
        verify_arithmetic(batch, CONFIG, statement, proof)


# -- tampered records ------------------------------------------------------------------------------


def _rows(case: str) -> list[UpdateRecord]:
    old, batch, config = BATCHES[case]
    return records(build_statement(old, batch, config), batch, config).rows


def _row(case: str, pred) -> UpdateRecord:  # type: ignore[no-untyped-def]
    return next(r for r in _rows(case) if pred(r))


def _cash(rec: UpdateRecord, *, before: int = 0, after: int = 0, **kw: object) -> UpdateRecord:
    """The record with collateral moved (before and/or after) and other fields replaced."""
    return replace(rec, before=replace(rec.before, collateral=rec.before.collateral + before),
                   after=replace(rec.after, collateral=rec.after.collateral + after), **kw)  # type: ignore[arg-type]


def _tampered() -> dict[str, tuple[UpdateRecord, str]]:
    out: dict[str, tuple[UpdateRecord, str]] = {}
    sender = _row("conditional transfer", lambda r: r.position_id == 20)
    assert sender.order is not None
    big = 1_300 * USD
    out["conditional transfer: sender overdraws"] = (_cash(
        sender, after=-1_000 * USD, debit=big, order=replace(sender.order, amount_synthetic=big, actual_synthetic=big,
                                                             fulfilled_after=big)), "risk-free value does not decrease")
    ok = _row("forced withdrawal", lambda r: not r.refuted)
    out["forced withdrawal: executed but invalid"] = (_cash(ok, after=-450 * USD, debit=500 * USD),
                                                      "risk-free value does not decrease")
    refused = _row("forced withdrawal", lambda r: r.refuted)
    out["forced withdrawal: refused but valid"] = (_cash(refused, after=450 * USD, debit=50 * USD),
                                                   "refused: not well leveraged after")
    b = _row("forced trade", lambda r: r.order is not None)
    assert b.order is not None
    out["forced trade: consent over-filled"] = (replace(b, order=replace(b.order, fulfilled_before=1,
                                                                         fulfilled_after=b.order.fulfilled_after + 1)),
                                                "not over-filled")
    a = _row("forced trade", lambda r: r.refuted)
    out["forced trade: refused but valid"] = (_cash(a, before=100_000 * USD, after=100_000 * USD),
                                              "refused: not well leveraged after")
    liq = _row("liquidation close (penalty)", lambda r: r.position_id == 10)
    out["liquidation close: penalty above the cap"] = (_cash(liq, after=-600_000, fund=liq.fund + 600_000),
                                                       "penalty bound")
    out["liquidation close: not liquidatable"] = (_cash(liq, before=10_000 * USD, after=10_000 * USD),
                                                  "liquidatable")
    btc = next(x for x in liq.after.assets if x.asset_id == A)
    flipped = replace(liq.after, assets=tuple(replace(x, balance=-btc.balance) if x.asset_id == A else x
                                              for x in liq.after.assets))
    slot = CIRCUIT.assets.index(A)
    out["liquidation close: holding flips"] = (replace(
        liq, after=flipped, deltas=tuple(d - 2 * btc.balance if k == slot else d for k, d in enumerate(liq.deltas))),
        "keeps its sign|does not grow")
    dl = _row("liquidation close (deleverage)", lambda r: r.position_id == 10)
    out["liquidation close: deleverage below bankruptcy"] = (_cash(dl, after=-1_000 * USD, credit=dl.credit - 1_000 * USD),
                                                            "not below the bankruptcy amount")
    out["liquidation close: deleverage above bankruptcy"] = (_cash(dl, after=1_000 * USD, credit=dl.credit + 1_000 * USD),
                                                            "not above the bankruptcy amount")
    paid = _row("liquidation close (fund pays)", lambda r: r.position_id == 10)
    out["liquidation close: fund overpays"] = (_cash(paid, after=100 * USD, fund=paid.fund - 100 * USD),
                                               "not above the bankruptcy amount")
    fund = _row("liquidation close (fund pays)", lambda r: r.position_id == FUND)
    out["liquidation close: fund goes negative"] = (_cash(fund, after=-1_000 * USD, debit=fund.debit + 1_000 * USD),
                                                    "insurance fund not negative")
    return out


TAMPERED = _tampered()


def _witness(recs: list[UpdateRecord]) -> None:
    build_trace(CIRCUIT.schema, [row_values(CIRCUIT, r) for r in recs])


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_rule_has_no_witness(case: str) -> None:
    rec, rule = TAMPERED[case]
    with pytest.raises(ArithmeticError_, match=rule):
        _witness([rec])


@pytest.mark.parametrize("case", list(BATCHES))
def test_every_honest_row_has_a_witness(case: str) -> None:
    _witness(_rows(case))


def test_an_unregistered_condition_is_refused_natively() -> None:
    old, batch, config = BATCHES["conditional transfer"]
    statement = build_statement(old, batch, config)
    records(statement, batch, config, registered_conditions=frozenset({12345}))
    with pytest.raises(StatementError, match="not registered"):
        records(statement, batch, config, registered_conditions=frozenset({1}))
    with pytest.raises(StatementError, match="not registered"):
        records(statement, replace(batch, outputs=()), config)


def test_a_refusal_needs_exactly_one_claim_on_an_alternative() -> None:
    old, batch, config = BATCHES["forced trade"]
    statement = build_statement(old, batch, config)
    claims = list(statement.claims)
    i = next(n for n, c in enumerate(claims) if c.tx_index == 2)
    with pytest.raises(StatementError, match="exactly one"):
        records(replace(statement, claims=tuple(claims[:i] + claims[i + 1:])), batch, config)
    with pytest.raises(StatementError, match="another position"):
        records(replace(statement, claims=tuple([*claims[:i], replace(claims[i], position_id=99), *claims[i + 1:]])),
                batch, config)


def _cheat(rec: UpdateRecord) -> None:
    trace, public = build_trace(CIRCUIT.schema, [row_values(CIRCUIT, rec)], strict=False)
    proof = prove(IntAir(CIRCUIT.schema, public, [0]), trace, check_trace=False)
    verifier_public = np.stack([CIRCUIT.schema.public_row(*public_values(CIRCUIT, rec))])
    with pytest.raises(VerificationError):
        verify(IntAir(CIRCUIT.schema, verifier_public, [0]), proof)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["conditional transfer: sender overdraws", "forced withdrawal: refused but valid",
                                  "forced trade: refused but valid", "liquidation close: penalty above the cap",
                                  "liquidation close: deleverage above bankruptcy"])
def test_a_cheating_provers_proof_of_a_tampered_record_fails(case: str) -> None:
    _cheat(TAMPERED[case][0])
