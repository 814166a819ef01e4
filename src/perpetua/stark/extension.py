"""The quartic extension F_p[t] / (t^4 - 11) of BabyBear, for verifier challenges.

An extension vector is a ``(4, n)`` uint64 array (coordinate k holds the coefficients of t^k for
all n elements), so each operation is a handful of whole-array base operations. A single element
is a ``(4,)`` array, or ``(4, 1)`` to broadcast against vectors. |F_ext| = p^4 ~ 2^123.6.
"""

from __future__ import annotations

import numpy as np

from perpetua.stark.field import Arr, P, batch_inverse

W = 11
"""t^4 = W (Plonky3's BabyBear quartic extension)."""
DEGREE = 4
_P = np.uint64(P)
_W = np.uint64(W)


def zeros(n: int) -> Arr:
    return np.zeros((4, n), dtype=np.uint64)


def from_base(a: Arr) -> Arr:
    """Embed a base vector (n,) as an extension vector (4, n)."""
    out = np.zeros((4, *a.shape), dtype=np.uint64)
    out[0] = a
    return out


def scalar(coords: list[int] | tuple[int, ...]) -> Arr:
    """One extension element as a (4,) array."""
    if len(coords) != 4:
        raise ValueError("an extension element has 4 coordinates")
    return np.array([c % P for c in coords], dtype=np.uint64)


def add(a: Arr, b: Arr) -> Arr:
    s = a + b
    s %= _P
    return s


def sub(a: Arr, b: Arr) -> Arr:
    s = a + (_P - b)
    s %= _P
    return s


def neg(a: Arr) -> Arr:
    r = _P - a
    r %= _P
    return r


def mul(a: Arr, b: Arr) -> Arr:
    """Product in F_p[t]/(t^4 - W); each coordinate is a sum of <= 4 products (< 2^64)."""
    a0, a1, a2, a3 = a[0], a[1], a[2], a[3]
    b0, b1, b2, b3 = b[0], b[1], b[2], b[3]
    c0 = a0 * b0 + _W * ((a1 * b3 + a2 * b2 + a3 * b1) % _P)
    c1 = a0 * b1 + a1 * b0 + _W * ((a2 * b3 + a3 * b2) % _P)
    c2 = a0 * b2 + a1 * b1 + a2 * b0 + _W * ((a3 * b3) % _P)
    c3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0
    out = np.stack(np.broadcast_arrays(c0, c1, c2, c3))
    out %= _P
    return out


def mul_base(a: Arr, b: Arr | int) -> Arr:
    """Extension vector times base vector (n,) or base scalar."""
    r = a * np.uint64(b % P) if isinstance(b, int) else a * b
    r %= _P
    return r


def square(a: Arr) -> Arr:
    return mul(a, a)


def inverse(a: Arr) -> Arr:
    """Inverse of every element of a (4, n) vector (all nonzero).

    With a' = a(-t), a * a' = b0 + b2 t^2 lies in the subfield F_p[u]/(u^2 - W), u = t^2, whose
    inverse is (b0 - b2 u) / (b0^2 - W b2^2): one base-field batch inversion in total.
    """
    conj = a.copy()
    conj[1] = (_P - a[1]) % _P
    conj[3] = (_P - a[3]) % _P
    prod = mul(a, conj)
    b0, b2 = prod[0], prod[2]
    norm = (b0 * b0 + (_P - (_W * ((b2 * b2) % _P)) % _P)) % _P
    norm_inv = batch_inverse(np.atleast_1d(norm).reshape(-1)).reshape(norm.shape)
    q = np.zeros_like(a)
    q[0] = b0 * norm_inv % _P
    q[2] = (_P - b2) % _P * norm_inv % _P
    return mul(conj, q)


def pow_(a: Arr, e: int) -> Arr:
    result = np.zeros_like(a)
    result[0] = 1
    base = a.copy()
    while e:
        if e & 1:
            result = mul(result, base)
        e >>= 1
        if e:
            base = mul(base, base)
    return result


def mul_by_t_power(a: Arr, k: int) -> Arr:
    """a * t^k for k in 0..3 (a coordinate shift, with t^4 = W)."""
    out = a
    for _ in range(k):
        out = np.stack([out[3] * _W % _P, out[0], out[1], out[2]])
    return out


def to_ints(a: Arr) -> tuple[int, int, int, int]:
    """A single (4,) or (4, 1) element as Python ints."""
    flat = a.reshape(4)
    return (int(flat[0]), int(flat[1]), int(flat[2]), int(flat[3]))


# --- reference versions over Python ints ------------------------------------------------------

Ref = tuple[int, int, int, int]


def mul_ref(a: Ref, b: Ref) -> Ref:
    """Schoolbook product of two polynomials mod t^4 - W."""
    c = [0] * 7
    for i in range(4):
        for j in range(4):
            c[i + j] += a[i] * b[j]
    for k in range(6, 3, -1):
        c[k - 4] += W * c[k]
    return (c[0] % P, c[1] % P, c[2] % P, c[3] % P)


def inverse_ref(a: Ref) -> Ref:
    """a^(p^4 - 2) by square-and-multiply (the field has p^4 elements)."""
    result: Ref = (1, 0, 0, 0)
    base = a
    e = P**4 - 2
    while e:
        if e & 1:
            result = mul_ref(result, base)
        base = mul_ref(base, base)
        e >>= 1
    return result


def powers(z: Arr, n: int) -> Arr:
    """[z^i for i < n] as a (4, n) vector, by vectorised doubling."""
    out = np.zeros((4, max(n, 1)), dtype=np.uint64)
    out[0, 0] = 1
    filled = 1
    step = z.reshape(4, 1)
    while filled < n:
        take = min(filled, n - filled)
        out[:, filled:filled + take] = mul(out[:, :take], step)
        filled += take
        step = mul(step, step)
    return out[:, :n]


def eval_base_polys(coeffs: Arr, z: Arr) -> Arr:
    """Evaluate base polynomials (rows of ``coeffs``, shape (m, n)) at one extension point.

    Returns (m, 4). Each term is reduced before summing; n terms < 2^31 sum below 2^64.
    """
    n = coeffs.shape[-1]
    zp = powers(z, n)
    out = np.empty((coeffs.shape[0], 4), dtype=np.uint64)
    for k in range(4):
        out[:, k] = (coeffs * zp[k] % _P).sum(axis=1, dtype=np.uint64) % _P
    return out


def eval_ext_poly(coeffs: Arr, z: Arr) -> Arr:
    """Evaluate one extension polynomial (4, n) at extension points z (4, m) by Horner."""
    acc = np.zeros((4, z.shape[1]), dtype=np.uint64)
    for j in range(coeffs.shape[1] - 1, -1, -1):
        acc = add(mul(acc, z), coeffs[:, j:j + 1])
    return acc


def from_coords(values: Arr) -> Arr:
    """Combine 4 coordinate-polynomial values (4, 4, ...) -> sum_k values[k] * t^k."""
    acc: Arr = values[0]
    for k in range(1, 4):
        acc = add(acc, mul_by_t_power(values[k], k))
    return acc
