"""Prices, funding and the insurance fund through the API: the server's funding clock ticks a market
with a one-second interval; funding history, payments, insurance inflows and degraded mode follow."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from perpetua.api.app import create_app
from perpetua.api.config import load_server_config
from perpetua.core.markets import ExchangeConfig, load_config
from perpetua.core.quantities import NS_PER_S, PPB
from perpetua.store.readmodels import ReadModels
from tests.api.test_api import get, onboard, post_order
from tests.api.trader import Trader


def fast_funding_config() -> ExchangeConfig:
    """BTC-USD funds every second at a visible rate; SOL-USD's oracle price goes stale at once."""
    base = load_config()
    markets = dict(base.markets)
    markets["BTC-USD"] = dataclasses.replace(
        markets["BTC-USD"], funding_interval_ns=NS_PER_S, premium_sample_interval_ns=NS_PER_S // 2,
        funding_interest_ppb=PPB // 20,
    )
    markets["SOL-USD"] = dataclasses.replace(markets["SOL-USD"], oracle_max_age_ns=1)
    return dataclasses.replace(base, markets=markets)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = load_server_config(env={}, data_dir=str(tmp_path), clock_interval_s=0.1)
    with TestClient(create_app(cfg, fast_funding_config())) as c:
        yield c


def wait_for(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_funding_history_payments_and_insurance(client: TestClient) -> None:
    maker, taker = onboard(client, Trader(201)), onboard(client, Trader(202))
    assert post_order(client, maker, maker.order("SELL", "0.1", "40000")).status_code == 201
    assert post_order(client, taker, taker.order("BUY", "0.1", "40000", tif="IOC")).status_code == 201

    def paid() -> bool:
        rows = get(client, taker, "/v3/funding").json()["fundingPayments"]
        return any(r["market"] == "BTC-USD" and r["payment"] != "0" for r in rows)

    wait_for(paid)
    history = client.get("/v3/historical-funding/BTC-USD").json()["historicalFunding"]
    assert history and all(h["market"] == "BTC-USD" for h in history)
    assert Decimal(history[0]["rate"]) > 0 and history[0]["price"] == "40000"
    payments = get(client, taker, "/v3/funding", [("market", "BTC-USD")]).json()["fundingPayments"]
    p = next(r for r in payments if r["payment"] != "0")
    assert Decimal(p["payment"]) < 0 and p["positionSize"] == "0.1" and p["price"] == "40000" and Decimal(p["rate"]) > 0
    short = get(client, maker, "/v3/funding").json()["fundingPayments"]
    assert any(Decimal(r["payment"]) > 0 for r in short)  # longs pay shorts
    # The insurance fund: the state's balance; its history is the funding rounding it received.
    ex = client.app.state.exchange  # type: ignore[attr-defined]
    balance = client.get("/v3/insurance-fund/balance").json()["balance"]
    assert Decimal(balance) * 10**6 == ex.sequencer.state.insurance_fund.collateral
    hist = client.get("/v3/insurance-fund/history").json()["history"]
    assert all(h["reason"] == "FUNDING_ROUNDING" and Decimal(h["change"]) > 0 for h in hist)
    if hist:
        assert Decimal(hist[0]["balance"]) <= Decimal(balance)
    # The market: next funding time and the predicted rate come from the core's funding clock.
    btc = client.get("/v3/markets", params={"market": "BTC-USD"}).json()["markets"]["BTC-USD"]
    assert btc["status"] == "ONLINE" and btc["nextFundingAt"] is not None and Decimal(btc["nextFundingRate"]) > 0
    assert client.get("/v3/historical-funding/BTC-USD", params={"effectiveBeforeOrAt": "2000-01-01T00:00:00.000Z"}).json() == {
        "historicalFunding": []
    }
    assert client.get("/v3/historical-funding/BTC-USD", params={"effectiveBeforeOrAt": "soon"}).status_code == 400


def test_degraded_market_status(client: TestClient) -> None:
    markets = client.get("/v3/markets").json()["markets"]
    assert markets["SOL-USD"]["status"] == "DEGRADED" and markets["SOL-USD"]["degraded"] is True
    assert markets["ETH-USD"]["status"] == "ONLINE" and markets["ETH-USD"]["degraded"] is False
    status = client.get("/v3/market-status").json()["markets"]
    assert status["SOL-USD"]["degraded"] and not status["BTC-USD"]["degraded"]
    one = client.get("/v3/market-status/SOL-USD").json()["market"]
    assert one["oraclePrice"] == "100" and Decimal(one["oracleAgeSeconds"]) > Decimal(one["oracleMaxAgeSeconds"])
    assert client.get("/v3/market-status/NOPE-USD").status_code == 400
    prices = client.get("/v3/oracle-prices/BTC-USD").json()["oraclePrices"]
    assert [p["price"] for p in prices] == ["40000"]


def test_read_models_ignore_unknown_events(tmp_path: Path) -> None:
    from perpetua.core.commands import SetOraclePrice
    from perpetua.store.journal import JournalRecord

    @dataclasses.dataclass
    class SomethingNew:
        market_id: str

    read = ReadModels(tmp_path / "read.db")
    read.project_many([(JournalRecord(1, SetOraclePrice(1, "BTC-USD", 5)), [SomethingNew("BTC-USD")])])  # type: ignore[list-item]
    assert read.position == 1
    read.close()


def test_a_failing_projection_is_skipped_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perpetua.core.commands import SetOraclePrice
    from perpetua.core.events import OraclePriceUpdated
    from perpetua.store.journal import JournalRecord

    read = ReadModels(tmp_path / "read.db")

    def boom(*args: object) -> None:
        raise RuntimeError("projection bug")

    ok = (JournalRecord(1, SetOraclePrice(1, "BTC-USD", 5)), [OraclePriceUpdated("BTC-USD", 5)])
    bad = (JournalRecord(2, SetOraclePrice(2, "BTC-USD", 6)), [OraclePriceUpdated("BTC-USD", 6)])
    read.project_many([ok])
    monkeypatch.setattr(ReadModels, "_project", lambda self, record, events: boom())
    read.project_many([bad])
    assert read.position == 2 and [r["price"] for r in read.oracle_prices("BTC-USD")] == [5]
    read.close()
