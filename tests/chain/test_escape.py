"""Forced actions, freeze and the escape hatch; the on-chain Poseidon2 against the Python one.

Leaves and paths come from `perpetua.chain.merkle` (a self-contained reference of the encoding
`perpetua.rollup.hashing` documents, over `perpetua.stark.poseidon2`); where the rollup's module is
importable the two are cross-checked here too.
"""

from __future__ import annotations

import random

import pytest

from perpetua.chain import constants as K
from perpetua.chain.backend import ChainRevert
from perpetua.chain.batch import ForcedTrade, forced_withdrawal_hash
from perpetua.chain.client import rebuild_from_chain
from perpetua.chain.merkle import (
    EMPTY_SUBTREES,
    Leaf,
    LeafAsset,
    PositionTree,
    escape_value,
    hash_nodes,
    leaf_hash,
    leaf_limbs,
    root_from_path,
)
from perpetua.stark import poseidon2

from .conftest import BTC, ETH, ONE_USDC, make_traders


def random_leaf(rng: random.Random, n_assets: int) -> Leaf:
    ids = sorted(rng.sample([BTC, ETH, 0x534F4C2D3700000000000000000000, 2**120 - 1, 1], n_assets))
    return Leaf(rng.randrange(1, 2**251), rng.randrange(-(2**63), 2**63),
                tuple(LeafAsset(i, rng.randrange(-(2**63), 2**63), rng.randrange(-(2**63), 2**63))
                      for i in ids))


def _asset_args(leaf: Leaf):
    return [(a.asset_id, a.balance, a.cached_funding_index) for a in leaf.assets]


def test_poseidon2_permutation_and_hashes_match_python(rollup):
    d, _, _ = rollup
    c, v = d.chain, d.escape_verifier
    rng = random.Random(12)
    for _ in range(2):
        state = [rng.randrange(poseidon2.P) for _ in range(16)]
        assert list(c.call(v, "permute", state)) == poseidon2.permute_ref(state)
    for n in (0, 1, 3):
        leaf = random_leaf(rng, n)
        assert list(c.call(v, "leaf_limbs", leaf.public_key, leaf.collateral, _asset_args(leaf))) == leaf_limbs(leaf)
        assert bytes(c.call(v, "leaf_hash", leaf.public_key, leaf.collateral, _asset_args(leaf))) == leaf_hash(leaf)
    a, b = rng.randbytes(32), rng.randbytes(32)
    # digests hold canonical elements (< p): use real hashes as inputs
    a, b = leaf_hash(random_leaf(rng, 1)), leaf_hash(random_leaf(rng, 2))
    assert bytes(c.call(v, "hash_two", a, b)) == hash_nodes([a], [b])[0]
    with pytest.raises(ChainRevert, match="assets not sorted"):
        c.call(v, "leaf_hash", 5, 0, [(ETH, 1, 0), (BTC, 1, 0)])


def test_reference_matches_the_rollup_hashing():
    hashing = pytest.importorskip("perpetua.rollup.hashing")
    rng = random.Random(7)
    for n in (0, 1, 2, 4):
        leaf = random_leaf(rng, n)
        assets = [(a.asset_id, a.balance, a.cached_funding_index) for a in leaf.assets]
        limbs = hashing.position_limbs(leaf.public_key, leaf.collateral, assets)
        assert limbs == leaf_limbs(leaf)
        assert hashing.hash_limb_lists([limbs])[0] == leaf_hash(leaf) == hashing.hash_limbs_ref(limbs)
    a, b = leaf_hash(random_leaf(rng, 1)), leaf_hash(random_leaf(rng, 1))
    assert hashing.hash_node(a, b) == hash_nodes([a], [b])[0]
    assert tuple(hashing.EMPTY_POSITION_SUBTREES) == EMPTY_SUBTREES


def test_python_tree_paths():
    rng = random.Random(3)
    leaves = {rng.randrange(2**64): random_leaf(rng, rng.randrange(3)) for _ in range(20)}
    tree = PositionTree(leaves)
    for pid, leaf in list(leaves.items())[:5]:
        assert root_from_path(pid, leaf, tree.path(pid)) == tree.root
    assert PositionTree().root == EMPTY_SUBTREES[64]


def test_forced_requests_rate_limit_early_freeze_and_service(rollup):
    d, op, l2 = rollup
    alice, bob = make_traders(d, op, 2)
    alice.deposit(1, 100 * ONE_USDC)
    l2.deposit(alice.stark_key, 1, 100 * ONE_USDC)
    l2.commit()
    d.chain.advance_time(12)
    for amount in range(1, 11):
        alice.forced_withdrawal(1, amount)
    with pytest.raises(ChainRevert, match="too many forced requests in this block"):
        alice.forced_withdrawal(1, 11)
    d.chain.advance_time(12)  # next block
    alice.forced_withdrawal(1, 11)
    with pytest.raises(ChainRevert, match="request already pending"):
        alice.forced_withdrawal(1, 11)
    assert len(op.forced_requests()) == 11
    request = forced_withdrawal_hash(alice.stark_key, 1, 5)
    (pending,) = [r for r in op.forced_requests() if r["request"] == request]
    # Nobody can freeze early: not before, nor exactly at, the deadline.
    with pytest.raises(ChainRevert, match="grace period not over"):
        bob.freeze(request)
    d.chain.advance_time(pending["deadline"] - d.chain.now())
    with pytest.raises(ChainRevert, match="grace period not over"):
        bob.freeze(request)
    with pytest.raises(ChainRevert, match="no such pending request"):
        bob.freeze(b"\x09" * 32)
    # The operator serves every request (executes one, includes the others as failed) in time.
    l2.withdraw(1, 5)
    l2.forced = [r["request"] for r in op.forced_requests()]
    l2.commit()
    assert op.forced_requests() == []
    d.chain.advance_time(60)
    with pytest.raises(ChainRevert, match="no such pending request"):
        bob.freeze(request)
    # A batch cannot claim to serve a request that is not pending.
    l2.forced = [request]
    with pytest.raises(ChainRevert, match="forced request not pending"):
        l2.commit()


def test_forced_trade_needs_the_counterparty_signature(rollup):
    d, op, _ = rollup
    alice, bob = make_traders(d, op, 2)
    trade = ForcedTrade(alice.stark_key, bob.stark_key, 1, 2, BTC, 4_000 * ONE_USDC, 10**9, True,
                        d.chain.now() + 3600, 1)
    with pytest.raises(ChainRevert, match="bad counterparty signature"):
        alice.forced_trade(trade, counterparty=alice.eth)
    r = alice.forced_trade(trade, counterparty=bob.eth)
    assert r.return_value == trade.request_hash()
    assert op.forced_requests()[0]["deadline"] == d.chain.now() + K.FREEZE_GRACE_PERIOD_S


def test_censorship_scenario_freeze_and_escape(rollup):
    """The operator ignores a forced withdrawal; after the grace period anyone freezes; every
    trader escapes with the value of its leaf at the last prices, rebuilt from L1 calldata."""
    d, op, l2 = rollup
    traders = make_traders(d, op, 3)
    for i, t in enumerate(traders):
        t.deposit(10 + i, (10_000 + 1_000 * i) * ONE_USDC)
        l2.deposit(t.stark_key, 10 + i, (10_000 + 1_000 * i) * ONE_USDC)
    l2.commit()
    # Trading and funding on L2: 10 trades' worth squashed into two batches.
    l2.trade(10, 11, BTC, 2 * 10**9, 8_000 * ONE_USDC)        # 0.2 BTC at 40,000
    l2.trade(12, 10, ETH, 10**9, 3_000 * ONE_USDC)            # 1 ETH at 3,000
    l2.commit()
    d.chain.advance_time(3600)
    l2.indices = {BTC: 37, ETH: -5}                            # funding moved (32.32 per quantum)
    l2.prices = {BTC: 42_000 * 2**32 // 10**4 + 123, ETH: 2_900 * 2**32 // 10**3 + 7}
    l2.trade(11, 12, BTC, 10**9, 4_150 * ONE_USDC)
    l2.commit()
    held = d.chain.call(d.token, "balanceOf", d.exchange)  # deposits: nothing withdrawn yet

    censored = traders[0]
    request = censored.forced_withdrawal(10, 500 * ONE_USDC).return_value
    d.chain.advance_time(K.FREEZE_GRACE_PERIOD_S)
    with pytest.raises(ChainRevert, match="grace period not over"):
        traders[1].freeze(request)
    d.chain.advance_time(1)
    traders[1].freeze(request)
    assert op.is_frozen()
    with pytest.raises(ChainRevert, match="frozen"):
        l2.commit()
    with pytest.raises(ChainRevert, match="frozen"):
        censored.deposit(10, ONE_USDC)

    # Each trader rebuilds the tree from the state diffs posted on L1, and escapes.
    tree, states = rebuild_from_chain(d.chain, d.exchange)
    assert tree.root == op.state()["state_root"]
    prices = {s.asset_id: s.price for s in states}
    indices = {s.asset_id: s.funding_index for s in states}
    paid = 0
    for i, t in enumerate(traders):
        pid = 10 + i
        leaf = tree.leaves[pid]
        r = t.escape(pid, leaf, tree.path(pid), states)
        (event,) = [e for e in r.events if e.name == "Escaped"]
        assert event.args["amount"] == escape_value(leaf, prices, indices) > 0
        paid += event.args["amount"]
    # The escapes pay the state's whole value at the last prices: balances net to zero and funding
    # is zero-sum, so that is what the contract held, less the floors (funding settlements on L2,
    # each escape's value): under one quantum each.
    assert paid == sum(escape_value(leaf, prices, indices) for leaf in tree.leaves.values())
    assert 0 <= held - paid < 10

    with pytest.raises(ChainRevert, match="position already escaped"):
        traders[0].escape(10, tree.leaves[10], tree.path(10), states)
    for t in traders:
        before = d.chain.call(d.token, "balanceOf", t.eth.address)
        due = d.chain.call(d.exchange, "pending_withdrawals", t.stark_key)
        t.withdraw()
        assert d.chain.call(d.token, "balanceOf", t.eth.address) - before == due


def test_escape_rejects_forged_path_wrong_prices_and_unfrozen(rollup):
    d, op, l2 = rollup
    alice, bob = make_traders(d, op, 2)
    alice.deposit(1, 1_000 * ONE_USDC)
    bob.deposit(2, 1_000 * ONE_USDC)
    l2.deposit(alice.stark_key, 1, 1_000 * ONE_USDC)
    l2.deposit(bob.stark_key, 2, 1_000 * ONE_USDC)
    l2.commit()
    tree, states = rebuild_from_chain(d.chain, d.exchange)
    leaf = tree.leaves[1]
    with pytest.raises(ChainRevert, match="not frozen"):
        alice.escape(1, leaf, tree.path(1), states)
    request = alice.forced_withdrawal(1, 1).return_value
    d.chain.advance_time(K.FREEZE_GRACE_PERIOD_S + 1)
    bob.freeze(request)
    # Forged: more collateral than the leaf holds, with the true path.
    inflated = Leaf(leaf.public_key, leaf.collateral * 10, leaf.assets)
    with pytest.raises(ChainRevert, match="position not in the last state"):
        alice.escape(1, inflated, tree.path(1), states)
    with pytest.raises(ChainRevert, match="prices are not the last state's"):
        alice.escape(1, leaf, tree.path(1), [type(s)(s.asset_id, s.price * 2, s.funding_index) for s in states])
    assert d.chain.call(d.exchange, "pending_withdrawals", alice.stark_key) == 0
