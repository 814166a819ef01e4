"""The dashboard's demo account: a v3 user whose keys the server holds (DEVELOPMENT ONLY).

Its STARK key is the demo market's (``sim.demo_market.demo_private_key``); its Ethereum address and
API key are fixed, derived from a public seed, so anyone can read them: the account is a toy on a
local exchange. Real accounts keep their keys in their own client (docs/dashboard.md).

Orders are built and signed here exactly as a v3 client does (``crypto.dydx_v3.build_limit_order``,
StarkEx order hash, STARK signature) and handed to the API's own order route, which verifies the
signature against the account's key and submits through the serial exchange.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from dataclasses import dataclass
from typing import Any

from perpetua.api.v3format import account_id_of, iso, user_id_of
from perpetua.core.markets import Market
from perpetua.crypto.assets import Network
from perpetua.crypto.dydx_v3 import build_limit_order
from perpetua.crypto.keys import public_key
from perpetua.crypto.messages import hash_limit_order
from perpetua.crypto.signatures import sign
from perpetua.sim.demo_market import DEMO_ACCOUNT, demo_private_key

ORDER_LIFETIME_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    position_id: int
    stark_private_key: int
    stark_public_key: int
    eth_address: str
    api_key: str
    api_secret: str
    api_passphrase: str

    @property
    def account_id(self) -> str:
        return account_id_of(self.eth_address, 0)

    def create_meta(self) -> dict[str, Any]:
        """The v3 fields the read models need for the account's CreateAccount (as onboarding gives)."""
        return {
            "ethAddress": self.eth_address, "userId": user_id_of(self.eth_address), "accountId": self.account_id,
            "accountNumber": 0, "starkKeyYCoordinate": None,
            "apiKey": {"key": self.api_key, "secret": self.api_secret, "passphrase": self.api_passphrase},
        }


def demo_identity(position_id: int = DEMO_ACCOUNT) -> DemoIdentity:
    """The demo account's keys: fixed, public, development only."""
    private = demo_private_key(position_id)

    def derive(label: str) -> bytes:
        return hashlib.sha256(f"perpetua-demo-account-{position_id}-{label}".encode()).digest()

    key = derive("api-key").hex()
    api_key = f"{key[:8]}-{key[8:12]}-4{key[13:16]}-8{key[17:20]}-{key[20:32]}"
    return DemoIdentity(
        position_id=position_id,
        stark_private_key=private,
        stark_public_key=public_key(private),
        eth_address="0x" + derive("eth-address")[:20].hex(),
        api_key=api_key,
        api_secret=base64.urlsafe_b64encode(derive("api-secret")).decode(),
        api_passphrase=base64.urlsafe_b64encode(derive("api-passphrase")[:15]).decode(),
    )


_client_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class SignedFields:
    client_id: str
    expiration: str
    limit_fee: str
    signature: str


def sign_order(identity: DemoIdentity, market: Market, side: str, size: str, price: str, network: Network,
               now_ms: int | None = None) -> SignedFields:
    """Build the v3 order for these fields and sign it with the demo account's STARK key."""
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    client_id = f"dashboard-{now_ms}-{next(_client_ids)}"
    expiration_ms = now_ms + ORDER_LIFETIME_MS
    limit_fee = str(max(market.maker_fee_ppm, market.taker_fee_ppm) / 1_000_000)
    order = build_limit_order(
        market=market.market_id, side=side, position_id=identity.position_id, size=size, price=price,
        limit_fee=limit_fee, client_id=client_id, expiration_ms=expiration_ms, network=network,
    )
    signature = sign(identity.stark_private_key, hash_limit_order(order))
    expiration = iso(expiration_ms * 1_000_000)
    assert expiration is not None
    return SignedFields(client_id, expiration, limit_fee, signature.to_hex())
