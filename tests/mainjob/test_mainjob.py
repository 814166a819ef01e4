"""The main job in process: the live market trades through the API's exchange, the oracle moves by
signed ticks, funding runs, and the demo account's orders go through the v3 order route."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from perpetua.core.events import OraclePriceUpdated
from perpetua.core.markets import load_config
from perpetua.mainjob.app import UpOptions, build_app, fresh_data_dir
from perpetua.mainjob.demo_account import demo_identity
from perpetua.mainjob.live import EntryBook, market_timings
from perpetua.sim.demo_market import DEMO_ACCOUNT

CONFIG = load_config()


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = fresh_data_dir(tmp_path_factory.mktemp("up"))
    app = build_app(UpOptions(data_dir=str(data), speed=600, candles_limit=120))
    with TestClient(app) as c:
        wait_for(lambda: c.get("/mainjob/state").json()["replay"]["fills"] > 50)
        yield c


def test_the_market_trades_through_the_api_exchange(client: TestClient) -> None:
    ex = client.app.state.exchange  # type: ignore[attr-defined]
    book = client.get("/v3/orderbook/BTC-USD").json()
    assert book["bids"] and book["asks"]
    assert Decimal(book["bids"][0]["price"]) < Decimal(book["asks"][0]["price"])
    assert client.get("/v3/trades/BTC-USD").json()["trades"]
    assert ex.journal.last_seq() == ex.seq > 100  # every command journaled
    assert ex.sequencer.state.accounts[DEMO_ACCOUNT].collateral == 10_000 * 10**6
    ex.sequencer.state.check()


def test_oracle_moves_by_signed_ticks_and_funding_ticks(client: TestClient) -> None:
    ex = client.app.state.exchange  # type: ignore[attr-defined]
    seen: list[OraclePriceUpdated] = []
    ex.listeners.append(lambda records, events: seen.extend(e for evs in events for e in evs if isinstance(e, OraclePriceUpdated)))
    wait_for(lambda: len(seen) >= 2, 10)
    assert all(e.signatures == 5 for e in seen)  # the five development signers
    interval = client.get("/mainjob/state").json()["market"]["fundingIntervalS"]
    assert interval == 6.0  # an hour at 600x
    wait_for(lambda: client.get("/mainjob/state").json()["fundingRates"], interval * 3)
    st = client.get("/mainjob/state").json()["market"]
    assert not st["stale"] and st["nextFundingMs"] is not None


def test_demo_orders_go_through_the_v3_order_route(client: TestClient) -> None:
    ex = client.app.state.exchange  # type: ignore[attr-defined]
    r = client.post("/mainjob/demo/orders", json={"side": "BUY", "type": "LIMIT", "size": "0.01", "price": "20000"})
    assert r.status_code == 201, r.text
    order = r.json()["order"]
    assert order["status"] == "OPEN" and len(order["signature"]) == 128
    row = ex.read.order(int(order["id"]))
    assert row["signature"] == order["signature"] and row["hash"]  # the API verified and recorded it
    assert {"price": "20000", "size": "0.01"} in client.get("/v3/orderbook/BTC-USD").json()["bids"]
    # the same order, through the official path, authenticates with the demo API key
    ident = demo_identity()
    assert ex.read.api_key(ident.api_key)["eth_address"] == ident.eth_address
    state = client.get("/mainjob/state").json()["account"]
    assert [o["id"] for o in state["orders"]] == [order["id"]]
    assert client.delete(f"/mainjob/demo/orders/{order['id']}").status_code == 200
    assert client.get("/mainjob/state").json()["account"]["orders"] == []


def test_preview_then_market_order_opens_the_position_it_announced(client: TestClient) -> None:
    p = client.post("/mainjob/demo/preview", json={"side": "BUY", "size": "1"}).json()
    assert p["liquidationPriceBefore"] is None and p["liquidationPriceAfter"] is not None
    assert Decimal(p["liquidationPriceAfter"]) < Decimal(p["averagePrice"])
    r = client.post("/mainjob/demo/orders", json={"side": "BUY", "type": "MARKET", "size": "1"})
    assert r.status_code == 201, r.text
    acct = client.get("/mainjob/state").json()["account"]
    (pos,) = acct["positions"]
    assert pos["side"] == "LONG" and pos["size"] == "1" and pos["entryPrice"] and pos["liquidationPrice"]
    assert Decimal(acct["marginRatio"]) > 0
    # the preview's liquidation price is the position's, up to the price moves since
    assert abs(Decimal(pos["liquidationPrice"]) - Decimal(p["liquidationPriceAfter"])) < Decimal(p["averagePrice"]) / 20
    refused = client.post("/mainjob/demo/orders", json={"side": "BUY", "type": "MARKET", "size": "100"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"]
    assert client.post("/mainjob/demo/orders", json={"side": "BUY", "type": "LIMIT", "size": "1"}).status_code == 400


def test_every_order_type_is_accepted(client: TestClient) -> None:
    mark = Decimal(client.get("/mainjob/state").json()["market"]["oraclePrice"])
    below, above = str(int(mark * Decimal("0.8"))), str(int(mark * Decimal("1.2")))
    orders = [
        {"side": "SELL", "type": "STOP_LIMIT", "size": "0.01", "price": below, "triggerPrice": below},
        {"side": "SELL", "type": "STOP_MARKET", "size": "0.01", "triggerPrice": below},
        {"side": "SELL", "type": "TAKE_PROFIT", "size": "0.01", "price": above, "triggerPrice": above},
        {"side": "SELL", "type": "TAKE_PROFIT_MARKET", "size": "0.01", "triggerPrice": above},
        {"side": "SELL", "type": "TRAILING_STOP", "size": "0.01", "trailingPercent": "-10"},
        {"side": "SELL", "type": "LIMIT", "size": "0.01", "price": above, "postOnly": True},
    ]
    for body in orders:
        r = client.post("/mainjob/demo/orders", json=body)
        assert r.status_code == 201, (body, r.text)
        assert r.json()["order"]["status"] in ("OPEN", "UNTRIGGERED")


def test_dashboard_page_and_plotly_bundle_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/vendor/plotly.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200


def test_entry_price_follows_fills() -> None:
    book = EntryBook(1)
    book.fill("BTC-USD", 10, 100)
    book.fill("BTC-USD", 10, 200)
    assert book.entries["BTC-USD"] == 150
    book.fill("BTC-USD", -5, 300)  # reducing keeps the entry
    assert book.entries["BTC-USD"] == 150
    book.fill("BTC-USD", -25, 50)  # flipping restarts at the fill price
    assert book.entries["BTC-USD"] == 50 and book.sizes["BTC-USD"] == -10
    book.fill("BTC-USD", 10, 60)
    assert "BTC-USD" not in book.entries


def test_timings_compress_funding_with_speed() -> None:
    m = market_timings(CONFIG, 60).markets["BTC-USD"]
    assert m.funding_interval_ns == 60 * 10**9 and m.premium_sample_interval_ns == 10**9
    assert market_timings(CONFIG, 60).markets["BTC-USD"].oracle_max_age_ns == CONFIG.markets["BTC-USD"].oracle_max_age_ns


def test_fresh_data_dir_removes_only_the_journal(tmp_path: Path) -> None:
    (tmp_path / "journal.db").write_text("x")
    (tmp_path / "keep.txt").write_text("x")
    fresh_data_dir(tmp_path)
    assert not (tmp_path / "journal.db").exists() and (tmp_path / "keep.txt").exists()
