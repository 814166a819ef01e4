"""The STARK verifier: (AIR with its public inputs, proof bytes) -> accept or VerificationError.

It replays the prover's transcript, checks the constraint identity at the out-of-domain point z,
then for each query recomputes the DEEP quotient from the opened trace and composition leaves,
folds it through every FRI layer (checking each opened layer) and compares with the remainder
polynomial.
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import extension as ext
from perpetua.stark import field as fld
from perpetua.stark import fri
from perpetua.stark.air import Air, Frame
from perpetua.stark.algebra import ExtVec, FieldVec, ext_value
from perpetua.stark.errors import DeserializationError, StarkError, VerificationError
from perpetua.stark.field import Arr, P
from perpetua.stark.merkle import verify_batch
from perpetua.stark.ntt import COSET_SHIFT
from perpetua.stark.params import security_bits
from perpetua.stark.proof import Opening, Proof
from perpetua.stark.protocol import (
    combine_ood,
    deep_quotient,
    num_chunks,
    periodic_coeffs,
    start_transcript,
)

_P = np.uint64(P)


def verify(air: Air, proof_bytes: bytes, *, min_security_bits: float = 100.0) -> None:
    """Accept the proof or raise VerificationError (also for malformed bytes)."""
    try:
        proof = Proof.from_bytes(proof_bytes)
    except DeserializationError as e:
        raise VerificationError(f"malformed proof: {e}") from e
    try:
        _verify(air, proof, min_security_bits)
    except StarkError as e:
        if isinstance(e, VerificationError):
            raise
        raise VerificationError(str(e)) from e
    except (ValueError, IndexError, ZeroDivisionError, KeyError) as e:
        raise VerificationError(f"malformed proof: {e}") from e


def is_valid(air: Air, proof_bytes: bytes, *, min_security_bits: float = 100.0) -> bool:
    try:
        verify(air, proof_bytes, min_security_bits=min_security_bits)
    except VerificationError:
        return False
    return True


def _fail(msg: str) -> VerificationError:
    return VerificationError(msg)


def _shape(m: Arr, shape: tuple[int, ...], what: str) -> None:
    if m.shape != shape:
        raise _fail(f"{what} has shape {m.shape}, expected {shape}")


def _verify(air: Air, proof: Proof, min_security_bits: float) -> None:
    opts = proof.options
    air.check_shape()
    t, b, k = air.trace_length, opts.blowup, opts.folding_factor
    n = t * b
    if proof.trace_length != t:
        raise _fail("trace length differs from the AIR")
    level = security_bits(opts, t, air.max_constraint_degree)
    if level.conjectured_bits < min_security_bits:
        raise _fail(f"proof options give {level.conjectured_bits} bits < {min_security_bits}")
    if air.max_constraint_degree - 1 > b or k > t:
        raise _fail("options incompatible with the AIR")
    w, a4, chunks = air.trace_width, 4 * air.num_aux_columns, num_chunks(air)
    c4 = 4 * chunks
    if (proof.aux_root is None) != (air.num_aux_columns == 0):
        raise _fail("auxiliary commitment presence differs from the AIR")

    tr = start_transcript(air, opts)
    tr.absorb(b"main-root", proof.main_root)
    rand: list[Arr] = []
    if proof.aux_root is not None:
        rand = tr.draw_ext_many(air.num_aux_random)
        tr.absorb(b"aux-root", proof.aux_root)
    alphas = tr.draw_ext_many(air.num_transition_constraints)
    main_asserts = air.assertions()
    aux_asserts = air.aux_assertions(rand)
    betas = tr.draw_ext_many(len(main_asserts) + len(aux_asserts))
    tr.absorb(b"comp-root", proof.comp_root)
    z = tr.draw_ext()
    g = fld.root_of_unity(t)
    gz = ext.mul_base(z, g)

    _shape(proof.ood_main_z, (w, 4), "ood_main_z")
    _shape(proof.ood_main_gz, (w, 4), "ood_main_gz")
    _shape(proof.ood_aux_z, (a4, 4), "ood_aux_z")
    _shape(proof.ood_aux_gz, (a4, 4), "ood_aux_gz")
    _shape(proof.ood_comp_z, (c4, 4), "ood_comp_z")

    # constraint identity at z
    lhs = _composition_at_z(air, proof, rand, alphas, betas, z, g)
    comp = proof.ood_comp_z.reshape(chunks, 4, 4)  # chunk, coordinate, extension value
    zt = ext.pow_(z, t).reshape(4, 1)
    rhs = np.zeros((4, 1), dtype=np.uint64)
    zpow = np.zeros((4, 1), dtype=np.uint64)
    zpow[0, 0] = 1
    for j in range(chunks):
        hj = ext.from_coords(comp[j].reshape(4, 4, 1))
        rhs = ext.add(rhs, ext.mul(zpow, hj))
        zpow = ext.mul(zpow, zt)
    if not np.array_equal(lhs.reshape(4), rhs.reshape(4)):
        raise _fail("out-of-domain constraint check failed")

    for label, vals in ((b"ood-main-z", proof.ood_main_z), (b"ood-main-gz", proof.ood_main_gz),
                        (b"ood-aux-z", proof.ood_aux_z), (b"ood-aux-gz", proof.ood_aux_gz),
                        (b"ood-comp-z", proof.ood_comp_z)):
        tr.absorb_elements(label, vals)
    gamma_z = np.array(tr.draw_ext_many(w + a4)).reshape(w + a4, 4)
    gamma_gz = np.array(tr.draw_ext_many(w + a4)).reshape(w + a4, 4)
    gamma_c = np.array(tr.draw_ext_many(c4)).reshape(c4, 4)

    folds = fri.num_folds(t, opts)
    if len(proof.fri_roots) != max(folds - 1, 0) or len(proof.fri_layers) != len(proof.fri_roots):
        raise _fail("wrong number of FRI layers")
    betas_fri: list[Arr] = []
    for step in range(folds):
        if step > 0:
            tr.absorb(b"fri-root", proof.fri_roots[step - 1])
        betas_fri.append(tr.draw_ext())
    degree = t // k**folds
    _shape(proof.remainder, (4, degree), "remainder")
    tr.absorb_elements(b"fri-remainder", proof.remainder)
    if not tr.check_pow(proof.pow_nonce, opts.grinding_bits):
        raise _fail("proof of work failed")
    tr.absorb(b"pow-nonce", proof.pow_nonce.to_bytes(8, "little"))
    queries = tr.draw_indices(opts.num_queries, n // k)

    # openings of the trace and composition commitments
    q0 = sorted(set(queries))
    _check_opening(proof.main_root, n // k, q0, proof.main, k * w, "main trace")
    if proof.aux_root is not None:
        assert proof.aux is not None
        _check_opening(proof.aux_root, n // k, q0, proof.aux, k * a4, "aux trace")
    _check_opening(proof.comp_root, n // k, q0, proof.comp, k * c4, "composition")

    # DEEP quotient at the k points of each opened leaf
    row_of = {q: i for i, q in enumerate(q0)}
    main_v = fri.leaf_values(proof.main.leaves, k, w)  # (k, w, u)
    aux_v = (fri.leaf_values(proof.aux.leaves, k, a4) if proof.aux is not None
             else np.zeros((k, 0, len(q0)), dtype=np.uint64))
    comp_v = fri.leaf_values(proof.comp.leaves, k, c4)
    trace_v = np.concatenate([main_v, aux_v], axis=1)
    ood_tz = np.concatenate([proof.ood_main_z, proof.ood_aux_z])
    ood_tgz = np.concatenate([proof.ood_main_gz, proof.ood_aux_gz])
    a_const = ext.add(combine_ood(ood_tz, gamma_z), combine_ood(proof.ood_comp_z, gamma_c)).reshape(4, 1)
    b_const = combine_ood(ood_tgz, gamma_gz).reshape(4, 1)
    omega = fld.root_of_unity(n)
    m0 = n // k
    u = len(q0)
    values = np.zeros((k, 4, u), dtype=np.uint64)
    for j in range(k):
        xs = np.array([COSET_SHIFT * pow(omega, q + j * m0, P) % P for q in q0], dtype=np.uint64)
        a_num = ext.sub(ext.add(_combine_cols(trace_v[j], gamma_z), _combine_cols(comp_v[j], gamma_c)),
                        a_const)
        b_num = ext.sub(_combine_cols(trace_v[j], gamma_gz), b_const)
        values[j] = deep_quotient(xs, a_num, b_num, z, gz)

    # fold through the layers; positions[i] tracks query i
    positions = list(queries)
    cur = {q: values[:, :, row_of[q]] for q in q0}  # leaf -> (k, 4)
    shift, size = COSET_SHIFT, n
    for step in range(folds):
        m = size // k
        leaves = sorted(cur)
        vals = np.stack([cur[p] for p in leaves], axis=2)  # (k, 4, L)
        w_inv = fld.inv(fld.root_of_unity(size))
        x_inv = np.array([fld.inv(shift) * pow(w_inv, p, P) % P for p in leaves], dtype=np.uint64)
        folded_arr = fri.fold(vals, x_inv, betas_fri[step])
        folded = {p: folded_arr[:, i] for i, p in enumerate(leaves)}  # position in next layer
        shift, size = pow(shift, k, P), m
        if step + 1 < folds:
            layer = proof.fri_layers[step]
            leaves_n = size // k
            idx = sorted({p % leaves_n for p in positions})
            _check_opening(proof.fri_roots[step], leaves_n, idx, layer, 4 * k, f"FRI layer {step + 1}")
            lv = fri.leaf_values(layer.leaves, k, 4)  # (k, 4, |idx|)
            col = {p: i for i, p in enumerate(idx)}
            for p in {q for q in positions}:
                slot, leaf = divmod(p, leaves_n)
                if not np.array_equal(lv[slot, :, col[leaf]], folded[p]):
                    raise _fail(f"FRI layer {step + 1} inconsistent with folding")
            cur = {leaf: lv[:, :, col[leaf]] for leaf in idx}
            positions = [p % leaves_n for p in positions]
        else:
            # final layer: compare with the remainder polynomial
            w_n = fld.root_of_unity(size)
            pts = sorted(folded)
            xs = np.array([shift * pow(w_n, p, P) % P for p in pts], dtype=np.uint64)
            expect = ext.eval_ext_poly(proof.remainder, ext.from_base(xs))
            got = np.stack([folded[p] for p in pts], axis=1)
            if not np.array_equal(expect, got):
                raise _fail("FRI remainder mismatch")
    if folds == 0:
        # no folding: the DEEP quotient itself must match the remainder at every opened point
        for j in range(k):
            xs = np.array([COSET_SHIFT * pow(omega, q + j * m0, P) % P for q in q0], dtype=np.uint64)
            expect = ext.eval_ext_poly(proof.remainder, ext.from_base(xs))
            if not np.array_equal(expect, values[j]):
                raise _fail("FRI remainder mismatch")


def _combine_cols(cols: Arr, coeffs: Arr) -> Arr:
    """sum_i coeffs[i] * cols[i] for base values (c, u) and extension coefficients (c, 4)."""
    acc = np.zeros((4, cols.shape[1]), dtype=np.uint64)
    for i in range(cols.shape[0]):
        acc += ext.mul_base(coeffs[i].reshape(4, 1), cols[i])
        acc %= _P
    return acc


def _check_opening(root: bytes, num_leaves: int, idx: list[int], opening: Opening, width: int,
                   what: str) -> None:
    if opening.leaves.shape != (len(idx), width):
        raise _fail(f"{what} opening has the wrong shape")
    if not verify_batch(root, num_leaves, idx, opening.leaves, opening.siblings):
        raise _fail(f"{what} Merkle opening invalid")


def _composition_at_z(air: Air, proof: Proof, rand: list[Arr], alphas: list[Arr], betas: list[Arr],
                      z: Arr, g: int) -> Arr:
    t = air.trace_length
    coeffs = periodic_coeffs(air)
    at_z: dict[int, Arr] = {}
    for length in sorted({q.shape[0] for q in coeffs}):  # one vectorised pass per period
        idx = [i for i, q in enumerate(coeffs) if q.shape[0] == length]
        zq = ext.pow_(z, t // length).reshape(4, 1)
        at = ext.eval_base_polys(np.stack([coeffs[i] for i in idx]), zq)
        at_z.update({i: at[j].reshape(4, 1) for j, i in enumerate(idx)})
    periodic: list[FieldVec] = [ExtVec(at_z[i]) for i in range(len(coeffs))]
    aux_z = proof.ood_aux_z.reshape(air.num_aux_columns, 4, 4)
    aux_gz = proof.ood_aux_gz.reshape(air.num_aux_columns, 4, 4)

    def aux_val(v: Arr) -> FieldVec:  # (4 coords, 4 ext) -> sum_k coord_k * t^k
        return ExtVec(ext.from_coords(v.reshape(4, 4, 1)))

    frame = Frame(
        cur=[ExtVec(v.reshape(4, 1)) for v in proof.ood_main_z],
        nxt=[ExtVec(v.reshape(4, 1)) for v in proof.ood_main_gz],
        periodic=periodic,
        aux_cur=[aux_val(v) for v in aux_z],
        aux_nxt=[aux_val(v) for v in aux_gz],
        rand=[ExtVec(r) for r in rand],
    )
    values = air.evaluate_transition(frame)
    if len(values) != air.num_transition_constraints:
        raise _fail("AIR returned the wrong number of constraints")
    acc = np.zeros((4, 1), dtype=np.uint64)
    for alpha, v in zip(alphas, values, strict=True):
        acc = ext.add(acc, ext.mul(alpha.reshape(4, 1), ext_value(v)))
    zt1 = ext.sub(ext.pow_(z, t).reshape(4, 1), ext.scalar([1, 0, 0, 0]).reshape(4, 1))
    z_last = ext.sub(z.reshape(4, 1), ext.scalar([pow(g, t - 1, P), 0, 0, 0]).reshape(4, 1))
    acc = ext.mul(acc, ext.mul(z_last, ext.inverse(zt1)))
    main_asserts = air.assertions()
    by_row: dict[int, Arr] = {}
    for beta, a in zip(betas, main_asserts, strict=False):
        val = ext.sub(proof.ood_main_z[a.column].reshape(4, 1), ext.scalar([a.value, 0, 0, 0]).reshape(4, 1))
        term = ext.mul(beta.reshape(4, 1), val)
        by_row[a.row] = ext.add(by_row[a.row], term) if a.row in by_row else term
    for beta, aa in zip(betas[len(main_asserts):], air.aux_assertions(rand), strict=True):
        av = ext_value(aux_val(aux_z[aa.column]))
        term = ext.mul(beta.reshape(4, 1), ext.sub(av, ext.scalar(aa.value).reshape(4, 1)))
        by_row[aa.row] = ext.add(by_row[aa.row], term) if aa.row in by_row else term
    for row, num in by_row.items():
        denom = ext.sub(z.reshape(4, 1), ext.scalar([pow(g, row, P), 0, 0, 0]).reshape(4, 1))
        acc = ext.add(acc, ext.mul(num, ext.inverse(denom)))
    return acc
