"""The STARK prover: trace -> proof bytes.

Steps (see docs/stark.md): commit the trace LDE; optionally draw challenges and commit
auxiliary columns; combine all constraints divided by their vanishing polynomials into the
composition polynomial H with random coefficients, split H into chunks of degree < T and commit
them; draw the out-of-domain point z and send every committed polynomial at z (and trace columns
at g*z); draw DEEP coefficients, build the DEEP quotient and run FRI on it; grind; open queries.
The prover is deterministic (no zero-knowledge blinding).
"""

from __future__ import annotations

import numpy as np

from perpetua.stark import extension as ext
from perpetua.stark import field as fld
from perpetua.stark import fri
from perpetua.stark.air import Air, Frame
from perpetua.stark.algebra import BaseVec, ExtVec, FieldVec, ext_value
from perpetua.stark.errors import ProverError
from perpetua.stark.field import Arr, P
from perpetua.stark.merkle import MerkleTree
from perpetua.stark.ntt import COSET_SHIFT, coset_intt, domain, extend_coeffs, intt
from perpetua.stark.params import ProofOptions
from perpetua.stark.proof import Opening, Proof
from perpetua.stark.protocol import (
    combine,
    combine_ood,
    deep_quotient,
    num_chunks,
    periodic_coeffs,
    start_transcript,
)

_P = np.uint64(P)


def prove(air: Air, trace: Arr, options: ProofOptions | None = None, *, check_trace: bool = True) -> bytes:
    """Prove that ``trace`` (shape (trace_width, trace_length)) satisfies ``air``.

    Raises ProverError if the trace violates a constraint or the composition polynomial is not
    of the declared degree. ``check_trace=False`` skips those checks and silently truncates
    over-degree polynomials: a cheating prover, which soundness tests use to build proofs of
    false statements that the verifier must reject.
    """
    return _prove(air, trace, options or ProofOptions(), check_trace).to_bytes()


def _prove(air: Air, trace: Arr, options: ProofOptions, check_trace: bool) -> Proof:
    air.check_shape()
    t, b, k = air.trace_length, options.blowup, options.folding_factor
    n = t * b
    if air.max_constraint_degree - 1 > b:
        raise ProverError("blowup too small for the constraint degree")
    if k > t:
        raise ProverError("folding factor exceeds trace length")
    trace = np.ascontiguousarray(trace, dtype=np.uint64)
    if trace.shape != (air.trace_width, t):
        raise ProverError(f"trace shape {trace.shape} != {(air.trace_width, t)}")
    if check_trace:
        errors = air.check_trace(trace)
        if errors:
            raise ProverError("trace violates the AIR: " + "; ".join(errors[:5]))

    tr = start_transcript(air, options)

    # 1. main trace: interpolate, extend to the coset, commit (leaf = k rows that fold together)
    main_coeffs = intt(trace)
    main_lde = extend_coeffs(main_coeffs, n)
    main_leaves = fri.leaf_matrix(main_lde, k)
    main_tree = MerkleTree(main_leaves)
    tr.absorb(b"main-root", main_tree.root)

    # 2. auxiliary (randomised) columns, committed coordinate-wise as base columns
    rand: list[Arr] = []
    aux_coeffs = np.zeros((0, t), dtype=np.uint64)
    aux_lde = np.zeros((0, n), dtype=np.uint64)
    aux_tree: MerkleTree | None = None
    if air.num_aux_columns:
        rand = tr.draw_ext_many(air.num_aux_random)
        aux = air.build_aux_trace(trace, rand)
        if aux.shape != (air.num_aux_columns, 4, t):
            raise ProverError("auxiliary trace has the wrong shape")
        aux_coeffs = intt(aux.reshape(4 * air.num_aux_columns, t))
        aux_lde = extend_coeffs(aux_coeffs, n)
        aux_tree = MerkleTree(fri.leaf_matrix(aux_lde, k))
        tr.absorb(b"aux-root", aux_tree.root)

    # 3. composition polynomial
    alphas = tr.draw_ext_many(air.num_transition_constraints)
    aux_asserts = air.aux_assertions(rand)
    betas = tr.draw_ext_many(len(air.assertions()) + len(aux_asserts))
    h_evals = _composition(air, main_lde, aux_lde, rand, alphas, betas, n)
    h_coeffs = coset_intt(h_evals, COSET_SHIFT)
    chunks = num_chunks(air)
    if check_trace and np.any(h_coeffs[:, chunks * t:]):
        raise ProverError("composition polynomial too large: constraints fail or degree is understated")
    comp_coeffs = h_coeffs[:, : chunks * t].reshape(4, chunks, t).transpose(1, 0, 2).reshape(4 * chunks, t)
    comp_lde = extend_coeffs(comp_coeffs, n)
    comp_tree = MerkleTree(fri.leaf_matrix(comp_lde, k))
    tr.absorb(b"comp-root", comp_tree.root)

    # 4. out-of-domain evaluations
    z = tr.draw_ext()
    g = fld.root_of_unity(t)
    gz = ext.mul_base(z, g)
    ood_main_z = ext.eval_base_polys(main_coeffs, z)
    ood_main_gz = ext.eval_base_polys(main_coeffs, gz)
    ood_aux_z = ext.eval_base_polys(aux_coeffs, z)
    ood_aux_gz = ext.eval_base_polys(aux_coeffs, gz)
    ood_comp_z = ext.eval_base_polys(comp_coeffs, z)
    for label, vals in ((b"ood-main-z", ood_main_z), (b"ood-main-gz", ood_main_gz),
                        (b"ood-aux-z", ood_aux_z), (b"ood-aux-gz", ood_aux_gz),
                        (b"ood-comp-z", ood_comp_z)):
        tr.absorb_elements(label, vals)

    # 5. DEEP quotient over all committed base columns
    trace_cols = np.concatenate([main_lde, aux_lde])
    gamma_z = np.array(tr.draw_ext_many(trace_cols.shape[0]))
    gamma_gz = np.array(tr.draw_ext_many(trace_cols.shape[0]))
    gamma_c = np.array(tr.draw_ext_many(comp_lde.shape[0]))
    ood_trace_z = np.concatenate([ood_main_z, ood_aux_z])
    ood_trace_gz = np.concatenate([ood_main_gz, ood_aux_gz])
    a_num = ext.add(combine(trace_cols, gamma_z), combine(comp_lde, gamma_c))
    a_num = ext.sub(a_num, ext.add(combine_ood(ood_trace_z, gamma_z),
                                   combine_ood(ood_comp_z, gamma_c)).reshape(4, 1))
    b_num = ext.sub(combine(trace_cols, gamma_gz), combine_ood(ood_trace_gz, gamma_gz).reshape(4, 1))
    xs = domain(n, COSET_SHIFT)
    layer = deep_quotient(xs, a_num, b_num, z, gz)

    # 6. FRI commit phase
    folds = fri.num_folds(t, options)
    trees: list[tuple[MerkleTree, Arr]] = []
    shift, size = COSET_SHIFT, n
    for step in range(folds):
        if step > 0:
            leaves = fri.leaf_matrix(layer, k)
            tree = MerkleTree(leaves)
            trees.append((tree, leaves))
            tr.absorb(b"fri-root", tree.root)
        beta = tr.draw_ext()
        m = size // k
        x_inv = fld.powers(fld.inv(fld.root_of_unity(size)), m, start=fld.inv(shift))
        layer = fri.fold(layer.reshape(4, k, m).transpose(1, 0, 2), x_inv, beta)
        shift, size = pow(shift, k, P), m
    degree = t // k**folds
    rem_coeffs = coset_intt(layer, shift)
    if check_trace and np.any(rem_coeffs[:, degree:]):
        raise ProverError("FRI remainder exceeds its degree bound")
    remainder = np.ascontiguousarray(rem_coeffs[:, :degree])
    tr.absorb_elements(b"fri-remainder", remainder)

    # 7. grinding and queries
    nonce = tr.grind(options.grinding_bits)
    tr.absorb(b"pow-nonce", nonce.to_bytes(8, "little"))
    queries = tr.draw_indices(options.num_queries, n // k)

    def opening(tree: MerkleTree, leaves: Arr, idx: list[int]) -> Opening:
        return Opening(leaves[idx], tree.open(idx))

    q0 = sorted(set(queries))
    main_open = opening(main_tree, main_leaves, q0)
    aux_open = opening(aux_tree, fri.leaf_matrix(aux_lde, k), q0) if aux_tree is not None else None
    comp_open = opening(comp_tree, fri.leaf_matrix(comp_lde, k), q0)
    layer_openings: list[Opening] = []
    positions = queries
    size = n // k
    for tree, leaves in trees:
        leaves_n = size // k
        positions = [p % leaves_n for p in positions]
        idx = sorted(set(positions))
        layer_openings.append(Opening(leaves[idx], tree.open(idx)))
        size = leaves_n
    return Proof(options, t, main_tree.root, aux_tree.root if aux_tree else None, comp_tree.root,
                 ood_main_z, ood_main_gz, ood_aux_z, ood_aux_gz, ood_comp_z,
                 [tree.root for tree, _ in trees], remainder, nonce, main_open, aux_open, comp_open,
                 layer_openings)


def _composition(air: Air, main_lde: Arr, aux_lde: Arr, rand: list[Arr], alphas: list[Arr],
                 betas: list[Arr], n: int) -> Arr:
    """Evaluations on the LDE coset of H = sum alpha_i C_i / Z_trans + sum beta_j (f - v) / (x - g^r)."""
    t = air.trace_length
    b = n // t
    xs = domain(n, COSET_SHIFT)
    periodic: list[FieldVec] = []
    for q in periodic_coeffs(air):
        period = q.shape[0]
        small = extend_coeffs(q, b * period, pow(COSET_SHIFT, t // period, P))
        periodic.append(BaseVec(np.tile(small, t // period)))
    aux_vals = aux_lde.reshape(air.num_aux_columns, 4, n)
    frame = Frame(
        cur=[BaseVec(c) for c in main_lde],
        nxt=[BaseVec(np.roll(c, -b)) for c in main_lde],
        periodic=periodic,
        aux_cur=[ExtVec(c) for c in aux_vals],
        aux_nxt=[ExtVec(np.roll(c, -b, axis=1)) for c in aux_vals],
        rand=[ExtVec(r) for r in rand],
    )
    values = air.evaluate_transition(frame)
    if len(values) != air.num_transition_constraints:
        raise ProverError("evaluate_transition returned the wrong number of constraints")
    acc = np.zeros((4, n), dtype=np.uint64)
    for alpha, v in zip(alphas, values, strict=True):
        if isinstance(v, BaseVec):
            acc = ext.add(acc, ext.mul_base(alpha.reshape(4, 1), v.v))
        else:
            acc = ext.add(acc, ext.mul(alpha.reshape(4, 1), ext_value(v)))
    # divide by Z(x) = (x^T - 1) / (x - g^(T-1)); x^T takes only b values on the coset
    g = fld.root_of_unity(t)
    xt = fld.powers(fld.root_of_unity(b), b, start=pow(COSET_SHIFT, t, P))
    zt_inv = np.tile(fld.inv_pow(fld.sub(xt, 1)), t)
    acc = ext.mul_base(acc, fld.mul(fld.sub(xs, pow(g, t - 1, P)), zt_inv))
    # boundary constraints, grouped by row (one inversion per distinct row)
    main_asserts = air.assertions()
    aux_asserts = air.aux_assertions(rand)
    by_row: dict[int, Arr] = {}
    for beta, a in zip(betas, main_asserts, strict=False):
        term = ext.mul_base(beta.reshape(4, 1), fld.sub(main_lde[a.column], a.value % P))
        by_row[a.row] = ext.add(by_row[a.row], term) if a.row in by_row else term
    for beta, aa in zip(betas[len(main_asserts):], aux_asserts, strict=True):
        col = aux_vals[aa.column]
        term = ext.mul(beta.reshape(4, 1), ext.sub(col, ext.scalar(aa.value).reshape(4, 1)))
        by_row[aa.row] = ext.add(by_row[aa.row], term) if aa.row in by_row else term
    for row, num in by_row.items():
        denom_inv = fld.batch_inverse(fld.sub(xs, pow(g, row, P)))
        acc = ext.add(acc, ext.mul_base(num, denom_inv))
    return acc
