"""A stable JSON form of the core's commands, for the journal.

One JSON object per command: ``{"type": "<class name>", <field>: <value>, ...}``. Integers stay JSON
integers (arbitrary precision), enums are written by value, ``None`` as ``null``. Decoding is strict:
an unknown type, a missing or unknown field, or a value of the wrong JSON type raises ``CodecError``
naming the field. The form is part of the journal's format: change it only with a migration.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from typing import Any

from perpetua.core import commands as _commands
from perpetua.core.commands import Command
from perpetua.core.errors import PerpetuaError

COMMAND_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(_commands.Command)}
"""Every command the journal can hold, by its stable type name: all members of the core's ``Command``
union, so a command the core adds is journaled without a change here. Field values are encoded and
decoded from the dataclass type hints (int, str, bool, enums, ``X | None``, ``tuple[X, ...]`` and
nested frozen dataclasses)."""


class CodecError(PerpetuaError):
    """A journal record does not decode to a command."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _encode_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def command_to_dict(cmd: Command) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(cmd).__name__}
    for f in dataclasses.fields(cmd):
        out[f.name] = _encode_value(getattr(cmd, f.name))
    return out


def encode_command(cmd: Command) -> str:
    """The journal's text for ``cmd`` (compact, keys in field order)."""
    if COMMAND_TYPES.get(type(cmd).__name__) is not type(cmd):
        raise CodecError("type", f"{type(cmd).__name__} is not a journaled command")
    return json.dumps(command_to_dict(cmd), separators=(",", ":"))


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _decode_value(name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise CodecError(name, "must not be null")
        errors: list[CodecError] = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode_value(name, option, value)
            except CodecError as err:
                errors.append(err)
        raise errors[0]
    if origin is tuple:
        if not isinstance(value, list):
            raise CodecError(name, "must be a list")
        (item, _) = typing.get_args(hint)
        return tuple(_decode_value(f"{name}[{i}]", item, v) for i, v in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise CodecError(name, f"{value!r} is not a {hint.__name__}") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise CodecError(name, "must be a boolean")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CodecError(name, "must be an integer")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise CodecError(name, "must be a string")
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise CodecError(name, "must be an object")
        return _decode_dataclass(hint, value, name)
    raise CodecError(name, f"no JSON form for {hint!r}")


def _decode_dataclass(cls: type[Any], data: dict[str, Any], prefix: str = "") -> Any:
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names - ({"type"} if not prefix else set())
    if unknown:
        raise CodecError(f"{prefix}{'.' if prefix else ''}{sorted(unknown)[0]}", f"unknown field of {cls.__name__}")
    kwargs = {
        n: _decode_value(f"{prefix}{'.' if prefix else ''}{n}", hints[n], data[n]) for n in names if n in data
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CodecError(prefix or "fields", f"{cls.__name__}: {exc}") from None


def command_from_dict(data: dict[str, Any]) -> Command:
    cls = COMMAND_TYPES.get(str(data.get("type")))
    if cls is None:
        raise CodecError("type", f"unknown command type {data.get('type')!r}")
    cmd: Command = _decode_dataclass(cls, data)
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
