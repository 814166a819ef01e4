"""Poseidon2 over BabyBear, width 16: exactly Plonky3's ``default_babybear_poseidon2_16``.

Constants (canonical values) are copied from Plonky3/Plonky3 ``baby-bear/src/poseidon2.rs`` at
commit 5dc50e51436a811c62443e336f766015fecc9217 (file last changed in 84d46121); the known-answer
test in ``tests/stark/test_poseidon2.py`` is ``test_default_babybear_poseidon2_width_16`` there.

Permutation: x <- M_E x; 4 full rounds (add 16 constants, x^7 on every lane, M_E);
13 partial rounds (add a constant to lane 0, x^7 on lane 0, x <- (1 + diag(V)) x, i.e.
y_i = V_i x_i + sum_j x_j); 4 full rounds. M_E multiplies each 4-lane block by
M4 = [[2,3,1,1],[1,2,3,1],[1,1,2,3],[3,1,1,2]] and adds the sum of the four blocks to each.

``permute`` works on a (m, 16) array of m states at once (the fast batched form);
``permute_slow`` is the straightforward vectorised form and ``permute_ref`` the Python-int
reference, both kept for cross-checking; ``hash_two`` is the 2-to-1 compression over 8-element digests: the first 8 lanes of
P(left || right) (Plonky3's ``TruncatedPermutation``).
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import field as fld
from perpetua.stark.field import Arr, P

WIDTH = 16
DIGEST = 8
HALF_FULL_ROUNDS = 4
PARTIAL_ROUNDS = 13
SBOX_DEGREE = 7

RC_EXTERNAL_INITIAL: tuple[tuple[int, ...], ...] = (
    (0x69cbb6af, 0x46ad93f9, 0x60a00f4e, 0x6b1297cd, 0x23189afe, 0x732e7bef, 0x72c246de, 0x2c941900,
     0x0557eede, 0x1580496f, 0x3a3ea77b, 0x54f3f271, 0x0f49b029, 0x47872fe1, 0x221e2e36, 0x1ab7202e),
    (0x487779a6, 0x3851c9d8, 0x38dc17c0, 0x209f8849, 0x268dcee8, 0x350c48da, 0x5b9ad32e, 0x0523272b,
     0x3f89055b, 0x01e894b2, 0x13ddedde, 0x1b2ef334, 0x7507d8b4, 0x6ceeb94e, 0x52eb6ba2, 0x50642905),
    (0x05453f3f, 0x06349efc, 0x6922787c, 0x04bfff9c, 0x768c714a, 0x3e9ff21a, 0x15737c9c, 0x2229c807,
     0x0d47f88c, 0x097e0ecc, 0x27eadba0, 0x2d7d29e4, 0x3502aaa0, 0x0f475fd7, 0x29fbda49, 0x018afffd),
    (0x0315b618, 0x6d4497d1, 0x1b171d9e, 0x52861abd, 0x2e5d0501, 0x3ec8646c, 0x6e5f250a, 0x148ae8e6,
     0x17f5fa4a, 0x3e66d284, 0x0051aa3b, 0x483f7913, 0x2cfe5f15, 0x023427ca, 0x2cc78315, 0x1e36ea47),
)
RC_EXTERNAL_FINAL: tuple[tuple[int, ...], ...] = (
    (0x7290a80d, 0x6f7e5329, 0x598ec8a8, 0x76a859a0, 0x6559e868, 0x657b83af, 0x13271d3f, 0x1f876063,
     0x0aeeae37, 0x706e9ca6, 0x46400cee, 0x72a05c26, 0x2c589c9e, 0x20bd37a7, 0x6a2d3d10, 0x20523767),
    (0x5b8fe9c4, 0x2aa501d6, 0x1e01ac3e, 0x1448bc54, 0x5ce5ad1c, 0x4918a14d, 0x2c46a83f, 0x4fcf6876,
     0x61d8d5c8, 0x6ddf4ff9, 0x11fda4d3, 0x02933a8f, 0x170eaf81, 0x5a9c314f, 0x49a12590, 0x35ec52a1),
    (0x58eb1611, 0x5e481e65, 0x367125c9, 0x0eba33ba, 0x1fc28ded, 0x066399ad, 0x0cbec0ea, 0x75fd1af0,
     0x50f5bf4e, 0x643d5f41, 0x6f4fe718, 0x5b3cbbde, 0x1e3afb3e, 0x296fb027, 0x45e1547b, 0x4a8db2ab),
    (0x59986d19, 0x30bcdfa3, 0x1db63932, 0x1d7c2824, 0x53b33681, 0x0673b747, 0x038a98a3, 0x2c5bce60,
     0x351979cd, 0x5008fb73, 0x547bca78, 0x711af481, 0x3f93bf64, 0x644d987b, 0x3c8bcd87, 0x608758b8),
)
RC_INTERNAL: tuple[int, ...] = (
    0x5a8053c0, 0x693be639, 0x3858867d, 0x19334f6b, 0x128f0fd8, 0x4e2b1ccb, 0x61210ce0, 0x3c318939,
    0x0b5b2f22, 0x2edb11d5, 0x213effdf, 0x0cac4606, 0x241af16d,
)


def _frac(num: int, den: int) -> int:
    return num * fld.inv(den) % P


INTERNAL_DIAG: tuple[int, ...] = (
    P - 2, 1, 2, _frac(1, 2), 3, 4, _frac(-1, 2), P - 3, P - 4, _frac(1, 1 << 8), _frac(1, 4),
    _frac(1, 8), _frac(1, 1 << 27), _frac(-1, 1 << 8), _frac(-1, 16), _frac(-1, 1 << 27),
)
"""V = [-2, 1, 2, 1/2, 3, 4, -1/2, -3, -4, 1/2^8, 1/4, 1/8, 1/2^27, -1/2^8, -1/16, -1/2^27]."""

M4: tuple[tuple[int, ...], ...] = ((2, 3, 1, 1), (1, 2, 3, 1), (1, 1, 2, 3), (3, 1, 1, 2))

_P = np.uint64(P)
_DIAG = np.array(INTERNAL_DIAG, dtype=np.uint64)


def round_schedule() -> list[tuple[str, tuple[int, ...]]]:
    """The 21 rounds in order: ("full", 16 constants) or ("partial", (constant,))."""
    rounds: list[tuple[str, tuple[int, ...]]] = [("full", rc) for rc in RC_EXTERNAL_INITIAL]
    rounds += [("partial", (c,)) for c in RC_INTERNAL]
    rounds += [("full", rc) for rc in RC_EXTERNAL_FINAL]
    return rounds


# --- vectorised over many states: x has shape (..., 16), lanes on the last axis --------------

def external_linear(x: Arr) -> Arr:
    """M_E on the last axis (values < p in, < p out)."""
    blocks = x.reshape(*x.shape[:-1], 4, 4)
    a, b, c, d = blocks[..., 0], blocks[..., 1], blocks[..., 2], blocks[..., 3]
    # M4 rows: [2,3,1,1], [1,2,3,1], [1,1,2,3], [3,1,1,2]  (all sums stay far below 2^64)
    y = np.stack([2 * a + 3 * b + c + d, a + 2 * b + 3 * c + d, a + b + 2 * c + 3 * d,
                  3 * a + b + c + 2 * d], axis=-1)
    total = y.sum(axis=-2, keepdims=True)
    out: Arr = (y + total) % _P
    return out.reshape(x.shape)


def internal_linear(x: Arr) -> Arr:
    """(1 + diag(V)) on the last axis."""
    total = x.sum(axis=-1, keepdims=True)
    out: Arr = (x * _DIAG % _P + total) % _P
    return out


def sbox(x: Arr) -> Arr:
    x2 = x * x % _P
    x3 = x2 * x % _P
    x6 = x3 * x3 % _P
    out: Arr = x6 * x % _P
    return out


def permute_trace(states: Arr) -> list[Arr]:
    """All intermediate states: [input, M_E(input), after round 1, ..., after round 21]."""
    x = np.asarray(states, dtype=np.uint64) % _P
    out = [x, external_linear(x)]
    x = out[-1]
    for kind, rc in round_schedule():
        if kind == "full":
            x = external_linear(sbox((x + np.array(rc, dtype=np.uint64)) % _P))
        else:
            x = x.copy()
            x[..., 0] = sbox((x[..., 0] + np.uint64(rc[0])) % _P)
            x = internal_linear(x)
        out.append(x)
    return out


def permute_slow(states: Arr) -> Arr:
    """The permutation as `permute_trace` computes it (kept to cross-check `permute`)."""
    return permute_trace(states)[-1]


# --- fast batched permutation -----------------------------------------------------------------
# Same function as permute_trace, organised for speed: the batch is held lane-major, (16, m), so
# every lane is one contiguous row; every step writes into preallocated buffers (no temporaries
# per op); reduction mod p is x - (x // p) * p (NumPy divides by a scalar with a multiply-shift,
# ~5x cheaper than its `%`); x + rc < 2^32 enters the S-box unreduced ((2^32)^2 < 2^64); M_E uses
# Plonky3's 8-addition form of M4 and reduces once. Tiny batches (the top of a Merkle tree) take
# a Python-int path, where NumPy's per-call overhead would dominate.

_PU = np.uint64(P)
_RC_INITIAL_COLS = tuple(np.array(rc, dtype=np.uint64)[:, None] for rc in RC_EXTERNAL_INITIAL)
_RC_FINAL_COLS = tuple(np.array(rc, dtype=np.uint64)[:, None] for rc in RC_EXTERNAL_FINAL)
_RC_PARTIAL = tuple(np.uint64(c) for c in RC_INTERNAL)
_DIAG_COL = _DIAG[:, None]
SMALL_BATCH = 3
"""Batches of at most this many states take the Python-int path."""


def _reduce(x: Arr, q: Arr) -> None:
    """x <- x mod p in place (any x < 2^64); q is scratch of x's shape."""
    np.floor_divide(x, _PU, out=q)
    np.multiply(q, _PU, out=q)
    np.subtract(x, q, out=x)


def _sbox_inplace(x: Arr, t: Arr, q: Arr) -> None:
    """x <- x^7 mod p in place, for x < 2^32 (t, q scratch)."""
    np.multiply(x, x, out=t)
    _reduce(t, q)
    np.multiply(t, x, out=t)
    _reduce(t, q)
    np.multiply(t, t, out=t)
    _reduce(t, q)
    np.multiply(t, x, out=x)
    _reduce(x, q)


def _external_inplace(x: Arr, q: Arr) -> None:
    """M_E on a lane-major (16, m) array in place; inputs < 2^32, outputs < p."""
    blocks = x.reshape(4, 4, -1)
    a, b, c, d = blocks[:, 0], blocks[:, 1], blocks[:, 2], blocks[:, 3]
    t01 = a + b
    t23 = c + d
    t0123 = t01 + t23
    t01123 = t0123 + b
    t01233 = t0123 + d
    np.add(t01233, a, out=d)  # 3a + b + c + 2d
    np.add(d, a, out=d)
    np.add(t01123, c, out=b)  # a + 2b + 3c + d
    np.add(b, c, out=b)
    np.add(t01123, t01, out=a)  # 2a + 3b + c + d
    np.add(t01233, t23, out=c)  # a + b + 2c + 3d
    np.add(blocks, blocks.sum(axis=0), out=blocks)
    _reduce(x, q)


def _permute_lanes(x: Arr) -> None:
    """The permutation of a lane-major (16, m) array of canonical values, in place."""
    q = np.empty_like(x)
    t = np.empty_like(x)
    x0, t0, q0 = x[0], t[0], q[0]
    _external_inplace(x, q)
    for rc_col in _RC_INITIAL_COLS:
        np.add(x, rc_col, out=x)
        _sbox_inplace(x, t, q)
        _external_inplace(x, q)
    for rc in _RC_PARTIAL:
        np.add(x0, rc, out=x0)
        _sbox_inplace(x0, t0, q0)
        total = x.sum(axis=0)
        np.multiply(x, _DIAG_COL, out=x)
        np.add(x, total, out=x)
        _reduce(x, q)
    for rc_col in _RC_FINAL_COLS:
        np.add(x, rc_col, out=x)
        _sbox_inplace(x, t, q)
        _external_inplace(x, q)


def _permute_int(state: list[int]) -> list[int]:
    """One state over Python ints, straight-line (the small-batch path)."""
    def ext(v: list[int]) -> list[int]:
        out: list[int] = []
        for i in range(0, 16, 4):
            a, b, c, d = v[i], v[i + 1], v[i + 2], v[i + 3]
            out += (2 * a + 3 * b + c + d, a + 2 * b + 3 * c + d, a + b + 2 * c + 3 * d, 3 * a + b + c + 2 * d)
        s0 = out[0] + out[4] + out[8] + out[12]
        s1 = out[1] + out[5] + out[9] + out[13]
        s2 = out[2] + out[6] + out[10] + out[14]
        s3 = out[3] + out[7] + out[11] + out[15]
        sums = (s0, s1, s2, s3)
        return [(y + sums[j & 3]) % P for j, y in enumerate(out)]

    x = ext([v % P for v in state])
    for rc in RC_EXTERNAL_INITIAL:
        x = ext([pow(v + c, SBOX_DEGREE, P) for v, c in zip(x, rc, strict=True)])
    for c0 in RC_INTERNAL:
        x[0] = pow(x[0] + c0, SBOX_DEGREE, P)
        s = sum(x)
        x = [(d * v + s) % P for d, v in zip(INTERNAL_DIAG, x, strict=True)]
    for rc in RC_EXTERNAL_FINAL:
        x = ext([pow(v + c, SBOX_DEGREE, P) for v, c in zip(x, rc, strict=True)])
    return x


def permute(states: Arr) -> Arr:
    """Poseidon2 permutation of every state in a (..., 16) array (same values as `permute_slow`)."""
    arr = np.asarray(states, dtype=np.uint64)
    flat = arr.reshape(-1, WIDTH)
    if flat.shape[0] <= SMALL_BATCH:
        rows = [_permute_int([int(v) for v in row]) for row in flat.tolist()]
        return np.array(rows, dtype=np.uint64).reshape(arr.shape)
    x = np.ascontiguousarray(flat.T)
    np.remainder(x, _PU, out=x)
    _permute_lanes(x)
    out: Arr = np.ascontiguousarray(x.T).reshape(arr.shape)
    return out


def hash_two(left: Arr, right: Arr) -> Arr:
    """2-to-1 compression of 8-element digests (shape (..., 8) each): P(left || right)[:8]."""
    return permute(np.concatenate([left, right], axis=-1))[..., :DIGEST]


# --- reference over Python ints ---------------------------------------------------------------

def permute_ref(state: list[int]) -> list[int]:
    """Straight-line reference permutation of one state (readable, slow)."""
    def m4(v: list[int]) -> list[int]:
        return [sum(M4[r][c] * v[c] for c in range(4)) for r in range(4)]

    def ext_layer(x: list[int]) -> list[int]:
        ys = [m4(x[4 * i:4 * i + 4]) for i in range(4)]
        sums = [sum(ys[i][j] for i in range(4)) for j in range(4)]
        return [(ys[i][j] + sums[j]) % P for i in range(4) for j in range(4)]

    x = ext_layer([v % P for v in state])
    for kind, rc in round_schedule():
        if kind == "full":
            x = ext_layer([pow((v + c) % P, SBOX_DEGREE, P) for v, c in zip(x, rc, strict=True)])
        else:
            x[0] = pow((x[0] + rc[0]) % P, SBOX_DEGREE, P)
            s = sum(x)
            x = [(d * v + s) % P for d, v in zip(INTERNAL_DIAG, x, strict=True)]
    return x
