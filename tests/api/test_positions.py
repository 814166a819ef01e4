"""Position fields derived by the read models from fills (average entry, realized PnL on reductions,
flips) and funding payments (net funding); sizes always the state's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.test_api import client as client
from tests.api.test_api import get, onboard, post_order
from tests.api.trader import Trader


def trade(api: TestClient, maker: Trader, taker: Trader, taker_side: str, size: str, price: str) -> None:
    maker_side = "SELL" if taker_side == "BUY" else "BUY"
    assert post_order(api, maker, maker.order(maker_side, size, price)).status_code == 201
    resp = post_order(api, taker, taker.order(taker_side, size, price, tif="IOC"))
    assert resp.status_code == 201 and resp.json()["order"]["status"] == "FILLED", resp.text


def test_entry_price_realized_pnl_and_flip(client: TestClient) -> None:
    maker, taker = onboard(client, Trader(301)), onboard(client, Trader(302))
    trade(client, maker, taker, "BUY", "0.1", "40000")
    trade(client, maker, taker, "BUY", "0.1", "40400")
    (pos,) = get(client, taker, "/v3/positions").json()["positions"]
    assert (pos["side"], pos["size"], pos["entryPrice"], pos["sumOpen"], pos["realizedPnl"]) == ("LONG", "0.2", "40200", "0.2", "0")
    assert pos["unrealizedPnl"] == "-40"  # 0.2 x (40000 oracle - 40200)
    assert pos["netFunding"] == "0" and pos["createdAt"] is not None
    trade(client, maker, taker, "SELL", "0.05", "40800")  # realizes 0.05 x 600
    (pos,) = get(client, taker, "/v3/positions").json()["positions"]
    assert (pos["size"], pos["entryPrice"], pos["realizedPnl"], pos["sumClose"], pos["exitPrice"]) == ("0.15", "40200", "30", "0.05", "40800")
    trade(client, maker, taker, "SELL", "0.25", "40100")  # closes 0.15 (-15), opens 0.1 short
    positions = get(client, taker, "/v3/positions").json()["positions"]
    (short,) = [p for p in positions if p["status"] == "OPEN"]
    assert (short["side"], short["size"], short["entryPrice"], short["realizedPnl"], short["unrealizedPnl"]) == (
        "SHORT", "-0.1", "40100", "0", "10")
    (closed,) = get(client, taker, "/v3/positions", [("status", "CLOSED")]).json()["positions"]
    assert (closed["status"], closed["side"], closed["size"], closed["maxSize"]) == ("CLOSED", "LONG", "0", "0.2")
    assert (closed["entryPrice"], closed["exitPrice"], closed["realizedPnl"], closed["sumClose"]) == ("40200", "40275", "15", "0.2")
    assert closed["closedAt"] is not None
    # The maker's side mirrors it; the account's openPositions carry the same fields.
    account = get(client, maker, "/v3/accounts").json()["accounts"][0]
    mpos = account["openPositions"]["BTC-USD"]
    assert (mpos["side"], mpos["size"], mpos["entryPrice"]) == ("LONG", "0.1", "40100")
    assert get(client, taker, "/v3/positions", [("status", "NOPE")]).status_code == 400
