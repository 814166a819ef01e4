"""Exact integer arithmetic in a BabyBear AIR: one row per instance of a schema of identities.

The rollup's rules are integer rules over 64- to 256-bit quantities (balances, 32.32 prices,
64.64 risk); BabyBear elements hold 31 bits. A `Schema` declares integer variables as 8-bit
limbs and polynomial identities of degree <= 2 between them; `IntAir` proves that every active
row of a trace satisfies every identity *over the integers*:

- a variable is limbs l_0..l_{n-1} in [0, 256) and, if signed, a sign bit s: value =
  (1 - 2s) * sum l_i 256^i (sign-magnitude, so |x| is free). Public variables are public
  periodic columns of full length (the verifier builds them from the statement); private ones
  are trace cells whose limbs are range-checked.
- an identity sum_t c_t * prod(factors_t) = 0 is checked limb-column by limb-column: with e_k
  the k-th column sum of the limb convolutions, a signed carry chain
  e_0 = 256 c_0, e_k + c_{k-1} = 256 c_k, ..., e_last + c_{last-1} = 0 proves sum e_k 256^k = 0.
  Each carry is lo + 256 hi with lo in [0, 256), hi in [-128, 128); the schema bounds every
  column sum statically, so no field equation can wrap around p and the field identities imply
  the integer identity.
- inequalities are identities with a non-negative private slack (a - b - slack = 0).
- identities can be gated by flags (public columns, or private cells constrained boolean), and
  all are multiplied by the public `active` column (padding rows and the last row are inactive).
- range checks: every private limb, carry lo and carry hi + 128 is looked up in the table
  0..255 (a periodic column) with LogUp: helper columns h = sum 1/(alpha - v) over groups of
  cells, and a running sum s' = s + sum h - m / (alpha - t), s_0 = s_{T-1} = 0. The last row is
  outside the transition constraints, so T >= 512 keeps all 256 table values in the sum.

Nothing here knows the rollup; `perpetua.circuits.position_update` writes its rules with it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from perpetua.stark import extension as ext
from perpetua.stark.air import Air, Assertion, AuxAssertion, Frame
from perpetua.stark.algebra import FieldVec
from perpetua.stark.field import Arr, P

IntArr = npt.NDArray[np.int64]
LIMB_BITS = 8
BASE = 1 << LIMB_BITS
CARRY_HI_OFFSET = 128
MAX_CARRY = BASE * CARRY_HI_OFFSET - 1
"""Carries lie in [-2^15, 2^15)."""
MIN_TRACE = 512


class ArithmeticError_(ValueError):
    """A row's values do not satisfy an identity (the message names the identity and row)."""


@dataclass(frozen=True, slots=True)
class Var:
    """An integer variable: limb columns (trace or public), optional sign column."""

    name: str
    limbs: tuple[int, ...]
    public: bool
    sign: int | None = None
    bound_bits: int = 0
    """|value| < 2^bound_bits (8 * limbs)."""
    source: str | None = None
    """For a magnitude view (`Schema.magnitude`): the signed variable whose |value| this is."""

    def value(self, values: Mapping[str, int]) -> int:
        if self.source is not None:
            return abs(values.get(self.source, 0))
        return values.get(self.name, 0)

    @property
    def signed(self) -> bool:
        return self.sign is not None


@dataclass(frozen=True, slots=True)
class Flag:
    """A 0/1 value: a public column or a private cell constrained boolean."""

    name: str
    index: int
    public: bool


Factor = Var
Term = tuple[int, tuple[Var, ...]]
"""(coefficient, factors): coefficient * product of 0, 1 or 2 variables."""
Gate = tuple[tuple[Flag, bool], ...]
CustomConstraint = Callable[[list[FieldVec], list[FieldVec], FieldVec], FieldVec]
CustomCheck = Callable[[Mapping[str, int], Mapping[str, int]], bool]
"""Flags that must all hold (True: f, False: 1 - f) for the identity to apply."""


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    terms: tuple[Term, ...]
    gate: Gate
    columns: int
    carries: tuple[tuple[int, int], ...]
    """(lo column, hi column) per carry (columns - 1 of them)."""
    degree: int


def limbs_of(value: int, n: int, what: str) -> list[int]:
    """The n base-256 limbs of |value| (raises if it does not fit)."""
    m = abs(value)
    if m >> (LIMB_BITS * n):
        raise ArithmeticError_(f"{what} = {value} does not fit in {n} limbs")
    return [(m >> (LIMB_BITS * i)) & (BASE - 1) for i in range(n)]


def _coef_limbs(c: int) -> list[int]:
    """Signed base-256 digits of a coefficient (|digit| < 256)."""
    sign = -1 if c < 0 else 1
    return [sign * d for d in limbs_of(c, max(1, (abs(c).bit_length() + 7) // 8), "coefficient")]


@dataclass
class Schema:
    """Columns and identities of one row; build once, then use for any number of rows."""

    name: str
    n_private: int = 0
    n_public: int = 0
    vars: dict[str, Var] = field(default_factory=dict)
    flags: dict[str, Flag] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    checked: list[tuple[int, int]] = field(default_factory=list)
    """(private column, offset): v = cell + offset must lie in [0, 256)."""
    booleans: list[int] = field(default_factory=list)

    # -- declarations ---------------------------------------------------------------------------

    def _var(self, name: str, limbs: int, signed: bool, public: bool) -> Var:
        if name in self.vars or name in self.flags:
            raise ValueError(f"duplicate variable {name}")
        if public:
            cols = tuple(range(self.n_public, self.n_public + limbs))
            self.n_public += limbs
            sign = None
            if signed:
                sign = self.n_public
                self.n_public += 1
        else:
            cols = tuple(range(self.n_private, self.n_private + limbs))
            self.n_private += limbs
            self.checked.extend((c, 0) for c in cols)
            sign = None
            if signed:
                sign = self.n_private
                self.n_private += 1
                self.booleans.append(sign)
        v = Var(name, cols, public, sign, LIMB_BITS * limbs)
        self.vars[name] = v
        return v

    def public(self, name: str, limbs: int, signed: bool = False) -> Var:
        return self._var(name, limbs, signed, True)

    def private(self, name: str, limbs: int, signed: bool = False) -> Var:
        return self._var(name, limbs, signed, False)

    def magnitude(self, v: Var) -> Var:
        """|v| for a signed variable: the same limbs without the sign."""
        return Var(f"|{v.name}|", v.limbs, v.public, None, v.bound_bits, v.name)

    def custom(self, name: str, degree: int, constraint: CustomConstraint, check: CustomCheck) -> None:
        """A constraint outside the identity form: `constraint(cur, pub, active)` must vanish (and
        already carry its gating); `check(values, flags)` tells the witness builder whether it holds."""
        self._custom.append((name, degree, constraint, check))

    def flag(self, name: str, public: bool) -> Flag:
        if name in self.vars or name in self.flags:
            raise ValueError(f"duplicate flag {name}")
        if public:
            f = Flag(name, self.n_public, True)
            self.n_public += 1
        else:
            f = Flag(name, self.n_private, False)
            self.n_private += 1
            self.booleans.append(f.index)
        self.flags[name] = f
        return f

    def identity(self, name: str, terms: Sequence[Term], gate: Gate = ()) -> Identity:
        """sum coefficient * prod(factors) = 0 over the integers (when the gate holds)."""
        width = 1
        bound: dict[int, int] = {}
        degree = 0
        for c, factors in terms:
            if len(factors) > 2:
                raise ValueError("at most two factors per term")
            digits = _coef_limbs(c)
            shapes = [len(f.limbs) for f in factors] or [1]
            if len(factors) == 2:
                span = shapes[0] + shapes[1] - 1
                pair_max = (BASE - 1) ** 2
                per = [min(k + 1, shapes[0], shapes[1], span - k) * pair_max for k in range(span)]
            elif len(factors) == 1:
                span, per = shapes[0], [BASE - 1] * shapes[0]
            else:
                span, per = 1, [1]
            for j, d in enumerate(digits):
                for k, b in enumerate(per):
                    bound[j + k] = bound.get(j + k, 0) + abs(d) * b
            width = max(width, len(digits) + span - 1)
            degree = max(degree, len(factors) + sum(1 for f in factors if f.signed))
        carries = []
        carry = 0
        for k in range(width - 1):
            carry = (bound.get(k, 0) + carry) // BASE + 1
            if carry > MAX_CARRY:
                raise ValueError(f"identity {name}: carries exceed the carry range")
            if bound.get(k, 0) + (BASE + 1) * (MAX_CARRY + 1) >= P:
                raise ValueError(f"identity {name}: column sums could wrap around p")
            lo, hi = self.n_private, self.n_private + 1
            self.n_private += 2
            self.checked.extend([(lo, 0), (hi, CARRY_HI_OFFSET)])
            carries.append((lo, hi))
        if bound.get(width - 1, 0) + MAX_CARRY + 1 >= P:
            raise ValueError(f"identity {name}: column sums could wrap around p")
        ident = Identity(name, tuple(terms), tuple(gate), width, tuple(carries), 1 + len(gate) + degree)
        self.identities.append(ident)
        return ident

    def nonneg(self, name: str, terms: Sequence[Term], limbs: int, gate: Gate = ()) -> Var:
        """sum terms >= 0, with a private slack of `limbs` limbs: sum terms - slack = 0."""
        slack = self.private(f"{name}.slack", limbs)
        self.identity(name, [*terms, (-1, (slack,))], gate)
        return slack

    def nonzero(self, name: str, var: Var, gate: Gate = ()) -> None:
        """var != 0: an inverse of the sum of its limbs exists (limbs are small and >= 0)."""
        inv = self.n_private
        self.n_private += 1
        self._nonzero.append((name, var, inv, tuple(gate)))

    _nonzero: list[tuple[str, Var, int, Gate]] = field(default_factory=list)
    _custom: list[tuple[str, int, CustomConstraint, CustomCheck]] = field(default_factory=list)

    def cell(self, cur: list[FieldVec], pub: list[FieldVec], v: Var | Flag, i: int = 0) -> FieldVec:
        """Limb i of a variable, or a flag's value, in constraint code."""
        if isinstance(v, Flag):
            return pub[v.index] if v.public else cur[v.index]
        return pub[v.limbs[i]] if v.public else cur[v.limbs[i]]

    def sign_cell(self, cur: list[FieldVec], pub: list[FieldVec], v: Var) -> FieldVec:
        assert v.sign is not None
        return pub[v.sign] if v.public else cur[v.sign]

    # -- witness ----------------------------------------------------------------------------------

    def row(self, values: Mapping[str, int], flags: Mapping[str, int], row_no: int,
            strict: bool = True) -> tuple[IntArr, IntArr]:
        """(private cells, public cells) of one row; raises ArithmeticError_ if an identity fails.

        `strict=False` is a cheating prover's witness: failing identities get carries anyway
        (soundness tests prove such traces with `check_trace=False` and expect rejection)."""
        priv = np.zeros(self.n_private, dtype=np.int64)
        pub = np.zeros(self.n_public, dtype=np.int64)
        for name, v in self.vars.items():
            x = v.value(values)
            if not strict:  # a cheating prover fits whatever it has into the limbs
                x = _fit(x, v)
            _put(pub if v.public else priv, v, x, f"row {row_no}: {name}")
        for name, f in self.flags.items():
            b = flags.get(name, 0)
            if b not in (0, 1):
                raise ArithmeticError_(f"row {row_no}: flag {name} must be 0 or 1")
            (pub if f.public else priv)[f.index] = b
        for ident in self.identities:
            if not all((flags.get(f.name, 0) == 1) == pol for f, pol in ident.gate):
                continue
            sums = self._column_sums(ident, values if strict else _fitted(self, values))
            carry = 0
            for k, (lo, hi) in enumerate(ident.carries):
                total = sums[k] + carry
                if total % BASE and strict:
                    raise ArithmeticError_(f"row {row_no}: identity {ident.name} fails")
                carry = max(-MAX_CARRY - 1, min(MAX_CARRY, total // BASE))
                priv[lo], priv[hi] = carry % BASE, carry // BASE
            if sums[-1] + carry != 0 and strict:
                raise ArithmeticError_(f"row {row_no}: identity {ident.name} fails")
        for name, v, inv, gate in self._nonzero:
            s = sum(limbs_of(v.value(values), len(v.limbs), v.name))
            if all((flags.get(f.name, 0) == 1) == pol for f, pol in gate):
                if s == 0 and strict:
                    raise ArithmeticError_(f"row {row_no}: {name}: {v.name} must be non-zero")
                priv[inv] = pow(s, P - 2, P) if s else 0
        for name, _, _, check in self._custom:
            if strict and not check(values, flags):
                raise ArithmeticError_(f"row {row_no}: {name} fails")
        return priv, pub

    def public_row(self, values: Mapping[str, int], flags: Mapping[str, int]) -> IntArr:
        """The public cells of one row (the verifier's side: no private value is needed)."""
        pub = np.zeros(self.n_public, dtype=np.int64)
        for name, v in self.vars.items():
            if v.public:
                _put(pub, v, values.get(name, 0), name)
        for name, f in self.flags.items():
            if f.public:
                pub[f.index] = 1 if flags.get(name, 0) else 0
        return pub

    def _column_sums(self, ident: Identity, values: Mapping[str, int]) -> list[int]:
        sums = [0] * ident.columns
        for c, factors in ident.terms:
            digits = _coef_limbs(c)
            if not factors:
                conv, sign = [1], 1
            else:
                sign = 1
                parts = []
                for f in factors:
                    x = f.value(values)
                    sign *= -1 if x < 0 else 1
                    parts.append(limbs_of(x, len(f.limbs), f.name))
                conv = parts[0]
                if len(parts) == 2:
                    a, b = parts
                    conv = [0] * (len(a) + len(b) - 1)
                    for i, ai in enumerate(a):
                        if ai:
                            for j, bj in enumerate(b):
                                conv[i + j] += ai * bj
            for j, d in enumerate(digits):
                for k, v in enumerate(conv):
                    sums[j + k] += sign * d * v
        return sums

    # -- constraints ----------------------------------------------------------------------------

    @property
    def max_degree(self) -> int:
        return max([2, *(i.degree for i in self.identities), *(2 + len(g) for _, _, _, g in self._nonzero),
                    *(d for _, d, _, _ in self._custom)])

    @property
    def group_size(self) -> int:
        return max(1, self.max_degree - 1)

    def groups(self) -> list[list[tuple[int, int]]]:
        g = self.group_size
        return [self.checked[i:i + g] for i in range(0, len(self.checked), g)]

    def constraints(self, cur: list[FieldVec], pub: list[FieldVec], active: FieldVec) -> list[FieldVec]:
        out: list[FieldVec] = [b * (b - 1) for b in (cur[i] for i in self.booleans)]

        def limb(v: Var, i: int) -> FieldVec:
            return pub[v.limbs[i]] if v.public else cur[v.limbs[i]]

        def sigma(v: Var) -> FieldVec | None:
            if v.sign is None:
                return None
            s = pub[v.sign] if v.public else cur[v.sign]
            return 1 - 2 * s

        def flag(f: Flag) -> FieldVec:
            return pub[f.index] if f.public else cur[f.index]

        for ident in self.identities:
            cols: list[FieldVec | int] = [0] * ident.columns
            for c, factors in ident.terms:
                digits = _coef_limbs(c)
                sig: FieldVec | None = None
                for f in factors:
                    s = sigma(f)
                    if s is not None:
                        sig = s if sig is None else sig * s
                conv: list[FieldVec | int]
                if not factors:
                    conv = [1]
                elif len(factors) == 1:
                    conv = [limb(factors[0], i) for i in range(len(factors[0].limbs))]
                else:
                    a, b = factors
                    acc: list[FieldVec | int] = [0] * (len(a.limbs) + len(b.limbs) - 1)
                    for i in range(len(a.limbs)):
                        ai = limb(a, i)
                        for j in range(len(b.limbs)):
                            acc[i + j] = acc[i + j] + ai * limb(b, j)
                    conv = acc
                if sig is not None:
                    conv = [sig * x for x in conv]
                for j, d in enumerate(digits):
                    if d == 0:
                        continue
                    for k, x in enumerate(conv):
                        cols[j + k] = cols[j + k] + d * x
            gate: FieldVec = active
            for fl, pol in ident.gate:
                gate = gate * (flag(fl) if pol else 1 - flag(fl))
            prev: FieldVec | int = 0
            for k in range(ident.columns):
                if k < len(ident.carries):
                    lo, hi = ident.carries[k]
                    carry = cur[lo] + BASE * cur[hi]
                    out.append(gate * (cols[k] + prev - BASE * carry))
                    prev = carry
                else:
                    out.append(gate * (cols[k] + prev))
        for _, v, inv, g in self._nonzero:
            total: FieldVec | int = 0
            for i in range(len(v.limbs)):
                total = total + limb(v, i)
            gate = active
            for fl, pol in g:
                gate = gate * (flag(fl) if pol else 1 - flag(fl))
            out.append(gate * (total * cur[inv] - 1))
        out.extend(fn(cur, pub, active) for _, _, fn, _ in self._custom)
        return out

    def num_constraints(self) -> int:
        return (len(self.booleans) + sum(i.columns for i in self.identities) + len(self._nonzero)
                + len(self._custom))

    def digest(self) -> bytes:
        """What the transcript binds about the schema's shape."""
        h = hashlib.blake2s(self.name.encode())
        h.update(struct.pack("<4I", self.n_private, self.n_public, len(self.identities), len(self.checked)))
        for ident in self.identities:
            h.update(ident.name.encode())
            for c, factors in ident.terms:
                h.update(str((c, [f.name for f in factors])).encode())
            h.update(str([(f.name, pol) for f, pol in ident.gate]).encode())
        return h.digest()


def _put(target: IntArr, v: Var, x: int, what: str) -> None:
    """Write x's limbs (and sign) into a row's cells."""
    for col, limb in zip(v.limbs, limbs_of(x, len(v.limbs), what), strict=True):
        target[col] = limb
    if v.signed:
        assert v.sign is not None
        target[v.sign] = 1 if x < 0 else 0
    elif x < 0:
        raise ArithmeticError_(f"{what} = {x} must be >= 0")


def _fitted(schema: Schema, values: Mapping[str, int]) -> dict[str, int]:
    out = dict(values)
    for name, v in schema.vars.items():
        x = values.get(name, 0)
        out[name] = _fit(x, v)
    return out


def _fit(x: int, v: Var) -> int:
    m = abs(x) % (1 << (LIMB_BITS * len(v.limbs)))
    return -m if (x < 0 and v.signed) else m


def trace_length_for(rows: int) -> int:
    """Rows + the inactive last row, as a power of two >= MIN_TRACE."""
    t = MIN_TRACE
    while t < rows + 1:
        t *= 2
    return t


class IntAir(Air):
    """Every active row satisfies the schema. Public columns (including `active`) are periodic
    columns of full length: the verifier builds them from the statement; the transcript absorbs
    their hash and `binding`."""

    def __init__(self, schema: Schema, public_rows: Arr, binding: Sequence[int]) -> None:
        self.schema = schema
        self.name = f"perpetua-intarith/{schema.name}/v1"
        n_rows = public_rows.shape[0]
        self.trace_length = trace_length_for(n_rows)
        pub = np.zeros((schema.n_public + 1, self.trace_length), dtype=np.uint64)
        pub[:schema.n_public, :n_rows] = (public_rows.T % P).astype(np.uint64)
        pub[schema.n_public, :n_rows] = 1  # active
        self.public_columns = pub
        self.binding = list(binding)
        self.groups = schema.groups()
        self.trace_width = schema.n_private + 1  # + multiplicity
        self.num_aux_columns = len(self.groups) + 1
        self.num_aux_random = 1
        self.max_constraint_degree = max(schema.max_degree, 2)
        self.num_transition_constraints = schema.num_constraints() + len(self.groups) + 1

    def public_inputs(self) -> list[int]:
        h = hashlib.blake2s(self.schema.digest())
        h.update(self.public_columns.tobytes())
        word = int.from_bytes(h.digest(), "little")
        return [*[(word >> (30 * i)) & ((1 << 30) - 1) for i in range(9)], *self.binding]

    def periodic_columns(self) -> list[list[int]]:
        table = list(range(BASE))
        return [*(row.tolist() for row in self.public_columns), table]

    def evaluate_transition(self, frame: Frame) -> list[FieldVec]:
        s = self.schema
        pub = frame.periodic[:s.n_public]
        active = frame.periodic[s.n_public]
        table = frame.periodic[s.n_public + 1]
        out = s.constraints(frame.cur, pub, active)
        alpha = frame.rand[0]
        m = frame.cur[s.n_private]
        total: FieldVec | int = 0
        for g, group in enumerate(self.groups):
            h = frame.aux_cur[g]
            dens = [alpha - (frame.cur[c] + off if off else frame.cur[c]) for c, off in group]
            prod: FieldVec = dens[0]
            for d in dens[1:]:
                prod = prod * d
            num: FieldVec | int = 0
            for i in range(len(dens)):
                part: FieldVec | int = 1
                for j, d in enumerate(dens):
                    if j != i:
                        part = d if isinstance(part, int) else part * d
                num = num + part
            out.append(h * prod - num)
            total = total + h
        acc, acc_next = frame.aux_cur[-1], frame.aux_nxt[-1]
        out.append((acc_next - acc - total) * (alpha - table) + m)
        return out

    def assertions(self) -> list[Assertion]:
        return []

    def aux_assertions(self, rand: list[Arr]) -> list[AuxAssertion]:
        last = self.trace_length - 1
        return [AuxAssertion(len(self.groups), 0, (0, 0, 0, 0)), AuxAssertion(len(self.groups), last, (0, 0, 0, 0))]

    def build_aux_trace(self, main: Arr, rand: list[Arr]) -> Arr:
        t = self.trace_length
        alpha = np.broadcast_to(rand[0].reshape(4, 1), (4, t)).copy()
        aux = np.zeros((self.num_aux_columns, 4, t), dtype=np.uint64)
        running = np.zeros((4, t), dtype=np.uint64)
        for g, group in enumerate(self.groups):
            h = np.zeros((4, t), dtype=np.uint64)
            for c, off in group:
                v = (main[c] + np.uint64(off)) % np.uint64(P)
                h = ext.add(h, ext.inverse(ext.sub(alpha, ext.from_base(v))))
            aux[g] = h
            running = ext.add(running, h)
        table = np.arange(t, dtype=np.uint64) % np.uint64(BASE)
        inv_t = ext.inverse(ext.sub(alpha, ext.from_base(table)))
        terms = ext.sub(running, ext.mul_base(inv_t, main[self.schema.n_private]))
        acc = np.zeros((4, t), dtype=np.uint64)
        acc[:, 1:] = np.cumsum(terms[:, :-1], axis=1, dtype=np.uint64) % np.uint64(P)
        aux[-1] = acc
        return aux

    def parameters(self) -> bytes:
        return super().parameters() + self.schema.digest()


def build_trace(schema: Schema, rows: Sequence[tuple[Mapping[str, int], Mapping[str, int]]],
                strict: bool = True) -> tuple[Arr, IntArr]:
    """(main trace, public rows) for the given rows of (values, flags).

    Raises ArithmeticError_ naming the first identity a row violates."""
    t = trace_length_for(len(rows))
    main = np.zeros((schema.n_private + 1, t), dtype=np.int64)
    public = np.zeros((len(rows), schema.n_public), dtype=np.int64)
    for r, (values, flags) in enumerate(rows):
        priv, pub = schema.row(values, flags, r, strict)
        main[:schema.n_private, r] = priv
        public[r] = pub
    main_u = (main % P).astype(np.uint64)
    # multiplicities over rows 0..t-2 (the last row is outside the running sum)
    counts = np.zeros(BASE, dtype=np.int64)
    for c, off in schema.checked:
        vals = main[c, :t - 1] + off
        if vals.min() < 0 or vals.max() >= BASE:
            raise ArithmeticError_(f"column {c} holds a value outside its range")
        counts += np.bincount(vals, minlength=BASE)
    mult = np.zeros(t, dtype=np.uint64)
    mult[:BASE] = (counts % P).astype(np.uint64)
    main_u[schema.n_private] = mult
    return main_u, public
