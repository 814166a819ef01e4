"""Drives the official dYdX v3 client (dydx-v3-python 2.1.0) for the interoperability tests.

Runs under the client's own venv (.venv-dydx, built by conftest.py), never under Perpetua's: it
reads one JSON request {"op": ..., "items": [...]} on stdin and writes one JSON answer on stdout.
Every value that crosses is a string or an int, so nothing depends on either side's types.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _order(item: dict[str, Any]) -> Any:
    from dydx3.starkex.order import SignableOrder

    return SignableOrder(
        network_id=item["network_id"],
        market=item["market"],
        side=item["side"],
        position_id=item["position_id"],
        human_size=item["size"],
        human_price=item["price"],
        limit_fee=item["limit_fee"],
        client_id=item["client_id"],
        expiration_epoch_seconds=item["expiration_epoch_seconds"],
    )


def _withdrawal(item: dict[str, Any]) -> Any:
    from dydx3.starkex.withdrawal import SignableWithdrawal

    return SignableWithdrawal(
        network_id=item["network_id"],
        position_id=item["position_id"],
        human_amount=item["amount"],
        client_id=item["client_id"],
        expiration_epoch_seconds=item["expiration_epoch_seconds"],
    )


def _transfer(item: dict[str, Any]) -> Any:
    from dydx3.starkex.transfer import SignableTransfer

    return SignableTransfer(
        network_id=item["network_id"],
        sender_position_id=item["sender_position_id"],
        receiver_position_id=item["receiver_position_id"],
        receiver_public_key=item["receiver_public_key"],
        human_amount=item["amount"],
        client_id=item["client_id"],
        expiration_epoch_seconds=item["expiration_epoch_seconds"],
    )


def _conditional_transfer(item: dict[str, Any]) -> Any:
    from dydx3.starkex.conditional_transfer import SignableConditionalTransfer

    return SignableConditionalTransfer(
        network_id=item["network_id"],
        sender_position_id=item["sender_position_id"],
        receiver_position_id=item["receiver_position_id"],
        receiver_public_key=item["receiver_public_key"],
        fact_registry_address=item["fact_registry_address"],
        fact=bytes.fromhex(item["fact"]),
        human_amount=item["amount"],
        client_id=item["client_id"],
        expiration_epoch_seconds=item["expiration_epoch_seconds"],
    )


BUILDERS = {
    "order": _order,
    "withdrawal": _withdrawal,
    "transfer": _transfer,
    "conditional_transfer": _conditional_transfer,
}


def convert(item: dict[str, Any]) -> dict[str, Any]:
    """The client's StarkEx representation and hash, without signing; {"error": ...} where the client
    refuses the fields."""
    try:
        signable = BUILDERS[item["kind"]](item)
    except Exception as error:
        return {"error": repr(error)}
    fields = signable.to_starkware()._asdict()
    return {"hash": hex(signable.hash), "fields": {k: v for k, v in fields.items() if isinstance(v, int)}}


def sign(item: dict[str, Any]) -> dict[str, Any]:
    signable = BUILDERS[item["kind"]](item)
    return {"hash": hex(signable.hash), "signature": signable.sign(item["private_key"])}


def verify(item: dict[str, Any]) -> bool:
    signable = BUILDERS[item["kind"]](item)
    return bool(signable.verify_signature(item["signature"], item["public_key"]))


def public_key(item: dict[str, Any]) -> str:
    from dydx3.starkex.helpers import private_key_to_public_hex

    return str(private_key_to_public_hex(item["private_key"]))


def sign_request(item: dict[str, Any]) -> dict[str, str]:
    """Sign like Private._private_request, and report the body exactly as the client sends it."""
    from dydx3 import Client
    from dydx3.helpers.request_helpers import generate_query_path, remove_nones

    credentials = {"key": item["key"], "secret": item["secret"], "passphrase": item["passphrase"]}
    client = Client(host="http://localhost:8080", api_key_credentials=credentials, network_id=11155111)
    path = "/v3/" + generate_query_path(item["endpoint"], item.get("params", {}))
    data = remove_nones(item.get("data", {}))
    signature = client.private.sign(
        request_path=path, method=item["method"], iso_timestamp=item["timestamp"], data=data
    )
    return {"request_path": path, "sent_body": json.dumps(data), "signature": signature}


def onboarding(item: dict[str, Any]) -> dict[str, Any]:
    from dydx3 import Client
    from dydx3.constants import OFF_CHAIN_ONBOARDING_ACTION

    client = Client(
        host="http://localhost:8080", eth_private_key=item["eth_private_key"], network_id=item["network_id"]
    )
    signature = client.onboarding.signer.sign(client.default_address, action=OFF_CHAIN_ONBOARDING_ACTION)
    return {
        "signature": signature,
        "credentials": client.onboarding.recover_default_api_key_credentials(),
    }


OPS = {
    "convert": convert,
    "sign": sign,
    "verify": verify,
    "public_key": public_key,
    "sign_request": sign_request,
    "onboarding": onboarding,
}


def main() -> None:
    request = json.load(sys.stdin)
    operation = OPS[request["op"]]
    json.dump([operation(item) for item in request["items"]], sys.stdout)


if __name__ == "__main__":
    main()
