"""The official dydx-v3-python client (unpatched: only host and keys) against a server this test
starts: onboarding from nothing, faucet, place / list / cancel orders, fills and positions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.api.server import Server

DRIVER = Path(__file__).with_name("dydx_e2e_driver.py")


@pytest.mark.slow
def test_official_client_trades_end_to_end(tmp_path: Path, dydx_client_python: Path) -> None:
    server = Server(tmp_path / "data").start()
    try:
        request = {"host": server.url, "eth_key_maker": "0x" + "11" * 32, "eth_key_taker": "0x" + "22" * 32}
        result = subprocess.run([str(dydx_client_python), str(DRIVER)], input=json.dumps(request),
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr[-4000:]
        report = json.loads(result.stdout)
    finally:
        server.stop()
    assert report["markets"] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    assert report["faucet"] == "10000" and report["equity"] == "10000"
    assert report["placed"] == ["OPEN", "OPEN"]
    assert report["listed"] == report["expected_listed"]
    assert report["book_asks"][0] == {"price": "40100", "size": "0.01"}
    assert report["taker_status"] == "FILLED"
    (maker_fill,) = report["maker_fills"]
    (taker_fill,) = report["taker_fills"]
    assert (maker_fill["side"], maker_fill["liquidity"], maker_fill["price"], maker_fill["size"]) == (
        "SELL", "MAKER", "40100", "0.004")
    assert (taker_fill["side"], taker_fill["liquidity"], taker_fill["fee"]) == ("BUY", "TAKER", "0.0802")
    assert maker_fill["fee"] == "0.03208"  # 0.004 * 40100 * 0.0002
    assert [(p["side"], p["size"]) for p in report["maker_positions"]] == [("SHORT", "-0.004")]
    assert [(p["side"], p["size"]) for p in report["taker_positions"]] == [("LONG", "0.004")]
    assert report["canceled"] == "CANCELED" and report["cancel_all"] == ["CANCELED"]
    assert report["open_after"] == []
    assert report["trades"][0]["price"] == "40100"
    assert report["second_cancel"] == 400
