"""Cross-verification with the official dYdX v3 client (dydx-v3-python 2.1.0), run as a subprocess
in its own venv (see conftest.py): orders, withdrawals and transfers signed by the client verify in
Perpetua, Perpetua's signatures verify with the client's verifier, both sides convert the same API
fields to the same quantums, and the client's request HMACs authenticate in Perpetua.

Slow: the first run builds .venv-dydx (about a minute with PyPI access), and the client signs in
pure Python (~30 ms a signature, more to verify).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from perpetua.crypto.api_auth import ApiKeyCredentials, authenticate_request, derive_default_api_credentials
from perpetua.crypto.assets import SYNTHETIC_RESOLUTIONS, Network
from perpetua.crypto.dydx_v3 import (
    build_conditional_transfer,
    build_limit_order,
    build_transfer,
    build_withdrawal,
    iso_to_epoch_ms,
)
from perpetua.crypto.errors import CryptoError
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import (
    LimitOrder,
    Transfer,
    Withdrawal,
    hash_limit_order,
    hash_transfer,
    hash_withdrawal,
)
from perpetua.crypto.signatures import Signature, sign, verify
from tests.crypto.conftest import DydxClient, needs_keccak

pytestmark = pytest.mark.slow

NETWORKS = [Network.SEPOLIA, Network.MAINNET]
MARKETS = ["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "1INCH-USD", "TRX-USD"]


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _decimal_text(rng: random.Random, max_units: int, places: int) -> str:
    units = rng.randint(0, max_units)
    fraction = rng.randint(0, 10**places - 1)
    text = f"{units}.{fraction:0{places}d}".rstrip("0").rstrip(".")
    return text or "0"


def _random_orders(rng: random.Random, count: int, *, with_refusals: bool = False) -> list[dict[str, Any]]:
    items = []
    for index in range(count):
        market = rng.choice(MARKETS)
        places = len(str(SYNTHETIC_RESOLUTIONS[market.split("-")[0]])) - 1
        expiration_ms = rng.randint(1_600_000_000_000, 2_000_000_000_000)
        if index % 5 == 0:
            expiration_ms -= expiration_ms % 3_600_000  # exactly on the hour
        items.append(
            {
                "kind": "order",
                "network_id": int(rng.choice(NETWORKS)),
                "market": market,
                "side": rng.choice(["BUY", "SELL"]),
                "position_id": rng.randint(0, 2**63),
                # With refusals, one size in ten is finer than the market's resolution.
                "size": _decimal_text(
                    rng, 10_000, places + 1 if with_refusals and index % 10 == 7 else rng.randint(0, places)
                ),
                "price": _decimal_text(rng, 100_000, rng.randint(0, 9)),
                "limit_fee": _decimal_text(rng, 0, rng.randint(0, 12)),
                "client_id": "".join(rng.choice("abc0123456789é€ ") for _ in range(rng.randint(0, 40))),
                "expiration": _iso(expiration_ms),
                "expiration_epoch_seconds": expiration_ms / 1000,
            }
        )
    return items


def _perpetua_order(item: dict[str, Any]) -> LimitOrder:
    return build_limit_order(
        market=item["market"],
        side=item["side"],
        position_id=item["position_id"],
        size=item["size"],
        price=item["price"],
        limit_fee=item["limit_fee"],
        client_id=item["client_id"],
        expiration_ms=iso_to_epoch_ms(item["expiration"]),
        network=Network(item["network_id"]),
    )


def _with_key(items: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    for item in items:
        private = private_key_from_seed(rng.randbytes(16))
        item["private_key"] = hex(private)
        item["public_key"] = hex(public_key(private))
    return items


def test_client_and_perpetua_convert_api_fields_identically(dydx_client: DydxClient) -> None:
    """300 random orders: the client's StarkEx fields and hash equal Perpetua's, and the two refuse
    the same inputs."""
    rng = random.Random(15)
    items = _random_orders(rng, 300, with_refusals=True)
    answers = dydx_client("convert", items)
    compared = refused = 0
    for item, answer in zip(items, answers, strict=True):
        try:
            order = _perpetua_order(item)
        except CryptoError as error:
            assert "error" in answer, (item, error)
            refused += 1
            continue
        assert "error" not in answer, (item, answer)
        fields = answer["fields"]
        assert order.amount_synthetic == fields["quantums_amount_synthetic"], item
        assert order.amount_collateral == fields["quantums_amount_collateral"], item
        assert order.max_amount_fee == fields["quantums_amount_fee"], item
        assert order.nonce == fields["nonce"], item
        assert order.expiration_hours == fields["expiration_epoch_hours"], item
        assert hash_limit_order(order) == int(answer["hash"], 16), item
        compared += 1
    assert compared >= 250
    assert refused >= 20


def test_orders_signed_by_the_client_verify_in_perpetua(dydx_client: DydxClient) -> None:
    rng = random.Random(151)
    items = _with_key(_random_orders(rng, 12), rng)
    answers = dydx_client("sign", items)
    for item, answer in zip(items, answers, strict=True):
        order = _perpetua_order(item)
        msg_hash = hash_limit_order(order)
        assert msg_hash == int(answer["hash"], 16)
        signature = Signature.from_hex(answer["signature"])
        assert verify(int(item["public_key"], 16), msg_hash, signature.r, signature.s)
        # Deterministic nonces on both sides: the very same signature.
        assert sign(int(item["private_key"], 16), msg_hash).to_hex() == answer["signature"]


def test_orders_signed_by_perpetua_verify_with_the_client(dydx_client: DydxClient) -> None:
    rng = random.Random(152)
    items = _with_key(_random_orders(rng, 6), rng)
    for item in items:
        item["signature"] = sign(int(item["private_key"], 16), hash_limit_order(_perpetua_order(item))).to_hex()
    forged = dict(items[0], signature=items[1]["signature"])
    assert dydx_client("verify", [*items, forged]) == [True] * len(items) + [False]


def _transfer_items(rng: random.Random, kinds: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for kind in kinds:
        expiration_ms = rng.randint(1_600_000_000_000, 2_000_000_000_000)
        receiver = public_key(private_key_from_seed(rng.randbytes(8)))
        items.append(
            {
                "kind": kind,
                "network_id": int(rng.choice(NETWORKS)),
                "position_id": rng.randint(0, 2**63),
                "sender_position_id": rng.randint(0, 2**63),
                "receiver_position_id": rng.randint(0, 2**63),
                "receiver_public_key": hex(receiver),
                "fact_registry_address": "0x" + rng.randbytes(20).hex(),
                "fact": rng.randbytes(32).hex(),
                "amount": _decimal_text(rng, 1_000_000, 6),
                "client_id": str(rng.getrandbits(64)),
                "expiration": _iso(expiration_ms),
                "expiration_epoch_seconds": expiration_ms / 1000,
            }
        )
    return _with_key(items, rng)


def _perpetua_message_hash(item: dict[str, Any]) -> int:
    common = {
        "amount": item["amount"],
        "client_id": item["client_id"],
        "expiration_ms": iso_to_epoch_ms(item["expiration"]),
        "network": Network(item["network_id"]),
    }
    message: Withdrawal | Transfer
    if item["kind"] == "withdrawal":
        message = build_withdrawal(position_id=item["position_id"], **common)
        return hash_withdrawal(message)
    parties = {
        "sender_position_id": item["sender_position_id"],
        "receiver_position_id": item["receiver_position_id"],
        "receiver_public_key": int(item["receiver_public_key"], 16),
    }
    if item["kind"] == "transfer":
        message = build_transfer(**parties, **common)
    else:
        message = build_conditional_transfer(
            **parties,
            fact_registry_address=item["fact_registry_address"],
            fact=bytes.fromhex(item["fact"]),
            **common,
        )
    return hash_transfer(message)


def _both_ways(dydx_client: DydxClient, items: list[dict[str, Any]]) -> None:
    answers = dydx_client("sign", items)
    for item, answer in zip(items, answers, strict=True):
        msg_hash = _perpetua_message_hash(item)
        assert msg_hash == int(answer["hash"], 16), item["kind"]
        signature = Signature.from_hex(answer["signature"])
        assert verify(int(item["public_key"], 16), msg_hash, signature.r, signature.s), item["kind"]
        item["signature"] = sign(int(item["private_key"], 16), msg_hash).to_hex()
    assert dydx_client("verify", items) == [True] * len(items)


def test_withdrawals_and_transfers_both_ways(dydx_client: DydxClient) -> None:
    _both_ways(dydx_client, _transfer_items(random.Random(153), ["withdrawal", "transfer"] * 3))


@needs_keccak
def test_conditional_transfers_both_ways(dydx_client: DydxClient) -> None:
    _both_ways(dydx_client, _transfer_items(random.Random(154), ["conditional_transfer"] * 3))


def test_client_request_signatures_authenticate_in_perpetua(dydx_client: DydxClient) -> None:
    credentials = ApiKeyCredentials(
        key="30cb6046-8f4a-5677-a19c-a494ccb7c7e5",
        secret="4Yd_6JtH_-I2taoNQKAhkCifnVHQ2Unue88sIeuc",
        passphrase="Db1GQK5KpI_qeddgjF66",
    )
    timestamp = "2022-03-04T05:06:07.089Z"
    requests = [
        {"method": "GET", "endpoint": "orders", "params": {"market": "BTC-USD", "status": None, "limit": 10}},
        {"method": "GET", "endpoint": "accounts/c97f5b60-f8c2-5b25-950e-2f1be01bcf4a", "params": {}},
        {"method": "DELETE", "endpoint": "orders", "params": {"market": "ETH-USD"}},
        {
            "method": "POST",
            "endpoint": "withdrawals",
            "data": {"amount": "10.5", "asset": "USDC", "expiration": "2022-04-04T05:06:07.089Z", "clientId": "é1",
                     "signature": "00" * 64, "ethereumAddress": None},
        },
        {"method": "PUT", "endpoint": "users", "data": {"userData": {"nested": [1, 2.5, None]}, "email": None}},
    ]
    items = [dict(request, timestamp=timestamp, **vars_of(credentials)) for request in requests]
    answers = dydx_client("sign_request", items)
    now_ms = iso_to_epoch_ms(timestamp) + 1_000
    for request, answer in zip(requests, answers, strict=True):
        # What reaches the server: the request target, and a body the client dumps with default separators.
        raw_body = answer["sent_body"] if request["method"] in ("POST", "PUT") else json.dumps({})
        authenticate_request(
            credentials,
            api_key=credentials.key,
            passphrase=credentials.passphrase,
            timestamp=timestamp,
            signature=answer["signature"],
            method=request["method"],
            request_target=answer["request_path"],
            raw_body=raw_body,
            now_ms=now_ms,
        )


def vars_of(credentials: ApiKeyCredentials) -> dict[str, str]:
    return {"key": credentials.key, "secret": credentials.secret, "passphrase": credentials.passphrase}


@needs_keccak
def test_default_credentials_match_the_client(dydx_client: DydxClient) -> None:
    items = [
        {"eth_private_key": "0x" + random.Random(seed).randbytes(32).hex(), "network_id": int(network)}
        for seed, network in [(1, Network.MAINNET), (2, Network.SEPOLIA)]
    ]
    for answer in dydx_client("onboarding", items):
        expected = answer["credentials"]
        derived = derive_default_api_credentials(answer["signature"])
        assert derived == ApiKeyCredentials(expected["key"], expected["secret"], expected["passphrase"])
