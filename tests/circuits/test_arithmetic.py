"""The arithmetic circuit: honest batches prove; each tampered rule has no witness (the honest
prover refuses) and a cheating prover's proof does not verify (slow tier)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pytest

from perpetua.circuits.arithmetic import circuit_for, prove_arithmetic, verify_arithmetic
from perpetua.circuits.intarith import ArithmeticError_, IntAir, build_trace
from perpetua.circuits.position_update import OrderFill, UpdateRecord, public_values, row_values
from perpetua.circuits.statement import StatementError, build_statement, records
from perpetua.rollup.batch import Batch, Batcher
from perpetua.rollup.constants import FXP_32_ONE
from perpetua.rollup.position import Position, PositionAsset, position_status
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.withdrawal import Withdrawal
from perpetua.stark.errors import VerificationError
from perpetua.stark.prover import prove
from perpetua.stark.verifier import verify
from tests.rollup.helpers import BTC, CONFIG, context, funded_state, key, signed_transfer, trade, withdrawal

USD = 10**6
CIRCUIT = circuit_for(CONFIG)
ASSETS = CIRCUIT.assets
BTC_ID = next(a for a in ASSETS if CONFIG.synthetic_assets[a].market_id == "BTC-USD")
SLOT = ASSETS.index(BTC_ID)
PRICE = 40_000 * FXP_32_ONE * USD // BTC.resolution  # 32.32 internal price of one BTC quantum
INDEX = 5 * FXP_32_ONE


def _globals() -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (tuple(INDEX for _ in ASSETS), tuple(PRICE if a == BTC_ID else FXP_32_ONE for a in ASSETS))


def _pos(collateral: int, balance: int, index: int = INDEX) -> Position:
    assets = (PositionAsset(BTC_ID, balance, index),) if balance else ()
    return Position(key(1), collateral, assets)


def _deltas(d: int) -> tuple[int, ...]:
    return tuple(d if k == SLOT else 0 for k in range(len(ASSETS)))


def _buy(before: Position, synthetic: int, collateral: int, fee: int, *, max_fee: int | None = None,
         amount_s: int | None = None, fulfilled: int = 0) -> UpdateRecord:
    """A buy fill of `synthetic` for `collateral` + `fee`, the order signed at the same price."""
    indices, prices = _globals()
    after = Position(before.public_key, before.collateral - collateral - fee,
                     (PositionAsset(BTC_ID, before.balance(BTC_ID) + synthetic, INDEX),))
    amount_s = amount_s or synthetic
    fill = OrderFill(amount_s, collateral * amount_s // synthetic, fee if max_fee is None else max_fee, True,
                     collateral, synthetic, fee, fulfilled, fulfilled + synthetic)
    return UpdateRecord(0, 1, before, after, indices, prices, debit=collateral, fee=fee,
                        deltas=_deltas(synthetic), order=fill)


def _honest(recs: list[UpdateRecord]) -> None:
    build_trace(CIRCUIT.schema, [row_values(CIRCUIT, r) for r in recs])


def _refused(rec: UpdateRecord, rule: str) -> None:
    with pytest.raises(ArithmeticError_, match=rule):
        _honest([rec])


def _cheat(rec: UpdateRecord) -> None:
    """A prover that ignores the failing rule: its proof must not verify."""
    trace, public = build_trace(CIRCUIT.schema, [row_values(CIRCUIT, rec)], strict=False)
    air = IntAir(CIRCUIT.schema, public, [0])
    proof = prove(air, trace, check_trace=False)
    verifier_public = np.stack([CIRCUIT.schema.public_row(*public_values(CIRCUIT, rec))])
    with pytest.raises(VerificationError):
        verify(IntAir(CIRCUIT.schema, verifier_public, [0]), proof)


BTC1 = BTC.min_order_size
COST = BTC1 * PRICE // FXP_32_ONE


def test_an_honest_fill_has_a_witness() -> None:
    _honest([_buy(_pos(100 * COST, 0), BTC1, COST, COST // 1000)])


def _tampered() -> dict[str, tuple[UpdateRecord, str]]:
    funded = _pos(100 * COST, BTC1)
    healthy = _pos(100 * COST, BTC1)
    indices, prices = _globals()
    fee_high = _buy(_pos(100 * COST, 0), BTC1, COST, COST // 100, max_fee=COST // 100 - 1)
    overfilled = _buy(_pos(100 * COST, 0), BTC1, COST, 0, amount_s=2 * BTC1, fulfilled=BTC1 + 1)
    # 1 BTC of cash buys 50 BTC (50x): far below the margin requirement
    thin = _buy(_pos(COST, 0), 50 * BTC1, 50 * COST, 0)
    # funding: the index rose by 1/2^32 per quantum... pay one unit less than owed
    stale = _pos(100 * COST, BTC1, INDEX - 3 * FXP_32_ONE)
    owed = 3 * BTC1  # (G - I) * B / 2^32
    funding_off = UpdateRecord(0, 1, stale, replace(_pos(100 * COST - owed + 1, BTC1)), indices, prices)
    liquidate_healthy = UpdateRecord(0, 1, healthy, _pos(100 * COST + COST, 0), indices, prices,
                                     credit=COST, deltas=_deltas(-BTC1), liquidatable=True, shrink=True)
    deleverage_solvent = UpdateRecord(0, 1, funded, _pos(100 * COST + COST, 0), indices, prices, credit=COST,
                                      deltas=_deltas(-BTC1), deleveragable=True, deleverage_fair=True)
    return {"fee above the signed limit": (fee_high, "fee rate"),
            "over-filled order": (overfilled, "not over-filled"),
            "under-collateralised trade": (thin, "well leveraged|TV/TR|not grow|risk-free"),
            "funding off by one unit": (funding_off, "funding|collateral"),
            "liquidation of a healthy account": (liquidate_healthy, "liquidatable"),
            "deleverage of a solvent account": (deleverage_solvent, "deleveragable")}


@pytest.mark.parametrize("case", list(_tampered()))
def test_a_tampered_rule_has_no_witness(case: str) -> None:
    rec, rule = _tampered()[case]
    _refused(rec, rule)


def test_tampered_cases_are_otherwise_consistent() -> None:
    """Each tampered record breaks only its rule: with the rule's flag off, it has a witness."""
    t = _tampered()
    thin = t["under-collateralised trade"][0]
    tv, tr = position_status(thin.after, {BTC_ID: PRICE}, CONFIG)
    assert tr > tv * FXP_32_ONE  # really under-collateralised
    _honest([replace(thin, valid=False)])
    _honest([replace(t["liquidation of a healthy account"][0], liquidatable=False)])
    _honest([replace(t["deleverage of a solvent account"][0], deleveragable=False, deleverage_fair=False)])
    off = t["funding off by one unit"][0]
    _honest([replace(off, after=replace(off.after, collateral=off.after.collateral - 1))])
    fee = t["fee above the signed limit"][0]
    assert fee.order is not None
    _honest([replace(fee, order=replace(fee.order, max_fee=fee.order.actual_fee))])


@pytest.mark.slow
@pytest.mark.parametrize("case", list(_tampered()))
def test_a_cheating_provers_proof_of_a_tampered_rule_fails(case: str) -> None:
    _cheat(_tampered()[case][0])


# -- whole batches --------------------------------------------------------------------------------


def _batch() -> tuple[object, Batch]:
    batcher = Batcher(funded_state((10, 10**12), (11, 10**12), (12, 10**12)), context())
    old = batcher.state
    size, cost = BTC1, 40_000 * BTC1 * USD // BTC.resolution
    batcher.submit(trade(10, 11, size, cost, fee=cost // 1000))
    batcher.submit(trade(12, 10, size, cost, fee=cost // 1000, nonce=2))
    batcher.submit(Deposit(13, key(13), 5 * 10**9))
    batcher.submit(withdrawal(11, 10**6))
    batcher.submit(signed_transfer(12, 13, 10**6))
    return old, batcher.cut()


@pytest.fixture(scope="module")
def proven() -> tuple[Batch, object, bytes]:
    old, batch = _batch()
    statement, proof = prove_arithmetic(old, batch, CONFIG)  # type: ignore[arg-type]
    return batch, statement, proof


def test_a_batch_of_trades_deposits_withdrawals_and_transfers_proves(proven: tuple[Batch, object, bytes]) -> None:
    batch, statement, proof = proven
    checked = verify_arithmetic(batch, CONFIG, statement, proof)  # type: ignore[arg-type]
    assert {10, 11, 12, 13} <= set(checked.first) and set(checked.first) == set(checked.last)
    assert len(checked.orders_first) == 6  # four limit orders, a withdrawal, a transfer
    assert not statement.opaque  # type: ignore[attr-defined]


def test_a_changed_public_value_fails(proven: tuple[Batch, object, bytes]) -> None:
    batch, statement, proof = proven
    claims = list(statement.claims)  # type: ignore[attr-defined]
    c = claims[1]
    claims[1] = replace(c, fulfilled_before=c.fulfilled_before + 1, fulfilled_after=c.fulfilled_after + 1)
    with pytest.raises((VerificationError, StatementError)):
        verify_arithmetic(batch, CONFIG, replace(statement, claims=tuple(claims)), proof)  # type: ignore[arg-type]
    flipped = bytearray(proof)
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(VerificationError):
        verify_arithmetic(batch, CONFIG, statement, bytes(flipped))  # type: ignore[arg-type]


def test_claims_must_chain_and_end_at_the_payload(proven: tuple[Batch, object, bytes]) -> None:
    batch, statement, _ = proven
    claims = list(statement.claims)  # type: ignore[attr-defined]
    # a claimed state that does not start where the position was left
    i = next(n for n in range(1, len(claims)) if any(c.position_id == claims[n].position_id for c in claims[:n]))
    bent = replace(claims[i], before=replace(claims[i].before, collateral=claims[i].before.collateral + 1))
    with pytest.raises(StatementError, match="does not start"):
        records(replace(statement, claims=(*claims[:i], bent, *claims[i + 1:])), batch, CONFIG)  # type: ignore[arg-type]
    # the last claimed state differs from the payload's leaf
    last = claims[-1]
    moved = replace(last, after=replace(last.after, collateral=last.after.collateral + 1))
    with pytest.raises(StatementError, match="payload"):
        records(replace(statement, claims=(*claims[:-1], moved)), batch, CONFIG)  # type: ignore[arg-type]
    # a transaction's updates dropped
    with pytest.raises(StatementError):
        records(replace(statement, claims=tuple(claims[:-1])), batch, CONFIG)  # type: ignore[arg-type]


def test_statement_round_trips(proven: tuple[Batch, object, bytes]) -> None:
    _, statement, _ = proven
    from perpetua.circuits.statement import Statement
    raw = statement.to_bytes()  # type: ignore[attr-defined]
    again, used = Statement.from_bytes(raw)
    assert again == statement and used == len(raw)


def test_a_fee_above_the_signed_limit_in_a_batch_cannot_be_proven() -> None:
    """The operator edits a trade's fee (and the states to match): the statement is consistent
    with the batch, but no witness exists."""
    old, batch = _batch()
    statement = build_statement(old, batch, CONFIG)  # type: ignore[arg-type]
    rows = records(statement, batch, CONFIG).rows
    side = next(r for r in rows if r.order is not None and r.order.limit)
    assert side.order is not None
    forged = replace(side, fee=side.fee + 1, order=replace(side.order, actual_fee=side.order.actual_fee + 1),
                     after=replace(side.after, collateral=side.after.collateral - 1))
    with pytest.raises(ArithmeticError_, match="fee rate"):
        _honest([forged])


@pytest.mark.slow
def test_a_whole_batch_proof_with_both_parts_verifies_and_binds_the_leaves() -> None:
    from perpetua.circuits.batch import BatchProof, BatchProofError, prove_rollup_batch, verify_batch_proof
    old, batch = _batch()
    proof = prove_rollup_batch(old, batch, config=CONFIG, chunk_size=4)  # type: ignore[arg-type]
    assert verify_batch_proof(batch, proof.to_bytes(), config=CONFIG) == proof
    assert BatchProof.from_bytes(proof.to_bytes()) == proof
    with pytest.raises(BatchProofError, match="no arithmetic part"):
        verify_batch_proof(batch, replace(proof, arithmetic=b""), config=CONFIG)
    with pytest.raises(BatchProofError, match="no config"):
        verify_batch_proof(batch, proof)
    # a claimed old state that is not the tree's leaf (chained through the whole statement)
    from perpetua.circuits.statement import Statement
    statement, _ = Statement.from_bytes(proof.statement)
    pid = statement.claims[1].position_id
    bent = tuple(replace(c, before=replace(c.before, collateral=c.before.collateral + 1))
                 if c.position_id == pid and c is statement.claims[1] else c for c in statement.claims)
    with pytest.raises(BatchProofError):
        verify_batch_proof(batch, replace(proof, statement=replace(statement, claims=bent).to_bytes()), config=CONFIG)


@pytest.mark.slow
def test_an_order_claimed_less_filled_than_the_tree_says_is_refused() -> None:
    """A cross-batch over-fill: the operator claims an order starts the batch less filled than
    the orders tree records and proves the arithmetic of that claim honestly; the orders part's
    binding refuses it."""
    from perpetua.circuits.arithmetic import arithmetic_air
    from perpetua.circuits.batch import BatchProofError, prove_rollup_batch, verify_batch_proof
    from perpetua.circuits.statement import Statement
    from perpetua.rollup.transactions.trade import Trade
    from tests.rollup.helpers import order
    cost = 40_000 * BTC1 * USD // BTC.resolution
    a, b = order(10, True, 2 * BTC1, 2 * cost), order(11, False, 2 * BTC1, 2 * cost)
    batcher = Batcher(funded_state((10, 10**12), (11, 10**12)), context())
    batcher.submit(Trade(a, b, cost, BTC1, 0, 0))  # half of both orders, in an earlier batch
    batcher.cut()
    old = batcher.state
    batcher.submit(Trade(a, b, cost, BTC1, 0, 0))  # the other half
    batch = batcher.cut()
    proof = prove_rollup_batch(old, batch, config=CONFIG, chunk_size=4)  # type: ignore[arg-type]
    verify_batch_proof(batch, proof, config=CONFIG)
    statement, _ = Statement.from_bytes(proof.statement)
    claims = list(statement.claims)
    n = next(i for i, c in enumerate(claims) if c.fulfilled_after)
    assert claims[n].fulfilled_before == BTC1
    claims[n] = replace(claims[n], fulfilled_before=0, fulfilled_after=BTC1)  # "never filled before"
    forged = replace(statement, claims=tuple(claims))
    rows = records(forged, batch, CONFIG).rows
    trace, public = build_trace(CIRCUIT.schema, [row_values(CIRCUIT, r) for r in rows])
    raw = forged.to_bytes()
    arithmetic = prove(arithmetic_air(CIRCUIT, public, batch, raw), trace, check_trace=False)
    with pytest.raises(BatchProofError, match=r"not the tree.s leaf|payload"):
        verify_batch_proof(batch, replace(proof, statement=raw, arithmetic=arithmetic), config=CONFIG)


def test_every_transaction_must_be_authorised() -> None:
    """Signatures are checked natively against the committed transaction list."""
    from perpetua.circuits.authorisation import Unauthorised, check_authorisation
    from perpetua.crypto.signatures import Signature
    _, batch = _batch()
    check_authorisation(batch, CONFIG)
    t = batch.txs[0]
    assert isinstance(t, Trade)
    s = t.party_b.signature
    forged = replace(t, party_b=replace(t.party_b, signature=Signature(s.r, s.s ^ 1)))
    with pytest.raises(Unauthorised, match="tx 0"):
        check_authorisation(replace(batch, txs=(forged, *batch.txs[1:])), CONFIG)
    w = next(x for x in batch.txs if isinstance(x, Withdrawal))
    other = withdrawal(12, 10**6)  # signed by position 12's key for position 12
    bad = replace(w, signature=other.signature)
    with pytest.raises(Unauthorised, match="withdrawal"):
        check_authorisation(replace(batch, txs=tuple(bad if x is w else x for x in batch.txs)), CONFIG)


def test_the_commitment_must_hash_the_transactions() -> None:
    from perpetua.circuits.batch import BatchProof, BatchProofError, verify_batch_proof
    _, batch = _batch()
    shuffled = replace(batch, txs=(batch.txs[1], batch.txs[0], *batch.txs[2:]))
    dummy = BatchProof(64, batch.old_roots[0], batch.new_roots[0], batch.payload_hash, batch.commitment, 0, ())
    with pytest.raises(BatchProofError, match="commitment is not the hash"):
        verify_batch_proof(shuffled, dummy, config=CONFIG)


@pytest.mark.slow
def test_chunks_and_arithmetic_proven_on_ray_verify_like_the_local_pool() -> None:
    pytest.importorskip("ray")
    from perpetua.circuits.batch import prove_rollup_batch, verify_batch_proof
    from perpetua.parallel import ray_executor
    old, batch = _batch()
    with ray_executor(workers=2) as executor:
        on_ray = prove_rollup_batch(old, batch, config=CONFIG, chunk_size=4, executor=executor)  # type: ignore[arg-type]
    verify_batch_proof(batch, on_ray, config=CONFIG)
    local = prove_rollup_batch(old, batch, config=CONFIG, chunk_size=4, workers=2)  # type: ignore[arg-type]
    assert on_ray.to_bytes() == local.to_bytes()  # deterministic wherever it runs


def test_a_transaction_list_that_breaks_its_own_rules_is_refused() -> None:
    from perpetua.circuits.authorisation import Unauthorised, check_well_formed
    _, batch = _batch()
    check_well_formed(batch, CONFIG)
    t = batch.txs[0]
    assert isinstance(t, Trade)
    same_side = replace(t, party_b=replace(t.party_b, order=replace(t.party_b.order, is_buying_synthetic=True)))
    zero = replace(t, actual_synthetic=0)
    expired = replace(t, party_a=replace(t.party_a, order=replace(t.party_a.order, expiration_hours=479_999)))
    for bad, rule in ((same_side, "same side"), (zero, ">= 1"), (expired, "expired before hour 480000")):
        with pytest.raises(Unauthorised, match=rule):
            check_well_formed(replace(batch, txs=(bad, *batch.txs[1:])), CONFIG)


@pytest.mark.slow
def test_whole_batch_proofs_of_every_covered_type_verify() -> None:
    """The three parts together (arithmetic, positions root, orders root, with membership updates
    for what is read but unchanged, e.g. a forced trade refused for a used consent)."""
    from perpetua.circuits.batch import prove_rollup_batch, verify_batch_proof
    from tests.circuits.test_coverage import BATCHES
    for case, (old, batch, config) in BATCHES.items():
        proof = prove_rollup_batch(old, batch, config=config, workers=2)
        conditions = frozenset({12345}) if "conditional" in case else None
        assert verify_batch_proof(batch, proof.to_bytes(), config=config, registered_conditions=conditions) == proof, case


@pytest.mark.slow
def test_the_fact_service_chains_globals_from_batch_to_batch() -> None:
    """A batch whose claimed starting prices are not where the previous certified batch's
    payload left them is refused (fake registrar; proofs of two consecutive batches)."""
    from perpetua.circuits.batch import prove_rollup_batch
    from perpetua.circuits.fact_service import BatchRefused, StarkFactService
    from perpetua.circuits.statement import Statement

    class Registrar:
        def __init__(self) -> None:
            self.facts: list[bytes] = []

        def fact_for(self, batch: object) -> bytes:
            return bytes(32)

        def register_fact(self, fact: bytes) -> None:
            self.facts.append(fact)

    @dataclasses.dataclass
    class L1:
        old_root: bytes
        new_root: bytes
        batch_commitment: bytes
        da_hash: bytes

    def l1(b: Batch) -> L1:
        return L1(b.old_roots[0], b.new_roots[0], b.commitment, b.payload_hash)

    batcher = Batcher(funded_state((10, 10**12), (11, 10**12)), context())
    old1 = batcher.state
    batcher.submit(trade(10, 11, BTC1, COST))
    b1 = batcher.cut()
    old2 = batcher.state
    batcher.submit(trade(11, 10, BTC1, COST, nonce=2))
    b2 = batcher.cut()
    service = StarkFactService(Registrar(), config=CONFIG)
    service.certify(b1, prove_rollup_batch(old1, b1, config=CONFIG), l1(b1))
    p2 = prove_rollup_batch(old2, b2, config=CONFIG)
    certified = service.last_globals
    assert certified is not None
    for wrong in (dataclasses.replace(certified, oracle_prices={a: p + 1 for a, p in certified.oracle_prices.items()}),
                  dataclasses.replace(certified, system_time=certified.system_time + 1),
                  dataclasses.replace(certified, funding_timestamp=certified.funding_timestamp - 1),
                  dataclasses.replace(certified, funding_indices={})):  # an index 0 is not "no index"
        service.last_globals = wrong
        with pytest.raises(BatchRefused, match="previous batch"):
            service.certify(b2, p2, l1(b2))
    service.last_globals = certified
    long, short = service.last_open_interest  # type: ignore[misc]
    assert long == short and long[SLOT] > 0  # batch 1 left 10 long and 11 short
    service.last_open_interest = (long, tuple(v - 1 for v in short))
    with pytest.raises(BatchRefused, match="previous batch's open interest"):
        service.certify(b2, p2, l1(b2))
    service.last_open_interest = (long, short)
    service.certify(b2, p2, l1(b2))
    start = Statement.from_bytes(p2.statement)[0]
    began = start.start_globals(CONFIG)  # the statement starts where batch 1's payload ended
    assert (began.funding_indices, began.funding_timestamp, began.oracle_prices, began.system_time) == \
        (certified.funding_indices, certified.funding_timestamp, certified.oracle_prices, certified.system_time)


def _funding_batch(config: object) -> tuple[object, Batch]:
    """Trades, a FundingTick at the maximum rate, more trades: eager (the config's insurance fund
    settles everyone at the tick) or lazy (each position at its next update)."""
    from perpetua.rollup.transactions.funding_tick import FundingTick
    from tests.rollup.helpers import ETH, NOW_S
    ctx = dataclasses.replace(context(), config=config)
    batcher = Batcher(funded_state((10, 10**12), (11, 10**12), (12, 10**12)), ctx)
    size, cost = 3 * BTC1, 3 * COST
    batcher.submit(trade(10, 11, size, cost))
    batcher.submit(trade(12, 10, BTC1, COST, nonce=2))
    batcher.cut()  # positions hold BTC before the batch under test
    old = batcher.state
    batcher.submit(trade(11, 12, BTC1, COST, nonce=3))
    price = old.oracle_prices[BTC_ID]
    delta = CONFIG.max_funding_rate * price * 3600 // 2**32
    batcher.submit(FundingTick(NOW_S + 3600, tuple(sorted({BTC_ID: delta - 7, ETH.synthetic_asset_id: 0}.items()))))
    batcher.submit(trade(10, 12, BTC1, COST, nonce=4))
    return old, batcher.cut()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_a_batch_with_a_funding_tick_proves_and_its_settlement_is_exact(mode: str) -> None:
    from perpetua.circuits.batch import prove_rollup_batch, verify_batch_proof
    config = CONFIG if mode == "eager" else dataclasses.replace(CONFIG, insurance_fund_position_id=None)
    old, batch = _funding_batch(config)
    proof = prove_rollup_batch(old, batch, config=config, workers=2)  # type: ignore[arg-type]
    verify_batch_proof(batch, proof, config=config)  # type: ignore[arg-type]
    rows = records(build_statement(old, batch, config), batch, config).rows  # type: ignore[arg-type]
    funded = [r for r in rows if r.before.assets and r.before.assets[0].cached_funding_index != r.indices[SLOT]]
    assert funded and all(r.eager == (mode == "eager") for r in funded)
    circuit = circuit_for(config)  # type: ignore[arg-type]
    for r in funded:  # one unit more or less after funding: no witness
        for d in (-1, 1):
            bent = replace(r, after=replace(r.after, collateral=r.after.collateral + d))
            with pytest.raises(ArithmeticError_):
                build_trace(circuit.schema, [row_values(circuit, bent)])
