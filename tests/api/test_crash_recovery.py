"""Crash test: SIGKILL the server at random moments under load, restart it, and check that every
acknowledged order is present and that recovery (snapshot + journal tail) equals a clean replay."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from perpetua.core.markets import load_config
from perpetua.core.sequencer import replay
from perpetua.store.journal import SqliteJournal
from perpetua.store.recovery import recover
from tests.api.server import Server
from tests.api.trader import Trader

ROUNDS = 3


def _onboard(http: httpx.Client, trader: Trader) -> None:
    headers, body = trader.onboarding_request()
    resp = http.post("/v3/onboarding", json=body, headers=headers)
    resp.raise_for_status()
    trader.onboarded(resp.json())
    http.post("/v3/testnet/tokens", json={}, headers=trader.headers("POST", "/v3/testnet/tokens")).raise_for_status()


def _load(url: str, trader: Trader, side: str, acked: list[str], stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=5) as http:
        while not stop.is_set():
            price = str(40000 + rng.randint(-5, 5))
            body = trader.order(side, "0.001", price, tif=rng.choice(["GTT", "GTT", "IOC"]))
            try:
                resp = http.post("/v3/orders", json=body, headers=trader.headers("POST", "/v3/orders", body))
            except httpx.HTTPError:
                return  # the server died under us: this order was never acknowledged
            if resp.status_code == 201:
                acked.append(body["clientId"])


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_order(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Server(data, snapshot_every=40, rate_limit_per_s=100000, rate_limit_burst=100000).start()
    rng = random.Random(6)
    traders = [Trader(201), Trader(202)]
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for t in traders:
            _onboard(http, t)
    acked: dict[int, list[str]] = {0: [], 1: []}
    config = load_config()
    try:
        for round_no in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=_load, args=(server.url, t, side, acked[i], stop, round_no * 10 + i))
                       for i, (t, side) in enumerate(zip(traders, ("BUY", "SELL"), strict=True))]
            for th in threads:
                th.start()
            time.sleep(rng.uniform(0.5, 2.0))
            server.kill()  # SIGKILL mid-flight
            stop.set()
            for th in threads:
                th.join(timeout=10)
            journal = SqliteJournal(data / "journal.db")
            recovered, last = recover(config, journal)
            clean = replay(config, [r.command for r in journal.records()])
            assert recovered.state_hash() == clean.state_hash()
            assert last == journal.last_seq()
            journal.close()
            server = Server(data, snapshot_every=40, rate_limit_per_s=100000, rate_limit_burst=100000)
            server.start()
            with httpx.Client(base_url=server.url, timeout=10) as http:
                for i, t in enumerate(traders):
                    for client_id in acked[i]:
                        path = f"/v3/orders/client/{client_id}"
                        resp = http.get(path, headers=t.headers("GET", path))
                        assert resp.status_code == 200, (client_id, resp.text)
        assert sum(len(v) for v in acked.values()) > 20
    finally:
        server.kill()
