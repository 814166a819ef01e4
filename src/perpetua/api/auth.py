"""Request authentication (dYdX v3 API-key HMAC) and per-key rate limits, as FastAPI dependencies."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from perpetua.api.errors import ApiError, from_crypto
from perpetua.api.exchange import Exchange
from perpetua.crypto.api_auth import (
    HEADER_ACCOUNT_NUMBER,
    HEADER_API_KEY,
    HEADER_PASSPHRASE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    ApiKeyCredentials,
    authenticate_request,
)
from perpetua.crypto.errors import CryptoError


class RateLimiter:
    """Token buckets by key: ``rate`` per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise ApiError(429, "RATE_LIMITED", f"more than {self.rate:g} requests/s for this key; retry later")
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # forget idle keys
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the user's Ethereum address and the account the request acts on."""

    eth_address: str
    account: dict[str, Any]

    @property
    def position_id(self) -> int:
        return int(self.account["position_id"])


def exchange_of(request: Request) -> Exchange:
    ex: Exchange = request.app.state.exchange
    return ex


def public_rate_limit(request: Request) -> None:
    limiter: RateLimiter = request.app.state.public_limiter
    limiter.check(request.client.host if request.client else "?")


def request_target(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    target = raw.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _header(request: Request, name: str) -> str:
    value = request.headers.get(name)
    if not value:
        raise ApiError(401, f"{name}.missing", f"the {name} header is required", name)
    return value


async def authenticated(request: Request) -> Principal:
    """The caller of a private endpoint, checked with the v3 HMAC scheme; the account comes from
    DYDX-ACCOUNT-NUMBER (default 0)."""
    ex = exchange_of(request)
    key = _header(request, HEADER_API_KEY)
    request.app.state.private_limiter.check(key)
    passphrase = _header(request, HEADER_PASSPHRASE)
    timestamp = _header(request, HEADER_TIMESTAMP)
    signature = _header(request, HEADER_SIGNATURE)
    row = ex.read.api_key(key)
    if row is None:
        raise ApiError(401, "api_key.unknown", "no such API key", "DYDX-API-KEY")
    credentials = ApiKeyCredentials(row["key"], row["secret"], row["passphrase"])
    body = await request.body()
    try:
        authenticate_request(
            credentials, api_key=key, passphrase=passphrase, timestamp=timestamp, signature=signature,
            method=request.method, request_target=request_target(request), raw_body=body,
            now_ms=time.time_ns() // 1_000_000,
        )
    except CryptoError as err:
        raise from_crypto(err) from None
    number_text = request.headers.get(HEADER_ACCOUNT_NUMBER, "0")
    if not number_text.isdigit() or len(number_text) > 6:
        raise ApiError(400, "INVALID_FIELD", "DYDX-ACCOUNT-NUMBER: must be a small non-negative integer", HEADER_ACCOUNT_NUMBER)
    account = ex.read.account(row["eth_address"], int(number_text))
    if account is None:
        raise ApiError(404, "UNKNOWN_ACCOUNT", f"no account number {number_text} for this user", HEADER_ACCOUNT_NUMBER)
    return Principal(row["eth_address"], account)
