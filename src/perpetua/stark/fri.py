"""FRI low-degree test pieces shared by prover and verifier.

Layer l holds evaluations on the coset s_l * <w_{N_l}> with s_l = shift^(k^l), N_l = N / k^l.
A Merkle leaf of layer l groups the k points that fold together: positions i + j * N_l / k for
j < k, whose k-th powers are all the point i of layer l + 1. Folding with challenge beta maps
f(y) = sum_m y^m f_m(y^k) to f'(x^k) = sum_m beta^m f_m(x^k), computed from the k values by

    f'(x^k) = (1/k) * sum_m (beta / x)^m * sum_j zeta^(-j m) f(x zeta^j),   zeta = w_k.
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import extension as ext
from perpetua.stark import field as fld
from perpetua.stark.field import Arr, P
from perpetua.stark.params import ProofOptions

_P = np.uint64(P)


def num_folds(trace_length: int, options: ProofOptions) -> int:
    """Fold while the degree bound exceeds ``max_remainder_degree`` and stays >= 1."""
    degree, folds, k = trace_length, 0, options.folding_factor
    while degree > options.max_remainder_degree and degree % k == 0:
        degree //= k
        folds += 1
    return folds


def leaf_matrix(cols: Arr, k: int) -> Arr:
    """(c, N) column evaluations -> (N/k, k*c): leaf i holds rows i + j*N/k, j < k."""
    c, n = cols.shape
    return np.ascontiguousarray(cols.reshape(c, k, n // k).transpose(2, 1, 0).reshape(n // k, k * c))


def leaf_values(leaves: Arr, k: int, c: int) -> Arr:
    """Inverse of ``leaf_matrix`` for selected leaves: (m, k*c) -> (k, c, m)."""
    return np.ascontiguousarray(leaves.reshape(-1, k, c).transpose(1, 2, 0))


def fold(values: Arr, x_inv: Arr, beta: Arr) -> Arr:
    """Fold k extension vectors (k, 4, m) at points x (given as x^-1, shape (m,)) -> (4, m)."""
    k = values.shape[0]
    zeta_inv = fld.inv(fld.root_of_unity(k)) if k > 1 else 1
    g: list[Arr] = []
    for m in range(k):
        acc = values[0].copy()
        step = pow(zeta_inv, m, P)
        for j in range(1, k):
            acc += values[j] * np.uint64(pow(step, j, P))
            acc %= _P
        g.append(acc)
    r = ext.mul_base(np.broadcast_to(beta.reshape(4, 1), (4, x_inv.shape[0])).copy(), x_inv)
    acc = g[k - 1]
    for m in range(k - 2, -1, -1):
        acc = ext.add(ext.mul(acc, r), g[m])
    return ext.mul_base(acc, fld.inv(k))


def fold_ref(values: list[tuple[int, int, int, int]], x: int,
             beta: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Reference fold of one coset: interpolate the k values and recombine coefficient-wise."""
    k = len(values)
    zeta = fld.root_of_unity(k) if k > 1 else 1
    pts = [x * pow(zeta, j, P) % P for j in range(k)]
    # Lagrange-free: solve the k x k Vandermonde system coordinate-wise by Gaussian elimination.
    coeffs = []
    for coord in range(4):
        rows = [[pow(p_, e, P) for e in range(k)] + [v[coord]] for p_, v in zip(pts, values, strict=True)]
        for col in range(k):
            piv = next(r for r in range(col, k) if rows[r][col])
            rows[col], rows[piv] = rows[piv], rows[col]
            iv = fld.inv(rows[col][col])
            rows[col] = [a * iv % P for a in rows[col]]
            for r in range(k):
                if r != col and rows[r][col]:
                    f = rows[r][col]
                    rows[r] = [(a - f * b) % P for a, b in zip(rows[r], rows[col], strict=True)]
        coeffs.append([rows[i][k] for i in range(k)])
    # f(y) = sum_e c_e y^e, so f_m(x^k) = c_m (each f_m is constant on one coset).
    out: tuple[int, int, int, int] = (0, 0, 0, 0)
    bpow: tuple[int, int, int, int] = (1, 0, 0, 0)
    for m in range(k):
        cm = (coeffs[0][m], coeffs[1][m], coeffs[2][m], coeffs[3][m])
        t = ext.mul_ref(bpow, cm)
        out = (out[0] + t[0]) % P, (out[1] + t[1]) % P, (out[2] + t[2]) % P, (out[3] + t[3]) % P
        bpow = ext.mul_ref(bpow, beta)
    return out
