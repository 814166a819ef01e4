"""dYdX v3 rules: known answers from dydx-v3-python 2.1.0's own tests, and properties of the
amount conversions.

Vectors: tests/vectors/crypto/dydx_v3.json (each section names the client test file it came from).
All expected signatures there are over the Sepolia collateral asset id.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpetua.crypto.assets import (
    COLLATERAL_ASSET_ID_BY_NETWORK,
    SYNTHETIC_RESOLUTIONS,
    Network,
    market_synthetic,
    synthetic_asset_id,
)
from perpetua.crypto.dydx_v3 import (
    Side,
    build_conditional_transfer,
    build_limit_order,
    build_transfer,
    build_withdrawal,
    collateral_quantums,
    expiration_hours,
    fee_quantums,
    iso_to_epoch_ms,
    nonce_from_client_id,
    order_expiration_hours,
    to_quantums_exact,
)
from perpetua.crypto.errors import AmountConversionError, MessageFieldError
from perpetua.crypto.keccak import dydx_private_key_from_bytes, fact_to_condition, transfer_erc20_fact
from perpetua.crypto.keys import public_key
from perpetua.crypto.messages import hash_limit_order, hash_transfer, hash_withdrawal
from perpetua.crypto.signatures import Signature, sign, verify
from tests.crypto.conftest import needs_keccak


def _order_from(case: dict[str, Any], **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "market": case["market"],
        "side": case["side"],
        "position_id": case["position_id"],
        "size": case["size"],
        "price": case["price"],
        "limit_fee": case["limit_fee"],
        "client_id": case["client_id"],
        "expiration_ms": iso_to_epoch_ms(case["expiration"]),
        "network": Network.SEPOLIA,
    }
    fields.update(overrides)
    return build_limit_order(**fields)


def test_order_amounts_and_signatures(dydx_vectors: dict[str, Any]) -> None:
    for case in dydx_vectors["orders"]["cases"]:
        order = _order_from(case)
        assert order.amount_synthetic == case["amount_synthetic"]
        assert order.amount_collateral == case["amount_collateral"]
        assert order.max_amount_fee == case["max_amount_fee"]
        assert order.expiration_hours == case["expiration_hours"]
        assert order.nonce == case["nonce"]
        msg_hash = hash_limit_order(order)
        private = int(case["private_key"], 16)
        assert public_key(private) == int(case["public_key"], 16)
        assert sign(private, msg_hash).to_hex() == case["signature"], case["name"]
        signature = Signature.from_hex(case["signature"])
        assert verify(int(case["public_key"], 16), msg_hash, signature.r, signature.s)


def test_order_fee_and_expiration_edge_cases(dydx_vectors: dict[str, Any]) -> None:
    section = dydx_vectors["orders"]
    case = section["cases"][0]
    fee_case = section["fee_edge_case"]
    assert _order_from(case, limit_fee=fee_case["limit_fee"]).max_amount_fee == fee_case["max_amount_fee"]
    boundary = section["expiration_boundary_case"]
    expiration_ms = iso_to_epoch_ms(boundary["expiration"])
    assert _order_from(case, expiration_ms=expiration_ms).expiration_hours == boundary["expiration_hours"]


def test_order_signed_on_another_network_does_not_verify_here(dydx_vectors: dict[str, Any]) -> None:
    case = dydx_vectors["orders"]["cases"][0]
    signature = Signature.from_hex(case["signature"])
    mainnet_hash = hash_limit_order(_order_from(case, network=Network.MAINNET))
    assert not verify(int(case["public_key"], 16), mainnet_hash, signature.r, signature.s)


def test_withdrawal_vectors(dydx_vectors: dict[str, Any]) -> None:
    for case in dydx_vectors["withdrawals"]["cases"]:
        withdrawal = build_withdrawal(
            position_id=case["position_id"],
            amount=case["amount"],
            client_id=case["client_id"],
            expiration_ms=iso_to_epoch_ms(case["expiration"]),
            network=Network.SEPOLIA,
        )
        assert withdrawal.amount == case["quantums"]
        assert withdrawal.expiration_hours == case["expiration_hours"]
        assert sign(int(case["private_key"], 16), hash_withdrawal(withdrawal)).to_hex() == case["signature"]


def test_transfer_vectors(dydx_vectors: dict[str, Any]) -> None:
    for case in dydx_vectors["transfers"]["cases"]:
        transfer = build_transfer(
            sender_position_id=case["sender_position_id"],
            receiver_position_id=case["receiver_position_id"],
            receiver_public_key=int(case["receiver_public_key"], 16),
            amount=case["amount"],
            client_id=case["client_id"],
            expiration_ms=iso_to_epoch_ms(case["expiration"]),
            network=Network.SEPOLIA,
        )
        assert transfer.amount == case["quantums"]
        assert transfer.expiration_hours == case["expiration_hours"]
        assert transfer.fee_position_id == transfer.sender_position_id
        assert sign(int(case["private_key"], 16), hash_transfer(transfer)).to_hex() == case["signature"]


@needs_keccak
def test_conditional_transfer_vectors(dydx_vectors: dict[str, Any]) -> None:
    for case in dydx_vectors["conditional_transfers"]["cases"]:
        transfer = build_conditional_transfer(
            sender_position_id=case["sender_position_id"],
            receiver_position_id=case["receiver_position_id"],
            receiver_public_key=int(case["receiver_public_key"], 16),
            fact_registry_address=case["fact_registry_address"],
            fact=bytes.fromhex(case["fact"]),
            amount=case["amount"],
            client_id=case["client_id"],
            expiration_ms=iso_to_epoch_ms(case["expiration"]),
            network=Network.SEPOLIA,
        )
        assert transfer.condition is not None
        assert sign(int(case["private_key"], 16), hash_transfer(transfer)).to_hex() == case["signature"]


def test_nonce_vectors(dydx_vectors: dict[str, Any]) -> None:
    for client_id, nonce in dydx_vectors["nonces"]["cases"]:
        assert nonce_from_client_id(client_id) == nonce


@needs_keccak
def test_condition_and_fact_vectors(dydx_vectors: dict[str, Any]) -> None:
    section = dydx_vectors["conditions"]
    for case in section["fact_to_condition"]:
        condition = fact_to_condition(case["fact_registry_address"], bytes.fromhex(case["fact"]))
        assert condition == int(case["condition"], 16)
    for case in section["transfer_erc20_fact"]:
        fact = transfer_erc20_fact(
            case["recipient"], case["token_decimals"], case["amount"], case["token_address"], int(case["salt"], 16)
        )
        assert fact.hex() == case["fact"]


@needs_keccak
def test_private_key_from_bytes_vectors(dydx_vectors: dict[str, Any]) -> None:
    for data_hex, expected in dydx_vectors["private_key_from_bytes"]["cases"]:
        assert dydx_private_key_from_bytes(bytes.fromhex(data_hex)) == int(expected, 16)


@needs_keccak
def test_erc20_fact_rejects_excess_precision() -> None:
    with pytest.raises(AmountConversionError) as raised:
        transfer_erc20_fact("0x" + "12" * 20, 3, "1.2345", "0x" + "aa" * 20, 1)
    assert raised.value.code == "amount.inexact"
    with pytest.raises(MessageFieldError) as bad_address:
        fact_to_condition("0x1234", b"\0" * 32)
    assert bad_address.value.code == "fact_registry_address.malformed"


def test_asset_ids_and_resolutions() -> None:
    assert market_synthetic("BTC-USD") == (0x4254432D3130000000000000000000, 10**10)
    assert market_synthetic("ETH-USD") == (0x4554482D3900000000000000000000, 10**9)
    assert market_synthetic("SOL-USD") == (0x534F4C2D3700000000000000000000, 10**7)
    assert synthetic_asset_id("1INCH", SYNTHETIC_RESOLUTIONS["1INCH"]) == 0x31494E43482D370000000000000000
    assert COLLATERAL_ASSET_ID_BY_NETWORK[Network.SEPOLIA] != COLLATERAL_ASSET_ID_BY_NETWORK[Network.MAINNET]
    with pytest.raises(MessageFieldError) as raised:
        _order_from({**_BASE, "market": "XYZ-USD"})
    assert raised.value.code == "market.unknown"


_BASE: dict[str, Any] = {
    "market": "BTC-USD",
    "side": "SELL",
    "position_id": 1,
    "size": "1",
    "price": "20000",
    "limit_fee": "0.001",
    "client_id": "x",
    "expiration": "2030-01-01T00:00:00.000Z",
}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"size": "0.00000000001"}, "size.inexact"),
        ({"size": "abc"}, "size.malformed"),
        ({"size": "-1"}, "size.out_of_range"),
        ({"size": "NaN"}, "size.malformed"),
        ({"size": 1.5}, "size.malformed"),
        ({"price": "Infinity"}, "price.malformed"),
        ({"limit_fee": "-0.1"}, "limit_fee.out_of_range"),
        ({"size": "2000000000"}, "size.out_of_range"),  # 2e19 quantums >= 2^64
        ({"side": "HOLD"}, "side.malformed"),
    ],
)
def test_bad_api_fields_are_named(overrides: dict[str, Any], code: str) -> None:
    with pytest.raises((AmountConversionError, MessageFieldError)) as raised:
        _order_from({**_BASE, **overrides})
    assert raised.value.code == code


def test_expirations_in_hours() -> None:
    hour = 3_600_000
    assert expiration_hours(10 * hour) == 10
    assert expiration_hours(10 * hour + 1) == 11
    assert order_expiration_hours(10 * hour) == 10 + 168
    assert iso_to_epoch_ms("1970-01-01T01:00:00.000Z") == hour
    assert iso_to_epoch_ms("1970-01-01T01:00:00.000001Z") == hour + 1  # sub-ms rounds up
    assert iso_to_epoch_ms("1970-01-01T01:00:00") == hour  # no zone: UTC
    with pytest.raises(MessageFieldError) as raised:
        iso_to_epoch_ms("yesterday")
    assert raised.value.code == "expiration.malformed"


decimals = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(size=decimals, price=decimals, limit_fee=st.decimals(min_value=0, max_value=1, places=8))
def test_collateral_and_fee_round_against_the_trader(size: Decimal, price: Decimal, limit_fee: Decimal) -> None:
    """With few enough digits that the 28-digit context never rounds, the rules are plain
    ceil/floor of exact rational arithmetic."""
    exact = Fraction(size) * Fraction(price) * 10**6
    buy = collateral_quantums(str(size), str(price), Side.BUY)
    sell = collateral_quantums(str(size), str(price), Side.SELL)
    assert buy == math.ceil(exact)
    assert sell == math.floor(exact)
    assert buy - sell == (0 if exact.denominator == 1 else 1)
    truncated_fee = Fraction(math.floor(Fraction(limit_fee) * 10**6), 10**6)
    assert fee_quantums(str(limit_fee), buy) == math.ceil(truncated_fee * buy)


@settings(max_examples=200, deadline=None)
@given(quantums=st.integers(min_value=0, max_value=2**64 - 1), exponent=st.integers(min_value=0, max_value=10))
def test_exact_conversion_round_trips(quantums: int, exponent: int) -> None:
    resolution = 10**exponent
    text = str(Decimal(quantums).scaleb(-exponent))
    assert to_quantums_exact(text, resolution) == quantums
    if exponent < 10:
        finer = str(Decimal(quantums).scaleb(-exponent) + Decimal(1).scaleb(-exponent - 1))
        with pytest.raises(AmountConversionError) as raised:
            to_quantums_exact(finer, resolution)
        assert raised.value.code == "amount.inexact"


def test_conversions_ignore_the_callers_decimal_context() -> None:
    import decimal

    with decimal.localcontext() as context:
        context.prec = 5
        context.rounding = decimal.ROUND_FLOOR
        assert collateral_quantums("145.0005", "350.00067", Side.BUY) == 50750272151
        assert fee_quantums("0.125", 50750272151) == 6343784019
