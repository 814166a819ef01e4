"""BabyBear prime field, p = 15 * 2^27 + 1, vectorised over NumPy ``uint64`` arrays.

Elements are kept canonical (in ``[0, p)``). Since p < 2^31, the product of two elements is
below 2^62, so a whole column is multiplied with one ``*`` and reduced with one ``%``; sums of
up to four products still fit in 64 bits, which the extension field exploits.

Each fast routine has a short reference version over Python ints (``*_ref``) and the tests check
that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Arr = NDArray[np.uint64]

P = 15 * (1 << 27) + 1
"""The BabyBear modulus 2013265921."""
GENERATOR = 31
"""A generator of the multiplicative group F_p^* (Plonky3 uses 31)."""
TWO_ADICITY = 27
"""2^27 divides p - 1: NTT domains up to 2^27 points exist."""

_P = np.uint64(P)


def array(values: Iterable[int] | Arr) -> Arr:
    """Canonical uint64 array from ints or a non-negative integer array (reduced mod p)."""
    if isinstance(values, np.ndarray):
        return values.astype(np.uint64) % _P
    return np.array([v % P for v in values], dtype=np.uint64)


def add(a: Arr, b: Arr | int) -> Arr:
    """a + b mod p."""
    s = a + np.uint64(b) if isinstance(b, int) else a + b
    s %= _P
    return s


def sub(a: Arr, b: Arr | int) -> Arr:
    """a - b mod p."""
    s = a + (_P - np.uint64(b % P)) if isinstance(b, int) else a + (_P - b)
    s %= _P
    return s


def neg(a: Arr) -> Arr:
    """-a mod p."""
    r = _P - a
    r %= _P
    return r


def mul(a: Arr, b: Arr | int) -> Arr:
    """a * b mod p (both canonical, so the product fits in 62 bits)."""
    r = a * np.uint64(b % P) if isinstance(b, int) else a * b
    r %= _P
    return r


def pow_(a: Arr, e: int) -> Arr:
    """a^e mod p by square-and-multiply over whole arrays (e >= 0)."""
    result = np.ones_like(a)
    base = a.copy()
    while e:
        if e & 1:
            result = mul(result, base)
        e >>= 1
        if e:
            base = mul(base, base)
    return result


def inv_pow(a: Arr) -> Arr:
    """a^(p-2): the inverse of every nonzero element (0 maps to 0)."""
    return pow_(a, P - 2)


def batch_inverse(a: Arr) -> Arr:
    """Inverses of all elements of a 1-D array (all nonzero).

    Montgomery's trick run on a (rows x cols) reshaping: prefix products down the rows are
    whole-row vector operations, so the Python loop has ~sqrt(n) steps and only one row is
    inverted by exponentiation. O(n) multiplications.
    """
    n = a.size
    if n < 4096:
        return inv_pow(a)
    if not np.all(a):
        raise ZeroDivisionError("batch_inverse of zero")
    rows = 1 << ((n.bit_length() - 1) // 2)
    if n % rows:
        return inv_pow(a)
    m = a.reshape(rows, n // rows)
    prefix = np.empty_like(m)
    acc = m[0].copy()
    prefix[0] = acc
    for r in range(1, rows):
        acc = acc * m[r]
        acc %= _P
        prefix[r] = acc
    inv_acc = inv_pow(acc)
    out = np.empty_like(m)
    for r in range(rows - 1, 0, -1):
        t = inv_acc * prefix[r - 1]
        t %= _P
        out[r] = t
        inv_acc = inv_acc * m[r]
        inv_acc %= _P
    out[0] = inv_acc
    return out.reshape(n)


def powers(base: int, n: int, start: int = 1) -> Arr:
    """[start * base^i for i in range(n)] by vectorised doubling (log n steps)."""
    out = np.empty(max(n, 1), dtype=np.uint64)
    out[0] = start % P
    filled = 1
    step = base % P
    while filled < n:
        take = min(filled, n - filled)
        out[filled:filled + take] = mul(out[:take], step)
        filled += take
        step = step * step % P
    return out[:n]


# --- scalar helpers (Python ints) ---------------------------------------------------------

def inv(a: int) -> int:
    """Inverse of a nonzero scalar."""
    if a % P == 0:
        raise ZeroDivisionError("inverse of zero in BabyBear")
    return pow(a, P - 2, P)


@lru_cache(maxsize=64)
def root_of_unity(n: int) -> int:
    """A primitive n-th root of unity (n a power of two <= 2^27), fixed: GENERATOR^((p-1)/n)."""
    if n <= 0 or n & (n - 1) or n > 1 << TWO_ADICITY:
        raise ValueError(f"no root of unity of order {n}")
    return pow(GENERATOR, (P - 1) // n, P)


# --- reference versions ---------------------------------------------------------------------

def mul_ref(a: list[int], b: list[int]) -> list[int]:
    """Elementwise product over Python ints."""
    return [x * y % P for x, y in zip(a, b, strict=True)]


def batch_inverse_ref(a: list[int]) -> list[int]:
    """Elementwise inverse over Python ints."""
    return [inv(x) for x in a]
