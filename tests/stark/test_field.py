"""Fast field, extension, NTT and FRI-fold routines agree with their naive references."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpetua.stark import extension as ext
from perpetua.stark import field as fld
from perpetua.stark import fri, ntt
from perpetua.stark.field import P

elem = st.integers(min_value=0, max_value=P - 1)
nonzero = st.integers(min_value=1, max_value=P - 1)
ext_elem = st.tuples(elem, elem, elem, elem)


@given(st.lists(st.tuples(elem, elem), min_size=1, max_size=50))
def test_base_ops_match_python_ints(pairs: list[tuple[int, int]]) -> None:
    a = fld.array([x for x, _ in pairs])
    b = fld.array([y for _, y in pairs])
    assert fld.mul(a, b).tolist() == fld.mul_ref([x for x, _ in pairs], [y for _, y in pairs])
    assert fld.add(a, b).tolist() == [(x + y) % P for x, y in pairs]
    assert fld.sub(a, b).tolist() == [(x - y) % P for x, y in pairs]
    assert fld.neg(a).tolist() == [-x % P for x, _ in pairs]


@pytest.mark.parametrize("n", [1, 7, 4096, 1 << 14, 3 * 4096])
def test_batch_inverse_matches_reference(n: int) -> None:
    rng = random.Random(n)
    values = [rng.randrange(1, P) for _ in range(n)]
    assert fld.batch_inverse(fld.array(values)).tolist() == fld.batch_inverse_ref(values)


def test_batch_inverse_rejects_zero() -> None:
    values = np.arange(1, 1 << 13, dtype=np.uint64)
    values[100] = 0
    with pytest.raises(ZeroDivisionError):
        fld.batch_inverse(values)


def test_roots_of_unity_have_exact_order() -> None:
    for log_n in range(1, fld.TWO_ADICITY + 1):
        w = fld.root_of_unity(1 << log_n)
        assert pow(w, 1 << log_n, P) == 1 and pow(w, 1 << (log_n - 1), P) == P - 1


@settings(max_examples=60)
@given(st.lists(st.tuples(ext_elem, ext_elem), min_size=1, max_size=20))
def test_extension_mul_matches_schoolbook(pairs: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> None:
    a = np.array([x for x, _ in pairs], dtype=np.uint64).T
    b = np.array([y for _, y in pairs], dtype=np.uint64).T
    got = ext.mul(a, b)
    for i, (x, y) in enumerate(pairs):
        assert tuple(int(v) for v in got[:, i]) == ext.mul_ref(x, y)  # type: ignore[arg-type]


@settings(max_examples=20, deadline=None)
@given(ext_elem.filter(lambda t: any(t)))
def test_extension_inverse_matches_fermat(x: tuple[int, int, int, int]) -> None:
    got = ext.to_ints(ext.inverse(np.array(x, dtype=np.uint64).reshape(4, 1)))
    assert got == ext.inverse_ref(x)
    assert ext.mul_ref(got, x) == (1, 0, 0, 0)


def test_x4_minus_11_is_irreducible() -> None:
    # t^4 - 11 is irreducible over F_p iff 11 is not a square and p = 1 mod 4 (Lang, VI.9.1)
    assert pow(11, (P - 1) // 2, P) == P - 1 and P % 4 == 1


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 256])
def test_ntt_matches_naive_dft(n: int) -> None:
    rng = random.Random(n)
    coeffs = [rng.randrange(P) for _ in range(n)]
    assert ntt.ntt(fld.array(coeffs)).tolist() == ntt.ntt_ref(coeffs)
    assert ntt.coset_ntt(fld.array(coeffs), 31).tolist() == ntt.ntt_ref(coeffs, 31)
    assert ntt.intt(ntt.ntt(fld.array(coeffs))).tolist() == coeffs
    assert ntt.coset_intt(ntt.coset_ntt(fld.array(coeffs), 7), 7).tolist() == coeffs


def test_batched_ntt_transforms_each_row() -> None:
    rng = np.random.default_rng(1)
    m = rng.integers(0, P, (3, 64), dtype=np.uint64)
    together = ntt.ntt(m)
    for r in range(3):
        assert together[r].tolist() == ntt.ntt(m[r]).tolist()


def test_coset_lde_evaluates_the_interpolant() -> None:
    rng = random.Random(5)
    values = [rng.randrange(P) for _ in range(16)]
    coeffs = ntt.intt(fld.array(values)).tolist()
    lde = ntt.coset_lde(fld.array(values), 4)
    pts = ntt.domain(64, ntt.COSET_SHIFT).tolist()
    assert lde.tolist() == [ntt.evaluate_poly_ref(coeffs, x) for x in pts]


@pytest.mark.parametrize("k", [2, 4, 8, 16])
def test_fri_fold_matches_interpolation(k: int) -> None:
    rng = random.Random(k)
    x = rng.randrange(1, P)
    beta = tuple(rng.randrange(P) for _ in range(4))
    vals = [tuple(rng.randrange(P) for _ in range(4)) for _ in range(k)]
    arr = np.array(vals, dtype=np.uint64).reshape(k, 4, 1)
    got = fri.fold(arr, fld.array([fld.inv(x)]), np.array(beta, dtype=np.uint64))
    assert ext.to_ints(got) == fri.fold_ref(vals, x, beta)  # type: ignore[arg-type]
