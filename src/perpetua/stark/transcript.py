"""Fiat-Shamir transcript (Blake2s-256 hash chain).

Every absorbed message is framed with a label and its length, so distinct message sequences give
distinct states. Challenges are squeezed by hashing the state with a counter-free "squeeze"
label and replacing the state, so each draw depends on everything absorbed and drawn before.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from perpetua.stark.field import Arr, P

_PERSON = b"pstkfs"


def _h(data: bytes) -> bytes:
    return hashlib.blake2s(data, person=_PERSON).digest()


class Transcript:
    """Absorbs prover messages; draws field, extension and index challenges."""

    __slots__ = ("_state",)

    def __init__(self, domain_separator: bytes) -> None:
        self._state = _h(b"init" + struct.pack("<I", len(domain_separator)) + domain_separator)

    def absorb(self, label: bytes, data: bytes) -> None:
        self._state = _h(self._state + struct.pack("<I", len(label)) + label
                         + struct.pack("<Q", len(data)) + data)

    def absorb_elements(self, label: bytes, values: Arr | list[int]) -> None:
        """Absorb field elements (any shape) as little-endian u32 in C order."""
        arr = np.asarray(values, dtype=np.uint64)
        if arr.size and int(arr.max()) >= P:
            raise ValueError("non-canonical field element absorbed")
        self.absorb(label, arr.astype("<u4").tobytes())

    def _squeeze(self) -> bytes:
        self._state = _h(self._state + b"squeeze")
        return self._state

    def draw_base(self) -> int:
        """A base-field element; 64 bits reduced mod p (statistical distance < 2^-32)."""
        return int.from_bytes(self._squeeze()[:8], "little") % P

    def draw_ext(self) -> Arr:
        """An extension element as a (4,) array."""
        d = self._squeeze()
        return np.array([int.from_bytes(d[8 * i:8 * i + 8], "little") % P for i in range(4)],
                        dtype=np.uint64)

    def draw_ext_many(self, count: int) -> list[Arr]:
        return [self.draw_ext() for _ in range(count)]

    def draw_indices(self, count: int, bound: int) -> list[int]:
        """``count`` indices uniform in [0, bound) for a power-of-two bound."""
        if bound & (bound - 1):
            raise ValueError("index bound must be a power of two")
        out: list[int] = []
        while len(out) < count:
            d = self._squeeze()
            for i in range(0, 32, 8):
                if len(out) < count:
                    out.append(int.from_bytes(d[i:i + 8], "little") % bound)
        return out

    def grind(self, bits: int) -> int:
        """Find the smallest nonce whose proof-of-work hash has ``bits`` leading zero bits."""
        nonce = 0
        prefix = self._state + b"pow"
        while not _pow_ok(prefix, nonce, bits):
            nonce += 1
        return nonce

    def check_pow(self, nonce: int, bits: int) -> bool:
        return _pow_ok(self._state + b"pow", nonce, bits)

    def state(self) -> bytes:
        return self._state


def _pow_ok(prefix: bytes, nonce: int, bits: int) -> bool:
    if bits == 0:
        return True
    d = _h(prefix + struct.pack("<Q", nonce))
    return int.from_bytes(d[:8], "big") >> (64 - bits) == 0

