"""dYdX v3 API-key authentication (HMAC-SHA256), as pure functions.

What the official client does (dydx-v3-python 2.1.0 `modules/private.py`, `helpers/request_helpers.py`,
`helpers/requests.py`):

    message   = timestamp + METHOD + request_path + body
    signature = urlsafe_b64encode(HMAC-SHA256(urlsafe_b64decode(secret), utf8(message)))   (padded)

- request_path is "/v3/<endpoint>" plus "?k=v&k=v" in the client's parameter order, None values
  dropped, values formatted with str() and not URL-encoded.
- body is json.dumps(data minus top-level None values, separators=(",", ":")) with the default
  ensure_ascii and key order, or "" when that dict is empty. The client *sends* the same dict with
  the default ", " / ": " separators, and "{}" for GET and DELETE, so the server must re-serialise
  the JSON it received (`body_to_sign`) rather than MAC the raw bytes.
- Headers: DYDX-API-KEY, DYDX-PASSPHRASE, DYDX-TIMESTAMP (ISO, UTC, ms), DYDX-SIGNATURE. The server
  accepts a timestamp within 30 s of its clock and compares secrets in constant time.
- The WebSocket `v3_accounts` subscription signs timestamp + "GET" + "/ws/accounts" with an empty body.

Default credentials (DY `modules/onboarding.py`) come from the onboarding signature:
keccak(uint256 r) gives the secret, keccak(uint256 s) the key and passphrase (needs keccak).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from perpetua.crypto.dydx_v3 import iso_to_epoch_ms
from perpetua.crypto.errors import AuthenticationError, MessageFieldError, Rule
from perpetua.crypto.keccak import keccak256

TIMESTAMP_WINDOW_MS = 30_000
"""A request timestamp must lie within 30 s of the server clock, either way."""

HEADER_API_KEY = "DYDX-API-KEY"
HEADER_PASSPHRASE = "DYDX-PASSPHRASE"
HEADER_TIMESTAMP = "DYDX-TIMESTAMP"
HEADER_SIGNATURE = "DYDX-SIGNATURE"
HEADER_ACCOUNT_NUMBER = "DYDX-ACCOUNT-NUMBER"


@dataclass(frozen=True, slots=True)
class ApiKeyCredentials:
    """An API key as the v3 API hands it out: key (a UUID), secret (padded base64url), passphrase."""

    key: str
    secret: str
    passphrase: str


def request_path_with_query(path: str, params: Iterable[tuple[str, object]] = ()) -> str:
    """`path` plus "?k=v&..." for the non-None params in order, unencoded (DY `generate_query_path`)."""
    query = "&".join(f"{key}={value}" for key, value in params if value is not None)
    return f"{path}?{query}" if query else path


def canonical_body(data: Mapping[str, object] | None) -> str:
    """The body string the client signs for `data`: compact JSON without top-level None values,
    or "" when nothing is left."""
    if not data:
        return ""
    kept = {key: value for key, value in data.items() if value is not None}
    return json.dumps(kept, separators=(",", ":")) if kept else ""


def body_to_sign(raw_body: bytes | str) -> str:
    """The server's view of the signed body: parse the received JSON and re-serialise it the way
    the client signed it (order kept; {} and an empty body become "").

    Raises:
        AuthenticationError: body.malformed when the body is not a JSON object.
    """
    try:
        text = raw_body.decode("utf-8") if isinstance(raw_body, bytes) else raw_body
    except UnicodeDecodeError:
        raise AuthenticationError("body", Rule.MALFORMED, "the request body is not UTF-8") from None
    if not text.strip():
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        raise AuthenticationError("body", Rule.MALFORMED, "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise AuthenticationError("body", Rule.MALFORMED, "the request body must be a JSON object")
    return canonical_body(data)


def _secret_bytes(secret: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(secret.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise AuthenticationError("api_secret", Rule.MALFORMED, "the secret is not base64url") from None


def sign_request(secret: str, timestamp: str, method: str, request_path: str, body: str) -> str:
    """DYDX-SIGNATURE for a request: base64url(HMAC-SHA256(secret, ts + METHOD + path + body))."""
    message = f"{timestamp}{method.upper()}{request_path}{body}".encode()
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def authenticate_request(
    credentials: ApiKeyCredentials,
    *,
    api_key: str,
    passphrase: str,
    timestamp: str,
    signature: str,
    method: str,
    request_target: str,
    raw_body: bytes | str,
    now_ms: int,
    window_ms: int = TIMESTAMP_WINDOW_MS,
) -> None:
    """Check one API-key request against the stored `credentials` (found by the caller from
    DYDX-API-KEY); return if it is authentic.

    `request_target` is the raw path and query of the HTTP request. If it carries %-escapes, the
    unquoted form is tried too: the client signs values unencoded, its HTTP library may encode them.

    Raises:
        AuthenticationError: api_key.mismatch, timestamp.malformed, timestamp.outside_window,
            passphrase.mismatch, body.malformed, signature.invalid.
    """
    if not _equal(api_key, credentials.key):
        raise AuthenticationError("api_key", Rule.MISMATCH, "the API key does not match these credentials")
    try:
        sent_ms = iso_to_epoch_ms(timestamp, "timestamp")
    except MessageFieldError:
        raise AuthenticationError("timestamp", Rule.MALFORMED, "expected ISO-8601", timestamp) from None
    if abs(now_ms - sent_ms) > window_ms:
        raise AuthenticationError(
            "timestamp", Rule.OUTSIDE_WINDOW, f"more than {window_ms} ms from the server clock", timestamp
        )
    if not _equal(passphrase, credentials.passphrase):
        raise AuthenticationError("passphrase", Rule.MISMATCH, "wrong passphrase for this API key")
    body = body_to_sign(raw_body)
    targets = [request_target]
    if "%" in request_target:
        targets.append(unquote(request_target))
    matched = False
    for target in targets:  # no early exit: both forms cost the same whichever matches
        expected = sign_request(credentials.secret, timestamp, method, target, body)
        matched |= _equal(signature, expected)
    if not matched:
        raise AuthenticationError("signature", Rule.INVALID, "the request signature does not verify")


def derive_default_api_credentials(onboarding_signature: str) -> ApiKeyCredentials:
    """The API key the v3 server creates at onboarding, from the EIP-712 onboarding signature
    ("0x" + r (64 hex) + s (64 hex) + v + type; DY `recover_default_api_key_credentials`):
    hr = keccak(uint256 r), hs = keccak(uint256 s); secret = b64url(hr[:30]),
    key = hs[:16] as a hyphenated UUID, passphrase = b64url(hs[16:31]).

    Raises:
        AuthenticationError: onboarding_signature.malformed.
        DependencyError: keccak.unavailable.
    """
    digits = onboarding_signature[2:] if onboarding_signature[:2] in ("0x", "0X") else onboarding_signature
    try:
        r = bytes.fromhex(digits[0:64])
        s = bytes.fromhex(digits[64:128])
    except ValueError:
        r = s = b""
    if len(r) != 32 or len(s) != 32:
        raise AuthenticationError(
            "onboarding_signature", Rule.MALFORMED, "expected 0x + r (32 bytes) + s (32 bytes) + v + type"
        )
    hashed_r = keccak256(r)
    hashed_s = keccak256(s)
    key_hex = hashed_s[:16].hex()
    key = f"{key_hex[:8]}-{key_hex[8:12]}-{key_hex[12:16]}-{key_hex[16:20]}-{key_hex[20:]}"
    return ApiKeyCredentials(
        key=key,
        secret=base64.urlsafe_b64encode(hashed_r[:30]).decode("ascii"),
        passphrase=base64.urlsafe_b64encode(hashed_s[16:31]).decode("ascii"),
    )
