"""The main job with the L1 on: the exchange's events become rollup batches, each STARK-proven in a
prover process and verified by the fact service before it is accepted on the Vyper contracts
in-process (a corrupted proof is refused, shown, then the honest one accepted); demo deposits go L1 -> L2, demo withdrawals L2 -> claimable -> claimed on L1;
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


PROOF_WAIT_S = 240.0
"""Every batch is proven first (about 15 s each on a shared 2-core machine): waits budget for that."""


def wait_for(client: TestClient, predicate: Any, timeout: float = PROOF_WAIT_S) -> dict[str, Any]:
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
    app = build_app(UpOptions(data_dir=str(data), speed=600, candles_limit=20, l1=True, batch_interval_s=1.0))
    with TestClient(app) as c:
        yield c


@pytest.mark.slow
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
    # Each batch was proven (a STARK proof the fact service verified) and accepted, at the rollup's root.
    for b in batches:
        assert b["proven"] is True and b["accepted"] is True and b["refusals"] == 0
        assert b["proof_bytes"] > 10_000 and b["prove_s"] > 0 and b["verify_s"] > 0
        assert b["security_bits"] is not None and b["security_bits"] >= 100
        assert b["new_root"] == b["rollup_root"]
    assert view["refused"] == [] and view["prover"]["tamperProofEvery"] is None
    assert "STARK" in l1["verifierNote"]
    assert l1["pending_changes"] and l1["pending_changes"][0]["kind"] == "global_config"
    # The rollup follows the exchange: the demo account's L2 collateral came from its L1 deposit.
    ex = client.app.state.exchange  # type: ignore[attr-defined]
    assert ex.sequencer.state.accounts[DEMO_ACCOUNT].collateral == 10_000 * 10**6
    settlement = client.app.state.settlement  # type: ignore[attr-defined]
    assert settlement.follower.batcher.state.position(DEMO_ACCOUNT).collateral == 10_000 * 10**6


@pytest.mark.slow
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


def test_tamper_flips_a_byte_and_the_fact_service_refuses_it() -> None:
    """The fault injection's corrupted proof fails verification (no fact registered); the honest
    proof passes. Uses a tiny batch so it stays fast."""
    from perpetua.circuits.batch import prove_rollup_batch
    from perpetua.circuits.fact_service import BatchRefused, StarkFactService
    from perpetua.mainjob.prover import security_of, tamper

    seq = Sequencer(CONFIG)
    seq.apply(SetOraclePrice(1, "BTC-USD", 40_000 * 10**6))
    follower = Follower(CONFIG, seq.state, Network.SEPOLIA, speed=60, now_s=1_700_000_000)
    pid = next(iter(follower.keys))
    cmds = [CreateAccount(2, pid, public_key(follower.keys[pid])), DepositCollateral(3, pid, 1_000 * 10**6)]
    records, events = [], []
    for i, cmd in enumerate(cmds):
        records.append(JournalRecord(i + 1, cmd, None))
        events.append(seq.apply(cmd))
    assert not follower.due(1, 0.0)  # nothing fed yet
    follower.feed(records, events)
    assert follower.changes_positions() and follower.due(1, 3600.0)
    old, batch = follower.cut_with_old_state()
    assert not follower.changes_positions()
    proof = prove_rollup_batch(old, batch).to_bytes()
    assert (security_of(proof) or 0) >= 100
    assert tamper(proof) != proof and len(tamper(proof)) == len(proof)

    class Registrar:
        def __init__(self) -> None:
            self.registered: list[bytes] = []

        def fact_for(self, l1_batch: Any) -> bytes:
            return b"fact"

        def register_fact(self, fact: bytes) -> None:
            self.registered.append(fact)

    from perpetua.chain.batch import from_rollup

    registrar = Registrar()
    service = StarkFactService(registrar=registrar)
    with pytest.raises(BatchRefused):
        service.certify(batch, tamper(proof), from_rollup(batch))
    assert registrar.registered == [] and len(service.refused) == 1
    service.certify(batch, proof, from_rollup(batch))
    assert registrar.registered == [b"fact"]


@pytest.mark.slow
def test_a_tampered_proof_is_refused_shown_then_accepted_with_the_honest_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = fresh_data_dir(tmp_path)
    app = build_app(UpOptions(data_dir=str(data), speed=600, candles_limit=20, l1=True, batch_interval_s=1.0,
                              tamper_proof_every=2))
    with TestClient(app) as c:
        view = wait_for(c, lambda v: v["refused"] and v["l1"] and v["l1"]["sequence_number"] >= v["refused"][0]["sequence"])
        assert view["prover"]["tamperProofEvery"] == 2
        refusal = view["refused"][-1]  # newest first: the first refusal is the last entry
        assert refusal["sequence"] == 2 and refusal["tampered"] is True
        assert refusal["reason"] and refusal["resolution"] == "resubmitted with the honest proof"
        l1 = view["l1"]
        by_seq = {b["sequence_number"]: b for b in l1["batches"]}
        # the refused batch then went through with its honest proof, at the rollup's root
        refused_batch = by_seq[2]
        assert refused_batch["accepted"] is True and refused_batch["refusals"] == 1
        assert refused_batch["new_root"] == refused_batch["rollup_root"]
        assert by_seq[1]["refusals"] == 0 and by_seq[1]["new_root"] == by_seq[2]["old_root"]
        assert view["status"] == "running" and l1["state_root"] == l1["batches"][0]["new_root"]
        # and the view the dashboard reads says so
        assert c.get("/mainjob/settlement").json()["refused"][-1]["sequence"] == 2


@pytest.mark.slow
def test_a_real_refusal_is_retried_with_a_fresh_proof_then_stops_the_loop_not_the_exchange(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A prover gone wrong (not the injected fault): batch 1's first proof is bad, its fresh one good
    (accepted); both of batch 2's proofs are bad: the loop stops with the reason, the exchange trades on."""
    import dataclasses

    from perpetua.mainjob import settlement as S
    from perpetua.mainjob.prover import tamper

    real = S.Settlement._await_proof
    calls: dict[int, int] = {}
    mine = 48  # this app's batch size tells its settlement from another test's still running here

    def prove(self: S.Settlement, fut: Any, batch: Any) -> Any:
        proven = real(self, fut, batch)
        if self.opts.batch_txs != mine:
            return proven
        n = calls[batch.sequence] = calls.get(batch.sequence, 0) + 1
        if (batch.sequence == 0 and n == 1) or batch.sequence == 1:
            return dataclasses.replace(proven, proof=tamper(proven.proof))
        return proven

    monkeypatch.setattr(S.Settlement, "_await_proof", prove)
    app = build_app(UpOptions(data_dir=str(fresh_data_dir(tmp_path)), speed=600, candles_limit=20, l1=True,
                              batch_interval_s=1.0, batch_txs=mine))
    with TestClient(app) as c:
        deadline = time.monotonic() + PROOF_WAIT_S
        while (view := c.get("/mainjob/settlement").json())["status"] != "stopped":
            assert time.monotonic() < deadline, view["rollup"]
            time.sleep(0.25)
        assert "refused rollup batch 1 twice" in view["stoppedReason"]
        assert [(r["sequence"], r["tampered"], r["resolution"]) for r in view["refused"]] == [
            (2, False, "settlement stopped"), (2, False, "re-proven and resubmitted"),
            (1, False, "re-proven and resubmitted")]
        l1 = view["l1"]
        assert l1["sequence_number"] == 1 and l1["batches"][0]["refusals"] == 1
        assert l1["state_root"] == l1["batches"][0]["rollup_root"]
        assert calls == {0: 2, 1: 2}
        # the exchange is untouched: it still answers and trades
        fills = c.get("/mainjob/state").json()["replay"]["fills"]
        time.sleep(2)
        assert c.get("/mainjob/state").json()["replay"]["fills"] >= fills


@pytest.mark.slow
def test_the_prover_process_can_prove_on_a_ray_cluster() -> None:
    """`perpetua up --prover-ray ADDRESS`: the prover process connects to the cluster once and runs
    each batch's parts as Ray tasks; the proof verifies like a local one."""
    ray = pytest.importorskip("ray")
    from perpetua.circuits.batch import verify_batch_proof
    from perpetua.mainjob.prover import BatchProver
    from tests.circuits.test_arithmetic import CONFIG as ROLLUP_CONFIG
    from tests.circuits.test_arithmetic import _batch

    old, batch = _batch()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    prover = BatchProver(ray_address=ray.get_runtime_context().gcs_address)
    try:
        for _ in range(2):  # connected once, used for every batch
            proven = prover.submit(old, batch, ROLLUP_CONFIG).result(timeout=300)
            verify_batch_proof(batch, proven.proof, config=ROLLUP_CONFIG)
            assert proven.security_bits is not None and proven.security_bits >= 100
    finally:
        prover.close()
        ray.shutdown()
