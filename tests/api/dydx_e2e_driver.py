"""Runs under .venv-dydx: the official dydx-v3-python client against a live Perpetua, unpatched
(only host and keys). Reads {"host", "eth_key_maker", "eth_key_taker"} on stdin, prints one JSON
report on stdout."""

from __future__ import annotations

import json
import sys
import time

from dydx3 import Client
from dydx3.constants import NETWORK_ID_SEPOLIA


def onboard(host: str, eth_key: str) -> tuple[Client, dict]:
    client = Client(host=host, network_id=NETWORK_ID_SEPOLIA, eth_private_key=eth_key)
    keys = client.onboarding.derive_stark_key()
    client.stark_private_key = keys["private_key"]
    answer = client.onboarding.create_user(
        stark_public_key=keys["public_key"], stark_public_key_y_coordinate=keys["public_key_y_coordinate"]
    ).data
    # The API key the server answers must equal the one the client derives on its own.
    assert answer["apiKey"] == client.api_key_credentials, (answer["apiKey"], client.api_key_credentials)
    client = Client(host=host, network_id=NETWORK_ID_SEPOLIA, eth_private_key=eth_key,
                    stark_private_key=keys["private_key"])
    return client, answer


def main() -> None:
    args = json.load(sys.stdin)
    host = args["host"]
    report: dict = {}
    maker, _onboarded = onboard(host, args["eth_key_maker"])
    taker, _ = onboard(host, args["eth_key_taker"])
    report["markets"] = sorted(maker.public.get_markets().data["markets"])
    report["faucet"] = maker.private.request_testnet_tokens().data["transfer"]["creditAmount"]
    taker.private.request_testnet_tokens()
    account = maker.private.get_account().data["account"]
    report["account_id"] = account["id"]
    report["position_id"] = account["positionId"]
    report["equity"] = account["equity"]
    t_account = taker.private.get_account().data["account"]
    expiration = time.time() + 3600
    resting = maker.private.create_order(
        position_id=account["positionId"], market="BTC-USD", side="SELL", order_type="LIMIT", post_only=False,
        size="0.01", price="40100", limit_fee="0.0005", expiration_epoch_seconds=expiration,
    ).data["order"]
    far = maker.private.create_order(
        position_id=account["positionId"], market="BTC-USD", side="SELL", order_type="LIMIT", post_only=True,
        size="0.002", price="45000", limit_fee="0.0005", expiration_epoch_seconds=expiration,
    ).data["order"]
    report["placed"] = [resting["status"], far["status"]]
    report["listed"] = sorted(o["id"] for o in maker.private.get_orders(market="BTC-USD").data["orders"])
    report["expected_listed"] = sorted([resting["id"], far["id"]])
    report["book_asks"] = maker.public.get_orderbook(market="BTC-USD").data["asks"]
    taken = taker.private.create_order(
        position_id=t_account["positionId"], market="BTC-USD", side="BUY", order_type="LIMIT", post_only=False,
        size="0.004", price="40200", limit_fee="0.001", expiration_epoch_seconds=expiration, time_in_force="IOC",
    ).data["order"]
    report["taker_status"] = taken["status"]
    report["maker_fills"] = maker.private.get_fills(market="BTC-USD").data["fills"]
    report["taker_fills"] = taker.private.get_fills().data["fills"]
    report["maker_positions"] = maker.private.get_positions(market="BTC-USD").data["positions"]
    report["taker_positions"] = taker.private.get_positions().data["positions"]
    report["canceled"] = maker.private.cancel_order(order_id=far["id"]).data["cancelOrder"]["status"]
    report["cancel_all"] = [o["status"] for o in maker.private.cancel_all_orders(market="BTC-USD").data["cancelOrders"]]
    report["open_after"] = maker.private.get_orders().data["orders"]
    report["trades"] = maker.public.get_trades(market="BTC-USD").data["trades"]
    report["transfers"] = len(maker.private.get_transfers().data["transfers"])
    try:
        maker.private.cancel_order(order_id=far["id"])
        report["second_cancel"] = "accepted"
    except Exception as exc:  # DydxApiError
        report["second_cancel"] = getattr(exc, "status_code", repr(exc))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
