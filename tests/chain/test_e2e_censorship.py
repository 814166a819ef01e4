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

from .e2e import USD, World, standard_flow


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
