"""API-key HMAC authentication: known answers from dydx-v3-python 2.1.0, then forged, replayed
(stale) and tampered requests.

Vectors: tests/vectors/crypto/dydx_v3.json, sections hmac (signatures produced by the client's
`Private.sign`) and default_api_credentials (dydx-v3-python tests/test_onboarding.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from perpetua.crypto.api_auth import (
    ApiKeyCredentials,
    authenticate_request,
    body_to_sign,
    canonical_body,
    derive_default_api_credentials,
    request_path_with_query,
    sign_request,
)
from perpetua.crypto.dydx_v3 import iso_to_epoch_ms
from perpetua.crypto.errors import AuthenticationError
from tests.crypto.conftest import needs_keccak

CREDENTIALS = ApiKeyCredentials(
    key="30cb6046-8f4a-5677-a19c-a494ccb7c7e5",
    secret="4Yd_6JtH_-I2taoNQKAhkCifnVHQ2Unue88sIeuc",
    passphrase="Db1GQK5KpI_qeddgjF66",
)


@pytest.fixture
def hmac_cases(dydx_vectors: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = dydx_vectors["hmac"]
    assert section["secret"] == CREDENTIALS.secret
    return section


def _authenticate(case: dict[str, Any], timestamp: str, **overrides: Any) -> None:
    arguments: dict[str, Any] = {
        "api_key": CREDENTIALS.key,
        "passphrase": CREDENTIALS.passphrase,
        "timestamp": timestamp,
        "signature": case["signature"],
        "method": case["method"],
        "request_target": case["request_path"],
        "raw_body": case["sent_body"],
    }
    arguments.update(overrides)
    if "now_ms" not in arguments:
        arguments["now_ms"] = iso_to_epoch_ms(timestamp) + 5_000
    authenticate_request(CREDENTIALS, **arguments)


def test_client_signatures_known_answers(hmac_cases: dict[str, Any]) -> None:
    timestamp = hmac_cases["timestamp"]
    for case in hmac_cases["cases"]:
        body = body_to_sign(case["sent_body"])
        assert sign_request(CREDENTIALS.secret, timestamp, case["method"], case["request_path"], body) == (
            case["signature"]
        ), case["name"]
        _authenticate(case, timestamp)


def test_the_signed_body_is_compact_json_and_get_bodies_are_empty(hmac_cases: dict[str, Any]) -> None:
    post = hmac_cases["cases"][0]
    assert body_to_sign(post["sent_body"]) == json.dumps(json.loads(post["sent_body"]), separators=(",", ":"))
    assert body_to_sign("{}") == ""
    assert body_to_sign(b"") == ""
    assert canonical_body({"a": None}) == ""
    assert canonical_body({"b": "1", "a": None, "c": {"d": None}}) == '{"b":"1","c":{"d":null}}'
    assert canonical_body({"name": "é"}) == '{"name":"\\u00e9"}'


def test_query_path_keeps_client_order_and_drops_none() -> None:
    path = request_path_with_query("/v3/fills", [("market", "BTC-USD"), ("orderId", None), ("limit", 50)])
    assert path == "/v3/fills?market=BTC-USD&limit=50"
    assert request_path_with_query("/v3/fills", [("orderId", None)]) == "/v3/fills"


def test_url_encoded_target_still_verifies(hmac_cases: dict[str, Any]) -> None:
    case = hmac_cases["cases"][1]
    encoded = case["request_path"].replace(":", "%3A")
    _authenticate(case, hmac_cases["timestamp"], request_target=encoded)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"signature": "A" * 43 + "="}, "signature.invalid"),
        ({"method": "DELETE"}, "signature.invalid"),
        ({"request_target": "/v3/orders?market=BTC-USD"}, "signature.invalid"),
        ({"raw_body": '{"market": "BTC-USD"}'}, "signature.invalid"),
        ({"passphrase": "wrong"}, "passphrase.mismatch"),
        ({"api_key": "00000000-0000-0000-0000-000000000000"}, "api_key.mismatch"),
        ({"raw_body": "[1, 2]"}, "body.malformed"),
        ({"raw_body": "{not json"}, "body.malformed"),
        ({"raw_body": b"\xff\xfe"}, "body.malformed"),
    ],
)
def test_tampered_requests_are_rejected(hmac_cases: dict[str, Any], overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(AuthenticationError) as raised:
        _authenticate(hmac_cases["cases"][0], hmac_cases["timestamp"], **overrides)
    assert raised.value.code == code


def test_timestamp_window(hmac_cases: dict[str, Any]) -> None:
    case = hmac_cases["cases"][0]
    timestamp = hmac_cases["timestamp"]
    sent_ms = iso_to_epoch_ms(timestamp)
    _authenticate(case, timestamp, now_ms=sent_ms + 30_000)
    _authenticate(case, timestamp, now_ms=sent_ms - 30_000)
    for now_ms in (sent_ms + 30_001, sent_ms - 30_001):  # a replay later on, or a clock far ahead
        with pytest.raises(AuthenticationError) as raised:
            _authenticate(case, timestamp, now_ms=now_ms)
        assert raised.value.code == "timestamp.outside_window"
    with pytest.raises(AuthenticationError) as malformed:
        _authenticate(case, "not a time", now_ms=sent_ms)
    assert malformed.value.code == "timestamp.malformed"


def test_a_different_timestamp_needs_a_different_signature(hmac_cases: dict[str, Any]) -> None:
    case = hmac_cases["cases"][0]
    with pytest.raises(AuthenticationError) as raised:
        _authenticate(case, "2021-01-08T10:06:13.500Z")
    assert raised.value.code == "signature.invalid"


def test_malformed_secret_is_named() -> None:
    with pytest.raises(AuthenticationError) as raised:
        sign_request("not*base64", "t", "GET", "/v3/x", "")
    assert raised.value.code == "api_secret.malformed"


@needs_keccak
def test_default_credentials_from_onboarding_signature(dydx_vectors: dict[str, Any]) -> None:
    for case in dydx_vectors["default_api_credentials"]["cases"]:
        credentials = derive_default_api_credentials(case["signature"])
        assert credentials == ApiKeyCredentials(case["key"], case["secret"], case["passphrase"]), case["network"]
    with pytest.raises(AuthenticationError) as raised:
        derive_default_api_credentials("0x1234")
    assert raised.value.code == "onboarding_signature.malformed"
