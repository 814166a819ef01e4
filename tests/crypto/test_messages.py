"""StarkEx message layouts: StarkWare's precomputed hashes, range checks and order ids.

Vectors: tests/vectors/crypto/starkware.json, section perpetual_messages (stark-perpetual
`src/services/perpetual/public/perpetual_messages_precomputed.json`: each key is the expected hash).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from perpetua.crypto.errors import MessageFieldError
from perpetua.crypto.messages import (
    ORDER_ID_SHIFT,
    LimitOrder,
    OraclePrice,
    Transfer,
    Withdrawal,
    WithdrawalToAddress,
    hash_limit_order,
    hash_oracle_price,
    hash_transfer,
    hash_withdrawal,
    hash_withdrawal_to_address,
    order_id,
)
from perpetua.crypto.pedersen import pedersen_hash


def _single(section: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(int(expected, 16), data) for expected, data in section.items()]


def test_limit_order_precomputed(starkware_vectors: dict[str, Any]) -> None:
    cases = _single(starkware_vectors["perpetual_messages"]["limit_order"])
    assert cases
    for expected, data in cases:
        order = LimitOrder(
            asset_id_synthetic=data["assetIdSynthetic"],
            asset_id_collateral=data["assetIdCollateral"],
            asset_id_fee=data["assetIdFee"],
            is_buying_synthetic=bool(data["isBuyingSynthetic"]),
            amount_synthetic=data["amountSynthetic"],
            amount_collateral=data["amountCollateral"],
            max_amount_fee=data["amountFee"],
            nonce=data["nonce"],
            position_id=data["positionId"],
            expiration_hours=data["expirationTimestamp"],
        )
        assert hash_limit_order(order) == expected


def test_withdrawal_precomputed(starkware_vectors: dict[str, Any]) -> None:
    cases = _single(starkware_vectors["perpetual_messages"]["withdrawal"])
    assert cases
    for expected, data in cases:
        withdrawal = Withdrawal(
            asset_id_collateral=data["assetIdCollateral"],
            position_id=data["positionId"],
            nonce=data["nonce"],
            amount=data["amount"],
            expiration_hours=data["expirationTimestamp"],
        )
        assert hash_withdrawal(withdrawal) == expected


def test_withdrawal_to_address_precomputed(starkware_vectors: dict[str, Any]) -> None:
    cases = _single(starkware_vectors["perpetual_messages"]["withdrawal_to_address"])
    assert cases
    for expected, data in cases:
        withdrawal = WithdrawalToAddress(
            asset_id_collateral=data["assetIdCollateral"],
            position_id=data["positionId"],
            eth_address=int(data["ethAddress"], 16),
            nonce=data["nonce"],
            amount=data["amount"],
            expiration_hours=data["expirationTimestamp"],
        )
        assert hash_withdrawal_to_address(withdrawal) == expected


def test_transfer_precomputed(starkware_vectors: dict[str, Any]) -> None:
    cases = _single(starkware_vectors["perpetual_messages"]["transfer"])
    assert cases
    for expected, data in cases:
        transfer = Transfer(
            asset_id=data["assetId"],
            asset_id_fee=data["assetIdFee"],
            receiver_public_key=data["receiverPublicKey"],
            sender_position_id=data["senderPositionId"],
            receiver_position_id=data["receiverPositionId"],
            fee_position_id=data["feePositionId"],
            nonce=data["nonce"],
            amount=data["amount"],
            max_amount_fee=data["maxAmountFee"],
            expiration_hours=data["expirationTimestamp"],
        )
        assert hash_transfer(transfer) == expected


def test_conditional_transfer_precomputed(starkware_vectors: dict[str, Any]) -> None:
    cases = _single(starkware_vectors["perpetual_messages"]["conditional_transfer"])
    assert cases
    for expected, data in cases:
        transfer = Transfer(
            asset_id=data["assetId"],
            asset_id_fee=data["assetIdFee"],
            receiver_public_key=data["receiverPublicKey"],
            condition=data["condition"],
            sender_position_id=data["senderPositionId"],
            receiver_position_id=data["receiverPositionId"],
            fee_position_id=data["srcFeePositionId"],
            nonce=data["nonce"],
            amount=data["amount"],
            max_amount_fee=data["maxAmountFee"],
            expiration_hours=data["expirationTimestamp"],
        )
        assert hash_transfer(transfer) == expected
        # Without its condition it is a different message (type 4 instead of 5).
        assert hash_transfer(dataclasses.replace(transfer, condition=None)) != expected


ORDER = LimitOrder(
    asset_id_synthetic=0x4554482D3900000000000000000000,
    asset_id_collateral=0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25,
    asset_id_fee=0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25,
    is_buying_synthetic=True,
    amount_synthetic=145000500000,
    amount_collateral=50750272151,
    max_amount_fee=6343784019,
    nonce=3780429809,
    position_id=12345,
    expiration_hours=444701,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("asset_id_synthetic", 2**128),
        ("asset_id_collateral", 2**250),
        ("asset_id_fee", -1),
        ("amount_synthetic", 2**64),
        ("amount_collateral", -1),
        ("max_amount_fee", 2**64),
        ("nonce", 2**32),
        ("position_id", 2**64),
        ("expiration_hours", 2**32),
    ],
)
def test_order_fields_out_of_range_are_named(field: str, value: int) -> None:
    with pytest.raises(MessageFieldError) as raised:
        dataclasses.replace(ORDER, **{field: value})
    assert raised.value.code == f"{field}.out_of_range"
    assert raised.value.value == value


def test_order_fields_at_their_limits_are_accepted() -> None:
    widest = dataclasses.replace(
        ORDER,
        amount_synthetic=2**64 - 1,
        amount_collateral=2**64 - 1,
        max_amount_fee=2**64 - 1,
        nonce=2**32 - 1,
        position_id=2**64 - 1,
        expiration_hours=2**32 - 1,
    )
    assert 0 <= hash_limit_order(widest) < 2**251


def test_every_order_field_changes_the_hash() -> None:
    base = hash_limit_order(ORDER)
    changes: dict[str, Any] = {
        "asset_id_synthetic": ORDER.asset_id_synthetic + 1,
        "asset_id_collateral": ORDER.asset_id_collateral + 1,
        "asset_id_fee": ORDER.asset_id_fee + 1,
        "is_buying_synthetic": False,
        "amount_synthetic": ORDER.amount_synthetic + 1,
        "amount_collateral": ORDER.amount_collateral + 1,
        "max_amount_fee": ORDER.max_amount_fee + 1,
        "nonce": ORDER.nonce + 1,
        "position_id": ORDER.position_id + 1,
        "expiration_hours": ORDER.expiration_hours + 1,
    }
    assert set(changes) == {field.name for field in dataclasses.fields(LimitOrder)}
    hashes = {hash_limit_order(dataclasses.replace(ORDER, **{name: value})) for name, value in changes.items()}
    assert base not in hashes
    assert len(hashes) == len(changes)


@pytest.mark.parametrize(
    ("field", "value"),
    [("receiver_public_key", 2**251), ("condition", 2**251), ("fee_position_id", 2**64), ("amount", -1)],
)
def test_transfer_fields_out_of_range_are_named(field: str, value: int) -> None:
    transfer = Transfer(
        asset_id=1,
        receiver_public_key=1,
        sender_position_id=1,
        receiver_position_id=2,
        nonce=0,
        amount=1,
        expiration_hours=1,
        fee_position_id=1,
    )
    with pytest.raises(MessageFieldError) as raised:
        dataclasses.replace(transfer, **{field: value})
    assert raised.value.code == f"{field}.out_of_range"


def test_order_id_is_the_top_64_of_251_bits() -> None:
    assert ORDER_ID_SHIFT == 2**187
    assert order_id(2**251 - 1) == 2**64 - 1
    assert order_id(2**187 - 1) == 0
    assert order_id(0x677AF4EFBF821DAC23AD4FEA9AAA2A3075D2D80DD26B5C005C7B58F084E1075) == 0x677AF4EFBF821DAC2 >> 3
    with pytest.raises(MessageFieldError) as raised:
        order_id(2**251)
    assert raised.value.code == "message_hash.out_of_range"


def test_oracle_price_packing() -> None:
    """The packing stark-perpetual's `stark_cli_test.py` states for oracle "Maker", pair "BTCUSD"
    (padded to 16 bytes), price 0xac9f3163ad52b000 and timestamp 0x5f590c1e."""
    price = OraclePrice(
        oracle_name=0x4D616B6572,
        asset_pair=0x42544355534400000000000000000000,
        price=0xAC9F3163AD52B000,
        timestamp_s=0x5F590C1E,
    )
    assert price.signed_asset_id == 0x425443555344000000000000000000004D616B6572
    assert hash_oracle_price(price) == pedersen_hash(
        0x425443555344000000000000000000004D616B6572, 0xAC9F3163AD52B0005F590C1E
    )
    with pytest.raises(MessageFieldError) as raised:
        dataclasses.replace(price, oracle_name=2**40)
    assert raised.value.code == "oracle_name.out_of_range"
    with pytest.raises(MessageFieldError):
        dataclasses.replace(price, price=2**120)
