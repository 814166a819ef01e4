"""One signed v3 order through the checks an exchange runs on it, end to end: a genuine order is
admitted and filled in parts; a forged, a mutated, a replayed and an expired one are refused, each
with its code."""

from __future__ import annotations

import dataclasses

import pytest

from perpetua.crypto.dydx_v3 import build_limit_order, iso_to_epoch_ms
from perpetua.crypto.errors import CryptoError, ExpiredError, ReplayError, SignatureError
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import LimitOrder, hash_limit_order, order_id
from perpetua.crypto.replay import apply_fill, check_not_expired
from perpetua.crypto.signatures import Signature, check_signature, sign

TRADER = private_key_from_seed(b"trader")
TRADER_KEY = public_key(TRADER)
NOW_MS = iso_to_epoch_ms("2024-05-01T12:00:00.000Z")


def _order() -> LimitOrder:
    return build_limit_order(
        market="BTC-USD",
        side="BUY",
        position_id=42,
        size="0.5",
        price="60000",
        limit_fee="0.0005",
        client_id="order-1",
        expiration_ms=NOW_MS + 60_000,
    )


def admit_and_fill(
    filled: dict[int, int], order: LimitOrder, key: int, signature: Signature, fill: int, now_ms: int
) -> int:
    """What the exchange does with a signed order (in this order): expiry, signature, fill capacity."""
    check_not_expired(order.expiration_hours, now_ms)
    msg_hash = hash_limit_order(order)
    check_signature(key, msg_hash, signature)
    return apply_fill(filled, order_id(msg_hash), fill, order.amount_synthetic)


def test_genuine_order_fills_in_parts_and_replay_is_refused() -> None:
    order = _order()
    signature = sign(TRADER, hash_limit_order(order))
    filled: dict[int, int] = {}
    half = order.amount_synthetic // 2
    assert admit_and_fill(filled, order, TRADER_KEY, signature, half, NOW_MS) == half
    assert admit_and_fill(filled, order, TRADER_KEY, signature, half, NOW_MS) == order.amount_synthetic
    with pytest.raises(ReplayError) as raised:  # the same signed order, submitted again
        admit_and_fill(filled, order, TRADER_KEY, signature, 1, NOW_MS)
    assert raised.value.code == "order.overfilled"


def test_forged_order_is_refused() -> None:
    order = _order()
    forger = private_key_from_seed(b"forger")
    signature = sign(forger, hash_limit_order(order))
    with pytest.raises(SignatureError) as raised:
        admit_and_fill({}, order, TRADER_KEY, signature, 1, NOW_MS)
    assert raised.value.code == "signature.invalid"


@pytest.mark.parametrize(
    "change",
    [
        {"amount_synthetic": 10**9},
        {"amount_collateral": 1},
        {"is_buying_synthetic": False},
        {"position_id": 43},
        {"max_amount_fee": 10**12},
    ],
)
def test_mutated_order_is_refused(change: dict[str, object]) -> None:
    order = _order()
    signature = sign(TRADER, hash_limit_order(order))
    with pytest.raises(SignatureError) as raised:
        admit_and_fill({}, dataclasses.replace(order, **change), TRADER_KEY, signature, 1, NOW_MS)
    assert raised.value.code == "signature.invalid"


def test_expired_order_is_refused_even_with_a_good_signature() -> None:
    order = _order()
    signature = sign(TRADER, hash_limit_order(order))
    later = order.expiration_hours * 3_600_000 + 1
    with pytest.raises(ExpiredError) as raised:
        admit_and_fill({}, order, TRADER_KEY, signature, 1, later)
    assert raised.value.code == "expiration_hours.expired"
    assert isinstance(raised.value, CryptoError)
