"""Field-generic vectors, so one constraint definition serves prover and verifier.

The prover evaluates an AIR's constraints over the whole LDE domain with base-field columns
(``BaseVec``, a 1-D array); the verifier evaluates the same code at the out-of-domain point with
extension values (``ExtVec``, a (4, n) array with n = 1). Mixed operations promote to the
extension. Python ints are field constants.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from perpetua.stark import extension as ext
from perpetua.stark import field as fld
from perpetua.stark.field import Arr, P

Operand = Union["FieldVec", int]


class FieldVec:
    """A vector of field elements supporting +, -, * and small powers."""

    __slots__ = ()

    def _lift(self) -> Arr:
        raise NotImplementedError

    def __add__(self, other: Operand) -> FieldVec:
        return _binop(self, other, "add")

    def __radd__(self, other: Operand) -> FieldVec:
        return _binop(self, other, "add")

    def __sub__(self, other: Operand) -> FieldVec:
        return _binop(self, other, "sub")

    def __rsub__(self, other: Operand) -> FieldVec:
        return _binop(_const_like(self, other), self, "sub")

    def __mul__(self, other: Operand) -> FieldVec:
        return _binop(self, other, "mul")

    def __rmul__(self, other: Operand) -> FieldVec:
        return _binop(self, other, "mul")

    def __neg__(self) -> FieldVec:
        return _binop(_const_like(self, 0), self, "sub")

    def __pow__(self, e: int) -> FieldVec:
        if e < 1:
            raise ValueError("only positive powers")
        result: FieldVec | None = None
        base: FieldVec = self
        while e:
            if e & 1:
                result = base if result is None else result * base
            e >>= 1
            if e:
                base = base * base
        assert result is not None
        return result


class BaseVec(FieldVec):
    """Base-field values, shape (n,)."""

    __slots__ = ("v",)

    def __init__(self, v: Arr) -> None:
        self.v = v

    def _lift(self) -> Arr:
        return ext.from_base(self.v)


class ExtVec(FieldVec):
    """Extension-field values, shape (4, n)."""

    __slots__ = ("v",)

    def __init__(self, v: Arr) -> None:
        self.v = v if v.ndim == 2 else v.reshape(4, 1)

    def _lift(self) -> Arr:
        return self.v


def _const_like(x: FieldVec, c: Operand) -> FieldVec:
    if isinstance(c, FieldVec):
        return c
    if isinstance(x, BaseVec):
        return BaseVec(np.full(x.v.shape, c % P, dtype=np.uint64))
    assert isinstance(x, ExtVec)
    out = np.zeros((4, 1), dtype=np.uint64)
    out[0, 0] = c % P
    return ExtVec(out)


def _binop(a: FieldVec, b: Operand, op: str) -> FieldVec:
    if isinstance(b, int):
        c = b % P
        if isinstance(a, BaseVec):
            if op == "add":
                return BaseVec(fld.add(a.v, c))
            if op == "sub":
                return BaseVec(fld.sub(a.v, c))
            return BaseVec(fld.mul(a.v, c))
        assert isinstance(a, ExtVec)
        if op == "mul":
            return ExtVec(ext.mul_base(a.v, c))
        shifted = a.v.copy()
        shifted[0] = fld.add(a.v[0], c) if op == "add" else fld.sub(a.v[0], c)
        return ExtVec(shifted)
    if isinstance(a, BaseVec) and isinstance(b, BaseVec):
        if op == "add":
            return BaseVec(fld.add(a.v, b.v))
        if op == "sub":
            return BaseVec(fld.sub(a.v, b.v))
        return BaseVec(fld.mul(a.v, b.v))
    if op == "mul":
        if isinstance(a, BaseVec):
            assert isinstance(b, ExtVec)
            return ExtVec(ext.mul_base(b.v, a.v))
        if isinstance(b, BaseVec):
            assert isinstance(a, ExtVec)
            return ExtVec(ext.mul_base(a.v, b.v))
        return ExtVec(ext.mul(a._lift(), b._lift()))
    if op == "add":
        return ExtVec(ext.add(a._lift(), b._lift()))
    return ExtVec(ext.sub(a._lift(), b._lift()))


def ext_value(v: FieldVec) -> Arr:
    """Values as a (4, n) extension array."""
    return v._lift()
