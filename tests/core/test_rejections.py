"""Every rejection is typed, names its field, and changes no state."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perpetua.core.commands import (
    CancelOrder,
    Command,
    CreateAccount,
    DepositCollateral,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.events import CommandRejected, OrderAccepted, OrderRejected
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer
from tests.core.builders import Clock, btc, exchange, order, usd

BUY, SELL = 1, -1


def base() -> tuple[Sequencer, Clock]:
    seq, clock = exchange({10: "1000", 11: "100000"})
    seq.apply(order(clock, 11, SELL, btc("0.1"), usd(40000), client_id="resting"))
    return seq, clock


def o(**kw: object) -> object:
    defaults: dict[str, object] = {"pid": 11, "side": BUY, "size": btc("0.01"), "price": usd(39000)}
    defaults.update(kw)
    return defaults


CASES: list[tuple[str, dict[str, object], str, str]] = [
    ("unknown market", o(market="DOGE-USD"), "UNKNOWN_MARKET", "market_id"),
    ("unknown account", o(pid=99), "UNKNOWN_ACCOUNT", "position_id"),
    ("bad side", o(side=0), "INVALID_FIELD", "side"),
    ("zero size", o(size=0), "INVALID_FIELD", "size"),
    ("off step", o(size=btc("0.01") + 1), "STEP_SIZE", "size"),
    ("below minimum", o(size=btc("0.0009")), "MIN_SIZE", "size"),
    ("off tick", o(price=usd("39000.5")), "TICK_SIZE", "price"),
    ("negative price", o(price=-usd(1)), "INVALID_FIELD", "price"),
    ("duplicate client id", o(client_id="resting"), "DUPLICATE_CLIENT_ID", "client_id"),
    ("empty client id", o(client_id=""), "INVALID_FIELD", "client_id"),
    ("market order GTT", o(order_type=OrderType.MARKET), "INVALID_FIELD", "time_in_force"),
    ("post-only IOC", o(post_only=True, tif=TimeInForce.IOC), "INVALID_FIELD", "post_only"),
    ("post-only crossing", o(post_only=True, price=usd(40000)), "POST_ONLY_WOULD_CROSS", "post_only"),
    ("expired", o(expires_at_ns=1), "EXPIRED", "expires_at_ns"),
    ("stop without trigger", o(order_type=OrderType.STOP_LIMIT), "INVALID_FIELD", "trigger_price"),
    ("limit with trigger", o(trigger_price=usd(41000)), "INVALID_FIELD", "trigger_price"),
    ("trailing without percent", o(order_type=OrderType.TRAILING_STOP, tif=TimeInForce.IOC), "INVALID_FIELD", "trailing_ppm"),
    ("reduce-only with no position", o(reduce_only=True, tif=TimeInForce.IOC), "REDUCE_ONLY_WOULD_INCREASE", "reduce_only"),
    ("insufficient margin", o(pid=10, size=btc("1")), "INSUFFICIENT_MARGIN", "size"),
    ("above max position", o(size=btc("171")), "MAX_POSITION_SIZE", "size"),
    ("no oracle price", o(market="SOL-USD", size=10**7, price=100_000_000), "NO_ORACLE_PRICE", "market_id"),
]


@pytest.mark.parametrize(("name", "spec", "code", "field"), CASES, ids=[c[0] for c in CASES])
def test_order_rejections(name: str, spec: dict[str, object], code: str, field: str) -> None:
    seq, clock = base()
    before = seq.state.canonical()[1:]
    spec = dict(spec)
    cmd = order(clock, spec.pop("pid"), spec.pop("side"), spec.pop("size"), spec.pop("price"), **spec)  # type: ignore[arg-type]
    (ev,) = seq.apply(cmd)
    assert isinstance(ev, OrderRejected), ev
    assert (ev.code.value, ev.field) == (code, field)
    assert ev.message
    assert seq.state.canonical()[1:] == before


def test_other_command_rejections_change_nothing() -> None:
    seq, clock = base()
    resting = next(iter(seq.state.orders))
    cmds: list[tuple[Command, str, str]] = [
        (CreateAccount(clock(), 11, 5), "ACCOUNT_EXISTS", "position_id"),
        (CreateAccount(clock(), 0, 5), "INVALID_FIELD", "position_id"),
        (CreateAccount(clock(), 50, 0), "INVALID_FIELD", "public_key"),
        (DepositCollateral(clock(), 11, -5), "INVALID_FIELD", "amount"),
        (DepositCollateral(clock(), 77, 5), "UNKNOWN_ACCOUNT", "position_id"),
        (WithdrawCollateral(clock(), 10, usd(1001)), "INSUFFICIENT_COLLATERAL", "amount"),
        (SetOraclePrice(clock(), "BTC-USD", 0), "INVALID_FIELD", "price"),
        (SetOraclePrice(clock(), "NOPE", 5), "UNKNOWN_MARKET", "market_id"),
        (CancelOrder(clock(), 10, resting), "NOT_ORDER_OWNER", "order_id"),
        (CancelOrder(clock(), 10, 10**6), "UNKNOWN_ORDER", "order_id"),
        (SetOraclePrice(1, "BTC-USD", 5), "TIMESTAMP_REGRESSED", "timestamp_ns"),
    ]
    for cmd, code, field in cmds:
        before = seq.state.canonical()[1:]
        (ev,) = seq.apply(cmd)
        assert isinstance(ev, CommandRejected), (cmd, ev)
        assert (ev.code.value, ev.field) == (code, field), cmd
        assert seq.state.canonical()[1:] == before


def test_withdrawal_keeps_initial_margin_for_resting_orders() -> None:
    seq, clock = exchange({10: "1000"})
    ok = seq.apply(order(clock, 10, BUY, btc("0.5"), usd(40000)))[0]
    assert isinstance(ok, OrderAccepted)
    # The resting 0.5 BTC buy needs 800 USDC of initial margin: 200 is free.
    assert seq.free_collateral(seq.state.accounts[10]) == usd(200)
    (rej,) = seq.apply(WithdrawCollateral(clock(), 10, usd(201)))
    assert isinstance(rej, CommandRejected)
    seq.apply(WithdrawCollateral(clock(), 10, usd(200)))
    assert seq.state.accounts[10].collateral == usd(800)


def test_commands_are_plain_frozen_values() -> None:
    _, clock = base()
    cmd = order(clock, 11, BUY, btc("0.01"), usd(39000))
    with pytest.raises(AttributeError):
        cmd.size = 5  # type: ignore[misc]
    assert replace(cmd, size=7).size == 7
