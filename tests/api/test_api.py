"""The API in process (FastAPI's TestClient, the real exchange behind it): shapes, errors, auth,
malformed input, rate limits, WebSocket channels, recovery across restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perpetua.api.app import create_app
from perpetua.api.config import ServerConfig, load_server_config
from perpetua.api.v3format import account_id_of
from tests.api.trader import Trader


def make_client(data_dir: Path, **settings: Any) -> TestClient:
    cfg = load_server_config(env={}, data_dir=str(data_dir), **settings)
    return TestClient(create_app(cfg))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        yield c


def onboard(client: TestClient, trader: Trader, faucet: bool = True) -> Trader:
    headers, body = trader.onboarding_request()
    resp = client.post("/v3/onboarding", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    trader.onboarded(resp.json())
    if faucet:
        resp = client.post("/v3/testnet/tokens", json={}, headers=trader.headers("POST", "/v3/testnet/tokens"))
        assert resp.status_code == 201, resp.text
    return trader


def post_order(client: TestClient, trader: Trader, body: dict[str, Any]) -> Any:
    return client.post("/v3/orders", json=body, headers=trader.headers("POST", "/v3/orders", body))


def get(client: TestClient, trader: Trader, path: str, params: list[tuple[str, Any]] | None = None) -> Any:
    from perpetua.crypto.api_auth import request_path_with_query

    return client.get(request_path_with_query(path, params or []), headers=trader.headers("GET", path, None, params))


def test_public_endpoints(client: TestClient) -> None:
    markets = client.get("/v3/markets").json()["markets"]
    assert set(markets) == {"BTC-USD", "ETH-USD", "SOL-USD"}
    btc = markets["BTC-USD"]
    assert (btc["tickSize"], btc["stepSize"], btc["minOrderSize"], btc["oraclePrice"]) == ("1", "0.0001", "0.001", "40000")
    assert client.get("/v3/orderbook/BTC-USD").json() == {"asks": [], "bids": []}
    assert client.get("/v3/trades/BTC-USD").json() == {"trades": []}
    assert client.get("/v3/candles/BTC-USD", params={"resolution": "1MIN"}).json() == {"candles": []}
    assert client.get("/v3/stats/BTC-USD").json()["markets"]["BTC-USD"]["baseVolume"] == "0"
    config = client.get("/v3/config").json()
    assert config["networkId"] == "11155111"
    assert config["collateralAssetId"] == hex(0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25)
    assert client.get("/v3/insurance-fund/balance").json() == {"balance": "0"}
    assert client.get("/v3/open-interest").json()["openInterest"]["BTC-USD"] == "0"
    assert client.get("/v3/historical-funding/BTC-USD").json() == {"historicalFunding": []}
    assert "epoch" in client.get("/v3/time").json()


def test_unknown_market_and_bad_query_are_400(client: TestClient) -> None:
    for path in ("/v3/orderbook/NOPE-USD", "/v3/trades/x", "/v3/candles/BTC-USD?resolution=2MIN", "/v3/trades/BTC-USD?limit=1000"):
        resp = client.get(path)
        assert resp.status_code == 400, path
        (err,) = resp.json()["errors"][:1]
        assert err["code"] and err["msg"]


def test_onboarding_trading_and_queries(client: TestClient) -> None:
    maker, taker = onboard(client, Trader(101)), onboard(client, Trader(102))
    account = get(client, maker, f"/v3/accounts/{account_id_of(maker.address)}").json()["account"]
    assert account["equity"] == "10000" and account["positionId"] == str(maker.position_id)
    resp = post_order(client, maker, maker.order("SELL", "0.01", "40100"))
    assert resp.status_code == 201, resp.text
    sell = resp.json()["order"]
    assert (sell["status"], sell["remainingSize"], sell["side"]) == ("OPEN", "0.01", "SELL")
    resp = post_order(client, taker, taker.order("BUY", "0.004", "40200", tif="IOC"))
    assert resp.json()["order"]["status"] == "FILLED"
    fills = get(client, maker, "/v3/fills").json()["fills"]
    assert [(f["side"], f["size"], f["price"], f["liquidity"]) for f in fills] == [("SELL", "0.004", "40100", "MAKER")]
    positions = get(client, taker, "/v3/positions").json()["positions"]
    assert [(p["market"], p["size"]) for p in positions] == [("BTC-USD", "0.004")]
    liq = get(client, maker, "/v3/liquidation-prices").json()["liquidationPrices"]
    assert set(liq) == {"BTC-USD"} and float(liq["BTC-USD"]) > 40000
    orders = get(client, maker, "/v3/orders").json()["orders"]
    assert [(o["id"], o["remainingSize"]) for o in orders] == [(sell["id"], "0.006")]
    assert client.get("/v3/orderbook/BTC-USD").json()["asks"] == [{"price": "40100", "size": "0.006"}]
    assert client.get("/v3/open-interest").json()["openInterest"]["BTC-USD"] == "0.004"
    assert client.get("/v3/trades/BTC-USD").json()["trades"][0]["size"] == "0.004"
    resp = client.delete(f"/v3/orders/{sell['id']}", headers=maker.headers("DELETE", f"/v3/orders/{sell['id']}"))
    assert resp.json()["cancelOrder"]["status"] == "CANCELED"
    assert get(client, maker, "/v3/orders").json()["orders"] == []
    assert len(get(client, maker, "/v3/transfers").json()["transfers"]) == 1


def test_order_rejections(client: TestClient) -> None:
    trader = onboard(client, Trader(103))
    # A core rejection: the error names the field and the stable code.
    resp = post_order(client, trader, trader.order("BUY", "0.01", "40000.5"))
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] in ("TICK_SIZE", "INVALID_FIELD")
    resp = post_order(client, trader, trader.order("BUY", "100", "40000"))
    assert resp.status_code == 400 and resp.json()["errors"][0]["code"] == "INSUFFICIENT_MARGIN"
    # A signature over other fields.
    body = trader.order("BUY", "0.01", "39000")
    body["size"] = "0.02"
    resp = post_order(client, trader, body)
    assert resp.status_code == 400 and resp.json()["errors"][0]["code"] == "signature.invalid"
    # The same signed order twice.
    body = trader.order("BUY", "0.01", "39000")
    assert post_order(client, trader, body).status_code == 201
    resp = post_order(client, trader, body)
    assert resp.status_code == 409
    # limitFee below the fee that applies.
    resp = post_order(client, trader, trader.order("BUY", "0.01", "39000", limit_fee="0.0001"))
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "limitFee"


@pytest.mark.parametrize(
    "change",
    [
        {"size": 1},
        {"size": "1e5"},
        {"price": "9" * 40},
        {"size": "123456789012345678.123"},
        {"side": "HOLD"},
        {"postOnly": "yes"},
        {"unknownField": 1},
        {"signature": "zz"},
        {"expiration": "tomorrow"},
        {"market": "NOPE-USD"},
    ],
)
def test_malformed_orders_are_4xx_and_never_reach_the_sequencer(client: TestClient, change: dict[str, Any]) -> None:
    trader = onboard(client, Trader(104))
    app_ex = client.app.state.exchange  # type: ignore[attr-defined]
    before = app_ex.seq
    body = {**trader.order("BUY", "0.01", "39000"), **change}
    resp = post_order(client, trader, body)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["errors"][0]["msg"]
    assert app_ex.seq == before


def test_authentication_failures_are_401(client: TestClient) -> None:
    trader = onboard(client, Trader(105))
    headers = trader.headers("GET", "/v3/accounts")
    assert client.get("/v3/accounts", headers=headers).status_code == 200
    assert client.get("/v3/accounts").status_code == 401
    assert client.get("/v3/accounts", headers={**headers, "DYDX-SIGNATURE": "AAAA"}).status_code == 401
    assert client.get("/v3/accounts", headers={**headers, "DYDX-PASSPHRASE": "x"}).status_code == 401
    assert client.get("/v3/accounts", headers={**headers, "DYDX-API-KEY": "nope"}).status_code == 401
    assert client.get("/v3/positions", headers=headers).status_code == 401  # signed another path
    # Onboarding: a signature by another key, and a second onboarding of the same address.
    other = Trader(106)
    h, body = other.onboarding_request()
    h["DYDX-ETHEREUM-ADDRESS"] = trader.address
    assert client.post("/v3/onboarding", json=body, headers=h).status_code == 401
    h, body = trader.onboarding_request()
    assert client.post("/v3/onboarding", json=body, headers=h).status_code == 409


def test_rate_limit_per_key(tmp_path: Path) -> None:
    with make_client(tmp_path, rate_limit_per_s=1.0, rate_limit_burst=3) as client:
        trader = onboard(client, Trader(107), faucet=False)
        codes = [client.get("/v3/accounts", headers=trader.headers("GET", "/v3/accounts")).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[-1] == 429


def test_openapi_documents_error_responses(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v3/orders"]["post"]
    assert {"400", "401", "404", "409", "429"} <= set(op["responses"])
    assert "/v3/onboarding" in doc["paths"] and "/v3/insurance-fund/balance" in doc["paths"]


def test_websocket_orderbook_trades_and_account(client: TestClient) -> None:
    maker, taker = onboard(client, Trader(108)), onboard(client, Trader(109))
    with client.websocket_connect("/v3/ws") as ws:
        assert ws.receive_json()["type"] == "connected"
        ws.send_json({"type": "subscribe", "channel": "v3_orderbook", "id": "BTC-USD"})
        snap = ws.receive_json()
        assert snap["type"] == "subscribed" and snap["contents"]["bids"] == []
        ws.send_json({"type": "subscribe", "channel": "v3_trades", "id": "BTC-USD"})
        assert ws.receive_json()["type"] == "subscribed"
        from perpetua.crypto.api_auth import sign_request
        from tests.api.trader import now_iso

        ts = now_iso()
        ws.send_json({"type": "subscribe", "channel": "v3_accounts", "accountNumber": "0",
                      "apiKey": maker.credentials["key"], "passphrase": maker.credentials["passphrase"],
                      "timestamp": ts, "signature": sign_request(maker.credentials["secret"], ts, "GET", "/ws/accounts", "")})
        sub = ws.receive_json()
        assert sub["channel"] == "v3_accounts" and sub["contents"]["account"]["positionId"] == str(maker.position_id)
        assert post_order(client, maker, maker.order("SELL", "0.01", "40100")).status_code == 201
        msgs = [ws.receive_json() for _ in range(2)]
        book = next(m for m in msgs if m["channel"] == "v3_orderbook")
        assert book["contents"]["asks"] == [["40100", "0.01"]] and int(book["contents"]["offset"]) > int(snap["contents"]["offset"])
        assert post_order(client, taker, taker.order("BUY", "0.01", "40100", tif="IOC")).status_code == 201
        msgs = [ws.receive_json() for _ in range(3)]
        channels = {m["channel"]: m for m in msgs}
        assert channels["v3_orderbook"]["contents"]["asks"] == [["40100", "0"]]
        assert channels["v3_trades"]["contents"]["trades"][0]["size"] == "0.01"
        assert channels["v3_accounts"]["contents"]["fills"][0]["liquidity"] == "MAKER"
        ids = [m["message_id"] for m in msgs]
        assert ids == sorted(ids)
        ws.send_json({"type": "subscribe", "channel": "v3_nothing", "id": "x"})
        assert ws.receive_json()["type"] == "error"
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"


def test_restart_recovers_state_and_read_models(tmp_path: Path) -> None:
    with make_client(tmp_path, snapshot_every=5) as client:
        maker, taker = onboard(client, Trader(110)), onboard(client, Trader(111))
        for i in range(4):
            assert post_order(client, maker, maker.order("SELL", "0.01", str(40100 + i))).status_code == 201
        assert post_order(client, taker, taker.order("BUY", "0.015", "40101", tif="IOC")).status_code == 201
        ex = client.app.state.exchange  # type: ignore[attr-defined]
        state_hash, seq = ex.sequencer.state_hash(), ex.seq
        orders = get(client, maker, "/v3/orders").json()
    with make_client(tmp_path) as client:
        ex = client.app.state.exchange  # type: ignore[attr-defined]
        assert (ex.sequencer.state_hash(), ex.seq) == (state_hash, seq)
        assert get(client, maker, "/v3/orders").json() == orders
        # The signed orders are still known: resubmitting one is refused.
        assert len(get(client, taker, "/v3/fills").json()["fills"]) == 2


def test_server_config_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[server]\nport = 9001\ninitial_oracle_prices = { "BTC-USD" = "30000" }\n')
    cfg = load_server_config(path, env={"PERPETUA_PORT": "9002", "PERPETUA_RATE_LIMIT_PER_S": "5"})
    assert (cfg.port, cfg.rate_limit_per_s, cfg.initial_oracle_prices) == (9002, 5.0, {"BTC-USD": "30000"})
    path.write_text("[server]\nprot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_server_config(path, env={})
    assert ServerConfig().faucet_enabled and not ServerConfig(network_id=1).faucet_enabled


def test_deleted_read_models_are_rebuilt_past_snapshots(tmp_path: Path) -> None:
    with make_client(tmp_path, snapshot_every=3) as client:
        maker, taker = onboard(client, Trader(112)), onboard(client, Trader(113))
        for i in range(3):
            assert post_order(client, maker, maker.order("SELL", "0.01", str(40100 + i))).status_code == 201
        assert post_order(client, taker, taker.order("BUY", "0.015", "40101", tif="IOC")).status_code == 201
        orders = get(client, maker, "/v3/orders").json()
        fills = get(client, taker, "/v3/fills").json()
    (tmp_path / "read.db").unlink()
    for extra in ("read.db-wal", "read.db-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    with make_client(tmp_path) as client:
        assert get(client, maker, "/v3/orders").json() == orders
        assert get(client, taker, "/v3/fills").json() == fills
