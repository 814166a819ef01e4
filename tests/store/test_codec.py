from __future__ import annotations

import pytest

from perpetua.core.commands import PlaceOrder
from perpetua.core.orders import OrderType, TimeInForce, TriggerSource
from perpetua.store.codec import CodecError, decode_command, encode_command
from tests.store.flows import random_flow


def test_round_trip_of_every_command_kind() -> None:
    cmds = random_flow(1, 400)
    cmds.append(PlaceOrder(5, 2, "BTC-USD", -1, OrderType.TRAILING_STOP, TimeInForce.IOC, 10**8, 1, "t",
                           trigger_source=TriggerSource.ORACLE, trailing_ppm=10_000, reduce_only=True))
    for cmd in cmds:
        assert decode_command(encode_command(cmd)) == cmd
    assert {type(c).__name__ for c in cmds} >= {"CreateAccount", "PlaceOrder", "CancelOrder", "SetOraclePrice"}


def test_encoding_is_stable_text() -> None:
    cmd = PlaceOrder(7, 2, "BTC-USD", 1, OrderType.LIMIT, TimeInForce.GTT, 10, 20, "a")
    assert encode_command(cmd) == (
        '{"type":"PlaceOrder","timestamp_ns":7,"position_id":2,"market_id":"BTC-USD","side":1,'
        '"order_type":"LIMIT","time_in_force":"GTT","size":10,"price":20,"client_id":"a","expires_at_ns":null,'
        '"post_only":false,"reduce_only":false,"trigger_price":null,"trigger_source":"MARK","trailing_ppm":null}'
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"type":"Nope"}', "type"),
        ('{"type":"CancelOrder","timestamp_ns":1,"position_id":2,"order_id":3,"extra":1}', "extra"),
        ('{"type":"CancelOrder","timestamp_ns":"1","position_id":2,"order_id":3}', "timestamp_ns"),
        ('{"type":"CancelOrder","timestamp_ns":true,"position_id":2,"order_id":3}', "timestamp_ns"),
        ('{"type":"CancelOrder","timestamp_ns":1}', "fields"),
        ('[1]', "record"),
        ('{"type":"PlaceOrder","timestamp_ns":1,"position_id":2,"market_id":"BTC-USD","side":1,"order_type":"X",'
         '"time_in_force":"GTT","size":1,"price":1,"client_id":"a"}', "order_type"),
    ],
)
def test_decoding_is_strict(text: str, field: str) -> None:
    with pytest.raises(CodecError) as err:
        decode_command(text)
    assert err.value.field == field
