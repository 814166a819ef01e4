"""A stable JSON form of the core's commands, for the journal.

One JSON object per command: ``{"type": "<class name>", <field>: <value>, ...}``. Integers stay JSON
integers (arbitrary precision), enums are written by value, ``None`` as ``null``. Decoding is strict:
an unknown type, a missing or unknown field, or a value of the wrong JSON type raises ``CodecError``
naming the field. The form is part of the journal's format: change it only with a migration.
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Any

from perpetua.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    DepositCollateral,
    PlaceOrder,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.errors import PerpetuaError
from perpetua.core.orders import OrderType, TimeInForce, TriggerSource

COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        CreateAccount,
        DepositCollateral,
        WithdrawCollateral,
        SetOraclePrice,
        PlaceOrder,
        CancelOrder,
        CancelAllOrders,
    )
}
"""Every command the journal can hold, by its stable type name."""

_ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "order_type": OrderType,
    "time_in_force": TimeInForce,
    "trigger_source": TriggerSource,
}
_STR_FIELDS = frozenset({"market_id", "client_id"})
_BOOL_FIELDS = frozenset({"post_only", "reduce_only"})


class CodecError(PerpetuaError):
    """A journal record does not decode to a command."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def command_to_dict(cmd: Command) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(cmd).__name__}
    for f in dataclasses.fields(cmd):
        value = getattr(cmd, f.name)
        out[f.name] = value.value if isinstance(value, StrEnum) else value
    return out


def encode_command(cmd: Command) -> str:
    """The journal's text for ``cmd`` (compact, keys in field order)."""
    if type(cmd).__name__ not in COMMAND_TYPES:
        raise CodecError("type", f"{type(cmd).__name__} is not a journaled command")
    return json.dumps(command_to_dict(cmd), separators=(",", ":"))


def _decode_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    enum_type = _ENUM_FIELDS.get(name)
    if enum_type is not None:
        try:
            return enum_type(value)
        except ValueError:
            raise CodecError(name, f"{value!r} is not a {enum_type.__name__}") from None
    if name in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise CodecError(name, "must be a boolean")
        return value
    if name in _STR_FIELDS:
        if not isinstance(value, str):
            raise CodecError(name, "must be a string")
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise CodecError(name, "must be an integer")
    return value


def command_from_dict(data: dict[str, Any]) -> Command:
    cls = COMMAND_TYPES.get(str(data.get("type")))
    if cls is None:
        raise CodecError("type", f"unknown command type {data.get('type')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names - {"type"}
    if unknown:
        raise CodecError(sorted(unknown)[0], f"unknown field of {cls.__name__}")
    kwargs = {name: _decode_value(name, data[name]) for name in names if name in data}
    try:
        cmd: Command = cls(**kwargs)
    except TypeError as exc:
        raise CodecError("fields", f"{cls.__name__}: {exc}") from None
    return cmd


def decode_command(text: str) -> Command:
    """The command a journal text holds (the inverse of ``encode_command``)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CodecError("record", "not JSON") from None
    if not isinstance(data, dict):
        raise CodecError("record", "not a JSON object")
    return command_from_dict(data)
