"""Slow tier: more escapes (validium payloads, an underwater position paid 0, several assets)."""

from __future__ import annotations

import pytest

from perpetua.chain import constants as K
from perpetua.chain.client import rebuild_from_payloads
from perpetua.chain.merkle import escape_value

from .conftest import BTC, ETH, ONE_USDC, make_traders


@pytest.mark.slow
def test_validium_escape_from_committee_payloads_underwater_pays_zero(validium):
    d, op, l2 = validium
    traders = make_traders(d, op, 3)
    for i, t in enumerate(traders):
        t.deposit(20 + i, 1_000 * ONE_USDC)
        l2.deposit(t.stark_key, 20 + i, 1_000 * ONE_USDC)
    l2.commit()
    l2.trade(20, 21, BTC, 10**9, 4_000 * ONE_USDC // 10)
    l2.trade(22, 20, ETH, 10**9, 3_000 * ONE_USDC)
    l2.commit()
    # BTC triples: the short (21) is far underwater; its escape pays 0, never negative.
    l2.prices = {BTC: 3 * l2.prices[BTC], ETH: l2.prices[ETH]}
    l2.withdraw(22, 1 * ONE_USDC)
    l2.commit()
    request = traders[0].forced_withdrawal(20, ONE_USDC).return_value
    d.chain.advance_time(K.FREEZE_GRACE_PERIOD_S + 1)
    traders[2].freeze(request)
    tree, states = rebuild_from_payloads(op.da_payloads)
    assert tree.root == op.state()["state_root"]
    prices = {s.asset_id: s.price for s in states}
    indices = {s.asset_id: s.funding_index for s in states}
    for i, t in enumerate(traders):
        leaf = tree.leaves[20 + i]
        r = t.escape(20 + i, leaf, tree.path(20 + i), states)
        (event,) = [e for e in r.events if e.name == "Escaped"]
        assert event.args["amount"] == escape_value(leaf, prices, indices)
    assert d.chain.call(d.exchange, "pending_withdrawals", traders[1].stark_key) == 0
    assert len(tree.leaves[20].assets) == 2
