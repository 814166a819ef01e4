"""End to end with the real core and rollup: L1 deposits credited on L2, trading and funding,
rollup batches accepted on L1 (the L1 root is the rollup's positions root after every batch, the
rollup's commitment and payload hash are what L1 bound), withdrawals claimable then claimed on L1;
the settlement view; validium with the rollup's committee signatures; a price crash that
liquidates on L2 (`crash_flow`) settled on L1 the same way.
"""

from __future__ import annotations

import random

import pytest

from perpetua.chain.backend import ChainRevert
from perpetua.chain.batch import from_rollup
from perpetua.chain.constants import DA_VALIDIUM
from perpetua.chain.view import settlement_view

from .e2e import LEVERED, USD, World, crash_flow, standard_flow


def test_end_to_end_rollup_mode_deposits_trades_funding_withdrawals():
    w = World()
    pids = standard_flow(w)
    assert w.fills >= 10, w.fills
    assert w.funding_ticks >= 2
    assert any(w.batcher.state.funding_indices.values()), "funding must have moved"
    assert len(w.batches) >= 4
    # Every L1 batch is a rollup batch, in order, with the rollup's roots.
    records = w.op.batches()
    assert [r.sequence_number for r in records] == [b.sequence + 1 for b in w.batches]
    assert [r.new_root for r in records] == [b.new_roots[0] for b in w.batches]
    # L2 balances = the core's; what L1 holds = the rollup state's collateral.
    state = w.batcher.state
    for pid, acct in w.seq.state.accounts.items():
        assert state.position(pid).collateral == acct.collateral, pid
    assert w.l1_held() == sum(p.collateral for _, p in state.positions.items())
    assert w.op.pending_deposits() == {}

    # Withdrawals: claimable when their batch was accepted, then claimed.
    view = settlement_view(w.op)
    credited = view["withdrawals"]
    assert sorted(x["position_id"] for x in credited) == sorted(pids[1:3])
    for x in credited:
        assert x["amount"] == 500 * USD and x["claimed_at"] is None
        assert 0 < x["delay_s"] <= 3_600 + 700, x
    for pid in pids[1:3]:
        trader = w.traders[pid]
        before = w.chain.call(w.op.d.token, "balanceOf", trader.eth.address)
        trader.withdraw()
        assert w.chain.call(w.op.d.token, "balanceOf", trader.eth.address) - before == 500 * USD
        with pytest.raises(ChainRevert, match="nothing to withdraw"):
            trader.withdraw()
    assert all(x["claimed_at"] is not None for x in settlement_view(w.op)["withdrawals"])
    # The settlement view, as the dashboard reads it.
    view = settlement_view(w.op, latest=2)
    assert view["frozen"] is False and view["da_mode"] == "rollup"
    assert [b["sequence_number"] for b in view["batches"]] == [len(w.batches), len(w.batches) - 1]
    assert view["state_root"] == "0x" + w.batches[-1].new_roots[0].hex() == view["batches"][0]["new_root"]
    assert view["batches"][0]["batch_commitment"] == "0x" + w.batches[-1].commitment.hex()
    # A pending deposit and a forced request show up with their deadline.
    w.traders[pids[0]].deposit(pids[0], 7 * USD)
    request = w.traders[pids[0]].forced_withdrawal(pids[0], USD).return_value
    view = settlement_view(w.op)
    assert view["pending_deposits"] == [{"stark_key": w.traders[pids[0]].stark_key, "position_id": pids[0],
                                         "amount": 7 * USD}]
    (forced,) = view["forced_requests"]
    assert forced["request"] == "0x" + bytes(request).hex() and forced["freezable"] is False
    assert forced["deadline"] == forced["requested_at"] + 7 * 86_400


def test_end_to_end_validium_with_the_rollup_committee():
    w = World(da_mode=DA_VALIDIUM)
    w.open_account(3, 30_000 * USD)
    w.open_account(4, 30_000 * USD)
    w.commit()
    w.trade_flow(random.Random(5), [3, 4], 12)
    w.withdraw_on_l2(3, 100 * USD)
    w.hour()
    batch = w.batcher.cut()
    l1 = from_rollup(batch)
    assert len(l1.committee_signatures) == 3  # the rollup's own signatures, as they are
    with pytest.raises(ChainRevert, match="no data-availability quorum"):
        w.op.submit_batch(l1, signatures=list(l1.committee_signatures[:1]))
    w.chain.advance_time(max(0, w.now_s + 12 - w.chain.now()))
    w.op.submit_batch(l1)
    assert w.op.state()["state_root"] == batch.new_roots[0]
    assert settlement_view(w.op)["batches"][0]["da_mode"] == "validium"
    w.traders[3].withdraw()


def test_end_to_end_a_price_crash_liquidates_on_l2_and_settles_on_l1():
    """Auto liquidation on L2 (the close fills against the book, penalty to the insurance fund), the
    rollup's `LiquidationClose`, every batch accepted on L1 with the rollup's root (checked in
    `World.commit`), balances equal, withdrawals claimable."""
    w = World()
    pids = crash_flow(w)
    assert w.liquidation_fills >= 1
    assert any(type(tx).__name__ == "LiquidationClose" for b in w.batches for tx in b.txs)
    records = w.op.batches()
    assert [r.new_root for r in records] == [b.new_roots[0] for b in w.batches]
    state = w.batcher.state
    for pid, acct in w.seq.state.accounts.items():
        assert state.position(pid).collateral == acct.collateral, pid
    assert state.position(LEVERED).collateral == w.seq.state.accounts[LEVERED].collateral
    assert w.seq.state.accounts[LEVERED].size("BTC-USD") < 500 * 10**7, "the close reduced the long"
    assert w.l1_held() == sum(p.collateral for _, p in state.positions.items())
    (credited,) = settlement_view(w.op)["withdrawals"]
    assert credited["position_id"] == pids[0] and credited["amount"] == 300 * USD
    w.traders[pids[0]].withdraw()
