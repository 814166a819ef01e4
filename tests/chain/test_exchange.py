"""Deposits, sequenced state updates with the interim verifier, DA, withdrawals, governance."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perpetua.chain import constants as K
from perpetua.chain.backend import ChainRevert
from perpetua.chain.client import account
from perpetua.chain.merkle import EMPTY_SUBTREES

from .conftest import BTC, ONE_USDC, make_traders


def test_constants_match_the_contract(rollup):
    d, _, _ = rollup
    c = d.chain
    assert c.call(d.exchange, "DEPOSIT_CANCEL_DELAY") == K.DEPOSIT_CANCEL_DELAY_S == 172_800
    assert c.call(d.exchange, "FREEZE_GRACE_PERIOD") == K.FREEZE_GRACE_PERIOD_S == 604_800
    assert c.call(d.exchange, "MAX_FORCED_ACTIONS_REQS_PER_BLOCK") == K.MAX_FORCED_ACTIONS_REQS_PER_BLOCK
    assert c.call(d.exchange, "MAX_TIME_IN_PAST") == K.MAX_TIME_IN_PAST_S
    assert c.call(d.exchange, "MAX_TIME_IN_FUTURE") == K.MAX_TIME_IN_FUTURE_S
    assert c.call(d.exchange, "GOVERNANCE_TIMELOCK") == K.GOVERNANCE_TIMELOCK_S
    assert c.call(d.token, "decimals") == K.COLLATERAL_DECIMALS
    assert bytes(c.call(d.exchange, "state_root")) == EMPTY_SUBTREES[64]


def test_token_mint_only_on_test_network(chain):
    from perpetua.chain.client import deploy

    d = deploy(chain, test_network=False, label="mainnet")
    with pytest.raises(ChainRevert, match="not a test network token"):
        chain.transact(d.governor.address, d.token, "mint", d.governor.address, 1)
    d2 = deploy(chain, label="testnet")
    with pytest.raises(ChainRevert, match="only minter"):
        chain.transact(account("x").address, d2.token, "mint", account("x").address, 1)


def test_deposit_pending_until_batch_then_cancel_and_reclaim_timing(rollup):
    d, op, l2 = rollup
    alice, bob = make_traders(d, op, 2)
    alice.deposit(1, 500 * ONE_USDC)
    bob.deposit(2, 300 * ONE_USDC)
    assert op.pending_deposits() == {(alice.stark_key, 1): 500 * ONE_USDC, (bob.stark_key, 2): 300 * ONE_USDC}

    # Bob cancels; reclaim is refused before DEPOSIT_CANCEL_DELAY, allowed after.
    bob.cancel_deposit(2)
    d.chain.advance_time(K.DEPOSIT_CANCEL_DELAY_S - 60)
    with pytest.raises(ChainRevert, match="cancel delay not over"):
        bob.reclaim_deposit(2)
    # Alice's deposit is included by a batch: no longer pending.
    l2.deposit(alice.stark_key, 1, 500 * ONE_USDC)
    l2.commit()
    assert op.pending_deposits() == {(bob.stark_key, 2): 300 * ONE_USDC}
    d.chain.advance_time(60)
    before = d.chain.call(d.token, "balanceOf", bob.eth.address)
    bob.reclaim_deposit(2)
    assert d.chain.call(d.token, "balanceOf", bob.eth.address) - before == 300 * ONE_USDC
    assert op.pending_deposits() == {}
    # A batch cannot include a deposit that is no longer pending.
    l2.deposit(bob.stark_key, 2, 300 * ONE_USDC)
    with pytest.raises(ChainRevert, match="deposit not pending"):
        l2.commit()


def test_only_the_key_owner_deposits(rollup):
    d, op, _ = rollup
    (alice,) = make_traders(d, op, 1)
    with pytest.raises(ChainRevert, match="not the owner"):
        d.chain.transact(account("mallory").address, d.exchange, "deposit", alice.stark_key, 1, 1)
    with pytest.raises(ChainRevert, match="bad registration signature"):
        d.chain.transact(account("mallory").address, d.exchange, "register_user", account("mallory").address,
                         12345, (27, b"\x01" * 32, b"\x02" * 32))


def test_state_updates_in_sequence_and_withdrawal_claimed(rollup):
    d, op, l2 = rollup
    alice, bob = make_traders(d, op, 2)
    alice.deposit(1, 1_000 * ONE_USDC)
    bob.deposit(2, 1_000 * ONE_USDC)
    l2.deposit(alice.stark_key, 1, 1_000 * ONE_USDC)
    l2.deposit(bob.stark_key, 2, 1_000 * ONE_USDC)
    l2.commit()
    assert op.state()["sequence_number"] == 1
    assert op.state()["state_root"] == l2.tree.root

    l2.trade(1, 2, BTC, 10**9, 4_000 * ONE_USDC // 10)  # 0.1 BTC at 40,000
    requested_at = d.chain.now()
    l2.withdraw(1, 200 * ONE_USDC, requested_at=requested_at)
    d.chain.advance_time(600)  # the next batch ten minutes later
    l2.commit()
    assert op.state()["sequence_number"] == 2
    assert op.state()["state_root"] == l2.tree.root
    assert d.chain.call(d.exchange, "pending_withdrawals", alice.stark_key) == 200 * ONE_USDC
    (w,) = op.withdrawals()
    assert w["delay_s"] == 600 and w["sequence_number"] == 2

    before = d.chain.call(d.token, "balanceOf", alice.eth.address)
    alice.withdraw()
    assert d.chain.call(d.token, "balanceOf", alice.eth.address) - before == 200 * ONE_USDC
    with pytest.raises(ChainRevert, match="nothing to withdraw"):
        alice.withdraw()
    assert [b.sequence_number for b in op.batches()] == [1, 2]


def test_rejected_wrong_old_root_and_missing_fact_and_time_bounds(rollup):
    d, op, l2 = rollup
    (alice,) = make_traders(d, op, 1)
    alice.deposit(1, 10 * ONE_USDC)
    l2.deposit(alice.stark_key, 1, 10 * ONE_USDC)
    good = l2.batch()
    wrong = replace(good, old_root=b"\x07" * 32)
    with pytest.raises(ChainRevert, match="old root is not the current root"):
        op.submit_batch(wrong)
    with pytest.raises(ChainRevert, match="no valid verifier fact"):
        op.submit_batch(good, register_fact=False)
    now = d.chain.now()
    for t, reason in ((now - K.MAX_TIME_IN_PAST_S, "too far in the past"),
                      (now + K.MAX_TIME_IN_FUTURE_S, "too far in the future")):
        with pytest.raises(ChainRevert, match=reason):
            op.submit_batch(l2.batch(system_time=t))
    # A fact for one batch does not validate another (the diff is bound into the fact).
    op.register_fact(op.fact_for(good))
    tampered = replace(good, payload=good.payload.replace(b'"orders"', b'"orders" '))
    with pytest.raises(ChainRevert, match="no valid verifier fact"):
        op.submit_batch(tampered, register_fact=False)
    op.submit_batch(good, register_fact=False)
    # Replaying the same update fails: its old root is no longer current.
    with pytest.raises(ChainRevert, match="old root is not the current root"):
        op.submit_batch(good)


def test_validium_quorum_forged_signature_and_order(validium):
    d, op, l2 = validium
    (alice,) = make_traders(d, op, 1)
    alice.deposit(1, 10 * ONE_USDC)
    l2.deposit(alice.stark_key, 1, 10 * ONE_USDC)
    batch = l2.batch()
    da_hash = batch.da_hash
    one = op.committee_signatures(da_hash, signers=d.committee[:1])
    with pytest.raises(ChainRevert, match="no data-availability quorum"):
        op.submit_batch(batch, signatures=one)
    forged = op.committee_signatures(da_hash, signers=[d.committee[0], account("mallory")])
    with pytest.raises(ChainRevert, match=r"not a committee member|not strictly increasing"):
        op.submit_batch(batch, signatures=forged)
    wrong_hash = op.committee_signatures(b"\x01" * 32, signers=d.committee[:2])
    with pytest.raises(ChainRevert, match=r"not a committee member|not strictly increasing"):
        op.submit_batch(batch, signatures=wrong_hash)
    two = op.committee_signatures(da_hash, signers=d.committee[:2])
    with pytest.raises(ChainRevert, match="not strictly increasing"):
        op.submit_batch(batch, signatures=[two[0], two[0]])
    with pytest.raises(ChainRevert, match="not a rollup deployment"):
        d.chain.transact(d.operator.address, d.exchange, "update_state_rollup", batch.old_root,
                         batch.new_root, batch.system_time, [], [], [], b"\x00" * 32, b"")
    l2.commit(batch, signatures=two)
    assert op.state()["state_root"] == l2.tree.root and op.state()["da_mode"] == "validium"


def test_governance_timelock(rollup):
    d, op, l2 = rollup
    new_registry = d.chain.deploy("InterimFactRegistry", [account("new-verifier").address], 1,
                                  sender=d.governor.address)
    value = op.verifier_change_value(new_registry)
    r = op.propose_change(K.CHANGE_VERIFIER, value)
    assert [e.name for e in r.events] == ["ChangeProposed"]
    assert r.events[0].args["eta"] == d.chain.now() + K.GOVERNANCE_TIMELOCK_S
    with pytest.raises(ChainRevert, match="only governor"):
        d.chain.transact(d.operator.address, d.exchange, "propose_change", K.CHANGE_GLOBAL_CONFIG, b"\x01" * 32)
    d.chain.advance_time(K.GOVERNANCE_TIMELOCK_S - 12)
    with pytest.raises(ChainRevert, match="timelock not over"):
        op.execute_change(K.CHANGE_VERIFIER, value)
    d.chain.advance_time(12)
    r = op.execute_change(K.CHANGE_VERIFIER, value)
    assert [e.name for e in r.events] == ["ChangeExecuted"]
    assert op.state()["verifier"].lower() == new_registry.lower()
    # The old keys' facts no longer count.
    (alice,) = make_traders(d, op, 1)
    alice.deposit(1, ONE_USDC)
    l2.deposit(alice.stark_key, 1, ONE_USDC)
    with pytest.raises(ChainRevert, match="no valid verifier fact"):
        l2.commit()
