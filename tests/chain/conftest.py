"""Fixtures: a fresh in-process EVM per test, the deployed contracts, and a tiny L2 stand-in
(positions as `merkle.Leaf`s in a `merkle.PositionTree`) that produces batches and roots."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from perpetua.chain.backend import BoaChain
from perpetua.chain.batch import AssetState, Batch, Modification, encode_payload
from perpetua.chain.client import OperatorClient, Trader, account, deploy
from perpetua.chain.constants import DA_ROLLUP, DA_VALIDIUM, HOUR_S
from perpetua.chain.merkle import Leaf, LeafAsset, PositionTree

BTC = 0x4254432D3130000000000000000000
ETH = 0x4554482D3900000000000000000000
ONE_USDC = 10**6


@dataclass
class L2:
    """Just enough of an exchange to produce real roots: deposits, withdrawals, trades, prices."""

    op: OperatorClient
    tree: PositionTree = field(default_factory=PositionTree)
    prices: dict[int, int] = field(default_factory=lambda: {BTC: 40_000 * 2**32 // 10**4, ETH: 3_000 * 2**32 // 10**3})
    indices: dict[int, int] = field(default_factory=lambda: {BTC: 0, ETH: 0})
    mods: list[Modification] = field(default_factory=list)
    changed: dict[int, Leaf] = field(default_factory=dict)
    forced: list[bytes] = field(default_factory=list)

    def leaf(self, position_id: int) -> Leaf:
        return self.changed.get(position_id) or self.tree.leaves.get(position_id) or Leaf(0, 0)

    def _set(self, position_id: int, leaf: Leaf) -> None:
        self.changed[position_id] = leaf

    def deposit(self, stark_key: int, position_id: int, amount: int) -> None:
        leaf = self.leaf(position_id)
        self._set(position_id, replace(leaf, public_key=stark_key, collateral=leaf.collateral + amount))
        self.mods.append(Modification(stark_key, position_id, amount))

    def withdraw(self, position_id: int, amount: int, requested_at: int | None = None) -> None:
        leaf = self.leaf(position_id)
        self._set(position_id, replace(leaf, collateral=leaf.collateral - amount))
        self.mods.append(Modification(leaf.public_key, position_id, -amount))
        if requested_at is not None:
            self.op.note_withdrawal_request(leaf.public_key, position_id, amount, requested_at)

    def trade(self, buyer: int, seller: int, asset_id: int, synthetic: int, collateral: int) -> None:
        for pid, sign in ((buyer, 1), (seller, -1)):
            leaf = self.settle_funding(self.leaf(pid))
            held = {a.asset_id: a for a in leaf.assets}
            old = held.get(asset_id)
            balance = (old.balance if old else 0) + sign * synthetic
            if balance:
                held[asset_id] = LeafAsset(asset_id, balance, self.indices[asset_id])
            else:
                held.pop(asset_id, None)
            self._set(pid, replace(leaf, collateral=leaf.collateral - sign * collateral,
                                   assets=tuple(held[k] for k in sorted(held))))

    def settle_funding(self, leaf: Leaf) -> Leaf:
        """StarkEx: one floor per position, every cached index set to the global one."""
        fxp = leaf.collateral * 2**32 - sum((self.indices[a.asset_id] - a.cached_funding_index) * a.balance
                                            for a in leaf.assets)
        return replace(leaf, collateral=fxp // 2**32, assets=tuple(
            LeafAsset(a.asset_id, a.balance, self.indices[a.asset_id]) for a in leaf.assets))

    def asset_states(self) -> tuple[AssetState, ...]:
        return tuple(AssetState(a, self.prices[a], self.indices[a]) for a in sorted(self.prices))

    def batch(self, system_time: int | None = None) -> Batch:
        old_root = self.tree.root
        new_tree = PositionTree(self.tree.leaves)
        new_tree.update(self.changed)
        now = self.op.chain.now()
        t = system_time if system_time is not None else now - HOUR_S
        return Batch(old_root, new_tree.root, t, tuple(self.mods), tuple(self.forced), self.asset_states(),
                     encode_payload(self.changed, self.asset_states(), t))

    def commit(self, batch: Batch | None = None, **kwargs):
        batch = batch or self.batch()
        receipt = self.op.submit_batch(batch, **kwargs)
        self.tree.update(self.changed)
        self.mods, self.changed, self.forced = [], {}, []
        return receipt


def make_traders(d, op, n: int, fund: int = 1_000_000 * ONE_USDC) -> list[Trader]:
    traders = []
    for i in range(n):
        eth = account(f"trader:{i}")
        stark_key = 0x1000 + 7919 * (i + 1)
        op.register_user(eth.address, stark_key)
        d.chain.transact(d.governor.address, d.token, "mint", eth.address, fund)
        d.chain.transact(eth.address, d.token, "approve", d.exchange, 2**256 - 1)
        traders.append(Trader(d, eth, stark_key))
    return traders


@pytest.fixture
def chain():
    return BoaChain(start_timestamp=1_700_000_000)


@pytest.fixture
def rollup(chain):
    d = deploy(chain, da_mode=DA_ROLLUP)
    op = OperatorClient(d)
    return d, op, L2(op)


@pytest.fixture
def validium(chain):
    d = deploy(chain, da_mode=DA_VALIDIUM, committee_size=3, quorum=2, label="validium")
    op = OperatorClient(d)
    return d, op, L2(op)
