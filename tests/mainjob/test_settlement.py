"""The main job with the L1 on: the exchange's events become rollup batches accepted on the Vyper
contracts in-process; demo deposits go L1 -> L2, demo withdrawals L2 -> claimable -> claimed on L1;
the settlement route serves the view. And the loop stops (the exchange does not) when the rollup
cannot follow an event."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perpetua.core.commands import CreateAccount, DepositCollateral, PlaceOrder, SetOraclePrice
from perpetua.core.markets import load_config
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.assets import Network
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.mainjob.app import UpOptions, build_app, fresh_data_dir
from perpetua.mainjob.settlement import CannotFollow, Follower
from perpetua.sim.demo_market import DEMO_ACCOUNT
from perpetua.store.journal import JournalRecord

CONFIG = load_config()


def wait_for(client: TestClient, predicate: Any, timeout: float = 45.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get("/mainjob/settlement").json()
        assert view["status"] != "stopped", view["stoppedReason"]
        if predicate(view):
            return view
        assert time.monotonic() < deadline, f"timed out: {view['status']} {view['rollup']}"
        time.sleep(0.25)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = fresh_data_dir(tmp_path_factory.mktemp("up-l1"))
    app = build_app(UpOptions(data_dir=str(data), speed=600, candles_limit=300, l1=True, batch_interval_s=1.0))
    with TestClient(app) as c:
        yield c


def test_batches_accepted_on_l1_with_the_rollup_roots(client: TestClient) -> None:
    view = wait_for(client, lambda v: v["l1"] and v["l1"]["sequence_number"] >= 3)
    l1 = view["l1"]
    assert l1["frozen"] is False and l1["da_mode"] == "rollup"
    batches = l1["batches"]  # newest first, chained root to root
    assert [b["sequence_number"] for b in batches] == list(range(l1["sequence_number"], 0, -1))[:len(batches)]
    for newer, older in itertools.pairwise(batches):
        assert newer["old_root"] == older["new_root"]
    assert batches[0]["new_root"] == l1["state_root"]
    assert all(b["txs"] > 0 and b["gas"] > 0 and b["payload_bytes"] > 0 for b in batches)
    assert l1["pending_changes"] and l1["pending_changes"][0]["kind"] == "global_config"
    # The rollup follows the exchange: the demo account's L2 collateral came from its L1 deposit.
    ex = client.app.state.exchange  # type: ignore[attr-defined]
    assert ex.sequencer.state.accounts[DEMO_ACCOUNT].collateral == 10_000 * 10**6
    settlement = client.app.state.settlement  # type: ignore[attr-defined]
    assert settlement.follower.batcher.state.position(DEMO_ACCOUNT).collateral == 10_000 * 10**6


def test_withdrawals_become_claimable_then_claimed_and_deposits_are_credited(client: TestClient) -> None:
    view = wait_for(client, lambda v: v["l1"] and any(w["claimed_at"] for w in v["l1"]["withdrawals"]))
    w = next(w for w in view["l1"]["withdrawals"] if w["claimed_at"])
    assert w["amount"] == "250" and w["requested_at"] <= w["claimable_at"] <= w["claimed_at"]
    assert w["delay_s"] is not None and 0 <= w["delay_s"] <= 30
    # The makers' L1 top-ups are pending until a batch includes them, then gone.
    wait_for(client, lambda v: v["l1"]["pending_deposits"])
    wait_for(client, lambda v: not v["l1"]["pending_deposits"])


def test_the_route_when_the_l1_is_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = build_app(UpOptions(data_dir=str(fresh_data_dir(tmp_path)), speed=600, candles_limit=5))
    with TestClient(app) as c:
        view = c.get("/mainjob/settlement").json()
    assert view["enabled"] is False and view["status"] == "off"


def test_the_follower_stops_on_an_order_it_cannot_sign() -> None:
    """An API account's order: the core event does not carry the owner's StarkEx signature."""
    seq = Sequencer(CONFIG)
    seq.apply(SetOraclePrice(1, "BTC-USD", 40_000 * 10**6))
    follower = Follower(CONFIG, seq.state, Network.SEPOLIA, speed=60, now_s=1_700_000_000)
    stranger = public_key(private_key_from_seed(b"an API user"))
    cmds = [CreateAccount(2, 5_000, stranger), DepositCollateral(3, 5_000, 10_000 * 10**6),
            PlaceOrder(4, 5_000, "BTC-USD", 1, OrderType.LIMIT, TimeInForce.GTT, 10**7, 39_000 * 10**6, "x")]
    records, events = [], []
    for i, cmd in enumerate(cmds):
        records.append(JournalRecord(i + 1, cmd, None))
        events.append(seq.apply(cmd))
    follower.feed(records[:2], events[:2])
    with pytest.raises(CannotFollow, match="does not hold"):
        follower.feed(records[2:], events[2:])
