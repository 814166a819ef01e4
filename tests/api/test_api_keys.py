"""Ethereum-key requests: POST / DELETE /v3/api-keys and GET /v3/recovery (EIP-712 over method, path,
body and timestamp, as dydx3's SignEthPrivateAction signs them); keys survive a restart."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from perpetua.api.eip712 import eth_private_digest
from tests.api.test_api import make_client, onboard
from tests.api.trader import Trader, now_iso


def eth_headers(trader: Trader, method: str, path: str, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or now_iso()
    sig = trader.eth.sign_recoverable(eth_private_digest(trader.network_id, method, path, "{}", ts), hasher=None)
    return {"DYDX-SIGNATURE": "0x" + sig[:64].hex() + format(sig[64] + 27, "02x") + "00", "DYDX-TIMESTAMP": ts,
            "DYDX-ETHEREUM-ADDRESS": trader.address}


def accounts_status(client: TestClient, trader: Trader, creds: dict[str, str]) -> int:
    saved = trader.credentials
    trader.credentials = creds
    try:
        return client.get("/v3/accounts", headers=trader.headers("GET", "/v3/accounts")).status_code
    finally:
        trader.credentials = saved


def test_api_keys_and_recovery(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        trader = onboard(client, Trader(501))
        resp = client.post("/v3/api-keys", headers=eth_headers(trader, "POST", "/v3/api-keys"))
        assert resp.status_code == 201, resp.text
        new_key = resp.json()["apiKey"]
        assert accounts_status(client, trader, new_key) == 200
        keys = client.get("/v3/api-keys", headers=trader.headers("GET", "/v3/api-keys")).json()["apiKeys"]
        assert new_key["key"] in keys and trader.credentials["key"] in keys
        recovery = client.get("/v3/recovery", headers=eth_headers(trader, "GET", "/v3/recovery")).json()
        assert recovery["positionId"] == str(trader.position_id) and recovery["quoteBalance"] == "10000"
        # Refused: another address's signature, an old timestamp, a user never onboarded.
        other = Trader(502)
        bad = eth_headers(other, "POST", "/v3/api-keys")
        bad["DYDX-ETHEREUM-ADDRESS"] = trader.address
        assert client.post("/v3/api-keys", headers=bad).status_code == 401
        old = eth_headers(trader, "POST", "/v3/api-keys", "2020-01-01T00:00:00.000Z")
        assert client.post("/v3/api-keys", headers=old).status_code == 401
        assert client.post("/v3/api-keys", headers=eth_headers(other, "POST", "/v3/api-keys")).status_code == 404
        assert client.post("/v3/api-keys").status_code in (400, 401)
    with make_client(tmp_path) as client:  # the new key was journaled
        assert accounts_status(client, trader, new_key) == 200
        path = f"/v3/api-keys?apiKey={new_key['key']}"
        assert client.delete(path, headers=eth_headers(trader, "DELETE", path)).status_code == 200
        assert accounts_status(client, trader, new_key) == 401
        assert client.delete(path, headers=eth_headers(trader, "DELETE", path)).status_code == 404
        assert accounts_status(client, trader, trader.credentials) == 200
