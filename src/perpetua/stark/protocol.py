"""Protocol pieces shared by prover and verifier: transcript start, domains, periodic columns,
the composition identity and the DEEP quotient."""

from __future__ import annotations

import numpy as np

from perpetua.stark import extension as ext
from perpetua.stark import field as fld
from perpetua.stark.air import Air
from perpetua.stark.field import Arr
from perpetua.stark.ntt import intt
from perpetua.stark.params import ProofOptions
from perpetua.stark.transcript import Transcript

DOMAIN_SEPARATOR = b"perpetua-stark/v1"


def start_transcript(air: Air, options: ProofOptions) -> Transcript:
    """Bind protocol version, AIR name and shape, options and every public input."""
    tr = Transcript(DOMAIN_SEPARATOR)
    tr.absorb(b"air-name", air.name.encode())
    tr.absorb(b"air-params", air.parameters())
    tr.absorb(b"options", options.to_bytes())
    tr.absorb_elements(b"public-inputs", fld.array(air.public_inputs()))
    return tr


def periodic_coeffs(air: Air) -> list[Arr]:
    """Coefficients q of each periodic column: value at row i = q(g^(i * T / len))."""
    return [intt(fld.array(col)) for col in air.periodic_columns()]


def assertion_groups(air: Air) -> list[int]:
    """Distinct rows carrying assertions (main first, then auxiliary), in first-seen order."""
    rows: list[int] = []
    for a in air.assertions():
        if a.row not in rows:
            rows.append(a.row)
    return rows


def num_chunks(air: Air) -> int:
    return max(1, air.max_constraint_degree - 1)


def deep_quotient(x: Arr, a_num: Arr, b_num: Arr, z: Arr, gz: Arr) -> Arr:
    """(A(x) (x - gz) + B(x) (x - z)) / ((x - z)(x - gz)) for base points x (n,).

    A(x) = sum_i gamma_i (f_i(x) - f_i(z)) and B likewise at gz: one extension inversion.
    """
    xe = ext.from_base(x)
    x_z = ext.sub(xe, z.reshape(4, 1))
    x_gz = ext.sub(xe, gz.reshape(4, 1))
    num = ext.add(ext.mul(a_num, x_gz), ext.mul(b_num, x_z))
    return ext.mul(num, ext.inverse(ext.mul(x_z, x_gz)))


def combine(columns: Arr, coeffs: Arr) -> Arr:
    """sum_i coeffs[i] * columns[i] with base columns (c, n) and extension coefficients (c, 4)."""
    acc = np.zeros((4, columns.shape[1]), dtype=np.uint64)
    for i in range(columns.shape[0]):
        acc += ext.mul_base(coeffs[i].reshape(4, 1), columns[i])
        acc %= np.uint64(fld.P)
    return acc


def combine_ood(values: Arr, coeffs: Arr) -> Arr:
    """sum_i coeffs[i] * values[i] with extension values and coefficients, both (c, 4) -> (4,)."""
    if values.shape[0] == 0:
        return np.zeros(4, dtype=np.uint64)
    total: Arr = ext.mul(values.T, coeffs.T).sum(axis=1, dtype=np.uint64)
    return total % np.uint64(fld.P)
