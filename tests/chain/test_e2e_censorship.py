"""The censorship scenario on real rollup state (slow: one escape is ~65 Poseidon2 permutations on
py-evm, several seconds each): after the end-to-end flow, the operator keeps posting batches but
ignores a forced withdrawal; the deadline passes (not a second early); anyone freezes; no state
update is accepted any more; every position (traders, fee position, insurance fund) escapes with a
path rebuilt from the rollup payloads posted on L1 alone, paid exactly its value; the sum paid is
what L1 held for the state, and after the claims the contract holds nothing."""

from __future__ import annotations

import random

import pytest

from perpetua.chain import constants as K
from perpetua.chain.backend import ChainRevert
from perpetua.chain.client import rebuild_from_chain
from perpetua.chain.merkle import escape_value
from perpetua.chain.view import settlement_view

from .e2e import USD, World, crash_flow, standard_flow


@pytest.mark.slow
def test_censored_forced_withdrawal_freeze_and_every_escape_from_da():
    w = World()
    pids = standard_flow(w, n_accounts=4, steps=40)
    d = w.op.d
    censored = w.traders[pids[0]]
    request = censored.forced_withdrawal(pids[0], 100 * USD).return_value
    # The operator keeps going and does not serve the request.
    w.trade_flow(random.Random(9), pids, 12)
    w.hour()
    w.commit()
    (pending,) = settlement_view(w.op)["forced_requests"]
    assert pending["request"] == "0x" + bytes(request).hex()
    requested_at = pending["requested_at"]
    w.chain.advance_time(requested_at + K.FREEZE_GRACE_PERIOD_S - w.chain.now())
    assert w.chain.now() == requested_at + K.FREEZE_GRACE_PERIOD_S
    with pytest.raises(ChainRevert, match="grace period not over"):  # exactly at the deadline
        w.traders[pids[1]].freeze(request)
    assert settlement_view(w.op)["forced_requests"][0]["freezable"] is False
    w.chain.advance_time(1)
    w.traders[pids[1]].freeze(request)
    assert settlement_view(w.op)["frozen"] is True
    w.trade_flow(random.Random(10), pids, 4)
    with pytest.raises(ChainRevert, match="frozen"):
        w.commit()

    # Only the DA payloads posted on L1: the tree, the leaves, the last prices and indices.
    rebuilt, states = rebuild_from_chain(w.chain, d.exchange)
    assert rebuilt.root == w.op.state()["state_root"] == w.batches[-1].new_roots[0]
    held = w.l1_held()
    assert held == sum(leaf.collateral for leaf in rebuilt.leaves.values())
    prices = {s.asset_id: s.price for s in states}
    indices = {s.asset_id: s.funding_index for s in states}
    assert any(leaf.assets for leaf in rebuilt.leaves.values())
    paid = 0
    for pid in sorted(rebuilt.leaves):
        leaf = rebuilt.leaves[pid]
        receipt = w.traders[pid].escape(pid, leaf, rebuilt.path(pid), states)
        (event,) = [e for e in receipt.events if e.name == "Escaped"]
        assert event.args["amount"] == escape_value(leaf, prices, indices) >= 0
        paid += event.args["amount"]
    # Balances net to zero, funding is settled (cached = global), prices are whole multiples of
    # 2^32: the escapes pay exactly the collateral the state held.
    assert paid == held
    with pytest.raises(ChainRevert, match="position already escaped"):
        w.traders[pids[0]].escape(pids[0], rebuilt.leaves[pids[0]], rebuilt.path(pids[0]), states)
    for trader in {t.stark_key: t for t in w.traders.values()}.values():
        if w.chain.call(d.exchange, "pending_withdrawals", trader.stark_key):
            trader.withdraw()
    assert w.chain.call(d.token, "balanceOf", d.exchange) == 0


def _exact_value(leaf, prices, indices) -> int:  # type: ignore[no-untyped-def]
    """A position's value in 32.32 collateral, unfloored and possibly negative."""
    return (leaf.collateral * 2**32 + sum(a.balance * prices[a.asset_id] for a in leaf.assets)
            - sum((indices[a.asset_id] - a.cached_funding_index) * a.balance for a in leaf.assets))


@pytest.mark.slow
def test_censorship_after_a_liquidation_every_position_escapes_underwater_ones_paid_zero():
    """The crash flow (a liquidation on L2, settled on L1), then censorship: frozen, every position
    escapes from the DA payloads; each is paid its value floored, 0 where under water (the L1 contract
    never pays a negative value), and the positions' exact values sum to what L1 held."""
    w = World()
    pids = crash_flow(w)
    assert w.liquidation_fills >= 1
    request = w.traders[pids[0]].forced_withdrawal(pids[0], 100 * USD).return_value
    w.trade_flow(random.Random(11), pids[:4], 6)
    w.hour()
    w.commit()
    (pending,) = settlement_view(w.op)["forced_requests"]
    w.chain.advance_time(pending["deadline"] + 1 - w.chain.now())
    w.traders[pids[1]].freeze(request)
    assert settlement_view(w.op)["frozen"] is True

    rebuilt, states = rebuild_from_chain(w.chain, w.op.d.exchange)
    assert rebuilt.root == w.op.state()["state_root"] == w.batches[-1].new_roots[0]
    held = w.l1_held()
    prices = {s.asset_id: s.price for s in states}
    indices = {s.asset_id: s.funding_index for s in states}
    exact = {pid: _exact_value(leaf, prices, indices) for pid, leaf in rebuilt.leaves.items()}
    assert sum(exact.values()) == held * 2**32, "balances net to zero: the values sum to what L1 held"
    paid = 0
    for pid in sorted(rebuilt.leaves):
        leaf = rebuilt.leaves[pid]
        receipt = w.traders[pid].escape(pid, leaf, rebuilt.path(pid), states)
        (event,) = [e for e in receipt.events if e.name == "Escaped"]
        assert event.args["amount"] == escape_value(leaf, prices, indices) == max(0, exact[pid] // 2**32)
        paid += event.args["amount"]
    underwater = -sum(v for v in exact.values() if v < 0)
    # Each floor loses less than one quantum; an underwater position's deficit is paid by nobody.
    assert held - len(exact) < paid <= held + -(-underwater // 2**32)
    for trader in {t.stark_key: t for t in w.traders.values()}.values():
        if w.chain.call(w.op.d.exchange, "pending_withdrawals", trader.stark_key):
            trader.withdraw()
    assert 0 <= w.chain.call(w.op.d.token, "balanceOf", w.op.d.exchange) < len(exact)
