"""A minimal v3 trading client (the load benchmark's and the API tests' trader): onboarding
signature (secp256k1 via coincurve), STARK order signatures and request HMACs, written with Perpetua's
own crypto (the official client is exercised separately, in the slow tier). It builds requests; the
caller sends them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from coincurve import PrivateKey

from perpetua.api.eip712 import address_of, onboarding_digest
from perpetua.crypto.api_auth import request_path_with_query, sign_request
from perpetua.crypto.dydx_v3 import build_limit_order
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import hash_limit_order
from perpetua.crypto.signatures import sign

FIELD_PRIME = 2**251 + 17 * 2**192 + 1
BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89


def stark_y(x: int) -> int:
    """A y of the STARK public key x on the curve (Tonelli-Shanks; the server checks the point)."""
    a, p = (x**3 + x + BETA) % FIELD_PRIME, FIELD_PRIME
    q, s = p - 1, 0
    while q % 2 == 0:
        q, s = q // 2, s + 1
    z = 2
    while pow(z, (p - 1) // 2, p) != p - 1:
        z += 1
    m, c, t, r = s, pow(z, q, p), pow(a, q, p), pow(a, (q + 1) // 2, p)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2, i = t2 * t2 % p, i + 1
        b = pow(c, 1 << (m - i - 1), p)
        m, c, t, r = i, b * b % p, t * b * b % p, r * b % p
    return r


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_iso() -> str:
    return iso_ms(time.time_ns() // 1_000_000)


class Trader:
    def __init__(self, seed: int, network_id: int = 11155111) -> None:
        self.eth = PrivateKey(seed.to_bytes(32, "big"))
        self.address = address_of(self.eth.public_key)
        self.stark_private = private_key_from_seed(seed.to_bytes(8, "big"))
        self.stark_public = public_key(self.stark_private)
        self.network_id = network_id
        self.credentials: dict[str, str] = {}
        self.position_id = 0
        self.n = 0

    def onboarding_signature(self) -> str:
        sig = self.eth.sign_recoverable(onboarding_digest(self.network_id), hasher=None)
        return "0x" + sig[:64].hex() + format(sig[64] + 27, "02x") + "00"

    def onboarding_request(self) -> tuple[dict[str, str], dict[str, str]]:
        x = self.stark_public
        y = stark_y(x)
        headers = {"DYDX-SIGNATURE": self.onboarding_signature(), "DYDX-ETHEREUM-ADDRESS": self.address}
        return headers, {"starkKey": f"{x:064x}", "starkKeyYCoordinate": f"{y:064x}"}

    def onboarded(self, answer: dict[str, Any]) -> None:
        self.credentials = answer["apiKey"]
        self.position_id = int(answer["account"]["positionId"])

    def headers(self, method: str, path: str, body: dict[str, Any] | None = None,
                params: list[tuple[str, Any]] | None = None) -> dict[str, str]:
        target = request_path_with_query(path, params or [])
        text = json.dumps(body, separators=(",", ":")) if body else ""
        return self.signed_headers(method, target, text)

    def signed_headers(self, method: str, target: str, text: str) -> dict[str, str]:
        """The v3 HMAC headers for a request to ``target`` (path and query) with body ``text``, signed now."""
        ts = now_iso()
        return {
            "DYDX-API-KEY": self.credentials["key"], "DYDX-PASSPHRASE": self.credentials["passphrase"],
            "DYDX-TIMESTAMP": ts, "DYDX-SIGNATURE": sign_request(self.credentials["secret"], ts, method, target, text),
        }

    def order(self, side: str, size: str, price: str, *, market: str = "BTC-USD", limit_fee: str = "0.001",
              tif: str = "GTT", post_only: bool = False, client_id: str | None = None, **extra: Any) -> dict[str, Any]:
        self.n += 1
        client_id = client_id or f"{self.address[-6:]}-{self.n}-{time.time_ns()}"
        expiration_ms = (int(time.time()) + 3600) * 1000
        msg = build_limit_order(market=market, side=side, position_id=self.position_id, size=size, price=price,
                                limit_fee=limit_fee, client_id=client_id, expiration_ms=expiration_ms)
        signature = sign(self.stark_private, hash_limit_order(msg)).to_hex()
        body = {"market": market, "side": side, "type": "LIMIT", "timeInForce": tif, "size": size, "price": price,
                "limitFee": limit_fee, "expiration": iso_ms(expiration_ms),
                "postOnly": post_only, "clientId": client_id, "signature": signature}
        body.update(extra)
        return body
