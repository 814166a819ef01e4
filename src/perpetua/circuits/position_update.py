"""The rollup's position and order rules as one `intarith` row: a position update.

Every transaction the circuit covers is a sequence of position updates (`UpdateRecord`): a
position before (as stored), the globals at that point (funding indices, oracle prices), public
deltas from the transaction, the position after, and which of the rules apply. One row proves:

- funding, lazy (`position.apply_funding`): C0 * 2^32 - sum_k (G_k - I_k) * B0_k = F * 2^32 + r,
  0 <= r < 2^32 (one floor); or eager (`funding_tick.settle_all`, flag `eager`): per asset
  (I_k - G_k) * B0_k = q_k * 2^32 + r_k and F = C0 + sum_k q_k (a floor per asset);
- the update: C1 = F + credit - debit - fee - fund, B1_k = B0_k + delta_k;
- status before (after funding) and after: TV = C * 2^32 + sum_k P_k B_k,
  TR = sum_k (P_k R_k) |B_k| (Q_k = P_k R_k is a private product); always-computed signed
  differences W1 = TV1 * 2^32 - TR1, DR = TV1 * TR0 - TV0 * TR1, DV = TV1 - TV0 and
  H_k = |B0_k| - |B1_k|, whose sign cells the rules read;
- `valid` (`position.check_valid_transition`): W1 >= 0 (flag wl), or (flag rr) every holding
  keeps its sign and H_k >= 0, DR >= 0 and, if TR0 = 0 (flag z; otherwise TR0 != 0 is shown),
  DV >= 0; wl + rr = valid;
- `refuted` (a forced request included as failed): the update is *not* valid: W1 < 0, and one
  of (private reason flags, exactly one set): DR < 0; z and DV < 0; some H_k < 0 (grows); some
  holding flips to a non-zero balance of the other sign;
- `liquidatable`: TV0 * 2^32 < TR0;  `deleveragable`: TV0 < 0;  `shrink`: holdings keep their
  sign and do not grow;  `deleverage_fair`: (TV1 - 2^32) TR0 < TV0 TR1;
- LiquidationClose: the fund leg `fund` is debited with the rest (C1 = F + credit - debit - fee -
  fund); `penalty`: fund * 10^6 <= (credit + debit + 1) * ppm + 10^6 - 1, i.e. fund <=
  ceil((actual_collateral + 1) * ppm / 10^6); `floor` / `ceiling` (the bankruptcy amount):
  DR >= -tol * TR0 / DR <= tol * TR0 with tol = (2 * #holdings + 1) * 2^32 + sum |B0_k| +
  (|TV0| >> 24) (`liquidation_close.exchange_rounding_rep`; #holdings from private flags shown
  equal to B0_k != 0, |TV0| >> 24 read off TV0's limbs), through one identity |DR| <= tol * TR0
  that the prover uses when the sign of DR alone does not settle the bound; `fund_nonneg`: C1 >= 0
  (C1 is public: its sign cell is 0);
- an order (`fill`): fulfilled_before + actual_synthetic = fulfilled_after <= amount_synthetic;
  with `limit` also the fee rate (actual_fee * amount_collateral <= max_fee * actual_collateral)
  and the price for the order's side (`rollup.orders.check_fairness`).

Slacks are shared where their gates never meet on one row: `fee rate.slack` (limit orders) holds
the penalty bound's, `deleverage price.slack` (Deleverage) the tolerance's.

The public columns of a row are the record's values; `perpetua.circuits.statement` derives the
records from a batch's transactions and checks that they chain and end at the payload's leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from perpetua.circuits.intarith import Flag, Schema, Var
from perpetua.rollup.constants import FXP_32_ONE
from perpetua.rollup.position import Position
from perpetua.stark.algebra import FieldVec

ONE = FXP_32_ONE
W64 = 8
"""Limbs of a 64-bit quantity."""
PPM = 10**6
"""`perpetua.core.quantities.PPM`: penalty rates are in parts per million."""


@dataclass(frozen=True, slots=True)
class OrderFill:
    """The order side of an update: its signed amounts, this fill, and its fulfilment record."""

    amount_synthetic: int
    amount_collateral: int
    max_fee: int
    buying: bool
    actual_collateral: int
    actual_synthetic: int
    actual_fee: int
    fulfilled_before: int
    fulfilled_after: int
    limit: bool = True
    """Check fee and price fairness (a limit order); False: fulfilment only (withdrawal, transfer)."""


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    """One position update of a transaction (public: every field)."""

    tx_index: int
    position_id: int
    before: Position
    after: Position
    indices: tuple[int, ...]
    """Global funding index per config asset (slot order) at this update."""
    prices: tuple[int, ...]
    """Oracle price per config asset at this update (0 when none)."""
    credit: int = 0
    debit: int = 0
    fee: int = 0
    deltas: tuple[int, ...] = ()
    """Synthetic delta per slot (empty: none)."""
    valid: bool = True
    liquidatable: bool = False
    deleveragable: bool = False
    shrink: bool = False
    deleverage_fair: bool = False
    eager: bool = False
    order: OrderFill | None = None
    refuted: bool = False
    """The update is *not* a valid transition (a forced request included as failed)."""
    fund: int = 0
    """Collateral moved to the insurance fund (signed; LiquidationClose's fund leg)."""
    penalty_ppm: int | None = None
    """With a value: fund <= ceil((credit + debit + 1) * penalty_ppm / 10^6)."""
    floor: bool = False
    """TV/TR not lower than before, within the rounding tolerance."""
    ceiling: bool = False
    """TV/TR not higher than before, within the rounding tolerance."""
    fund_nonneg: bool = False
    """The collateral after is >= 0 (the insurance fund)."""


@dataclass(frozen=True)
class PositionUpdateCircuit:
    """The schema for a config's synthetic assets (slots in asset-id order) and its handles."""

    assets: tuple[int, ...]
    risk_factors: tuple[int, ...]
    schema: Schema


def _bits_of(v: Var) -> int:
    return len(v.limbs)


@lru_cache(maxsize=8)
def build_circuit(assets: tuple[int, ...], risk_factors: tuple[int, ...]) -> PositionUpdateCircuit:
    s = Schema(f"position-update/{len(assets)}")
    n = len(assets)
    C0 = s.public("C0", W64, signed=True)
    C1 = s.public("C1", W64, signed=True)
    credit, debit, fee = s.public("credit", W64), s.public("debit", W64), s.public("fee", W64)
    B0 = [s.public(f"B0_{k}", W64, signed=True) for k in range(n)]
    B1 = [s.public(f"B1_{k}", W64, signed=True) for k in range(n)]
    I0 = [s.public(f"I0_{k}", W64, signed=True) for k in range(n)]
    G = [s.public(f"G_{k}", W64, signed=True) for k in range(n)]
    Pk = [s.public(f"P_{k}", W64) for k in range(n)]
    R = [s.public(f"R_{k}", 4) for k in range(n)]
    D = [s.public(f"D_{k}", W64, signed=True) for k in range(n)]
    valid = s.flag("valid", public=True)
    liq = s.flag("liquidatable", public=True)
    dlv = s.flag("deleveragable", public=True)
    shrink = s.flag("shrink", public=True)
    dfair = s.flag("deleverage_fair", public=True)
    eager = s.flag("eager", public=True)
    fill = s.flag("fill", public=True)
    limit = s.flag("limit", public=True)
    buy = s.flag("buying", public=True)
    amount_s, amount_c, max_fee = s.public("amount_s", W64), s.public("amount_c", W64), s.public("max_fee", W64)
    act_c, act_s, act_fee = s.public("actual_c", W64), s.public("actual_s", W64), s.public("actual_fee", W64)
    fb, fa = s.public("fulfilled_before", W64), s.public("fulfilled_after", W64)

    # funding
    # per asset, always: (I_k - G_k) B0_k = q_k 2^32 + r_k (a floor division, degree 4 with signs);
    # eager: F = C0 + sum q_k (a floor per asset); lazy: one floor over the sum, which is
    # C0 2^32 + sum (q_k 2^32 + r_k) = F 2^32 + r. Both modes' identities are then linear.
    F = s.private("F", W64, signed=True)
    r = s.private("r", 4)
    q = [s.private(f"q_{k}", W64 + 1, signed=True) for k in range(n)]
    rk = [s.private(f"r_{k}", 4) for k in range(n)]
    for k in range(n):
        s.identity(f"funding {k}", [(1, (I0[k], B0[k])), (-1, (G[k], B0[k])), (-ONE, (q[k],)), (-1, (rk[k],))])
    s.identity("funding (lazy)", [(ONE, (C0,)), *[(ONE, (q[k],)) for k in range(n)], *[(1, (rk[k],)) for k in range(n)],
                                  (-ONE, (F,)), (-1, (r,))], gate=((eager, False),))
    s.identity("funding (eager) total", [(1, (C0,)), *[(1, (q[k],)) for k in range(n)], (-1, (F,))],
               gate=((eager, True),))
    # the update
    fund = s.public("fund", W64, signed=True)
    s.identity("collateral", [(1, (C1,)), (-1, (F,)), (-1, (credit,)), (1, (debit,)), (1, (fee,)), (1, (fund,))])
    for k in range(n):
        s.identity(f"balance {k}", [(1, (B1[k],)), (-1, (B0[k],)), (-1, (D[k],))])
    # status
    Q = [s.private(f"Q_{k}", 12) for k in range(n)]
    for k in range(n):
        s.identity(f"price x risk {k}", [(1, (Pk[k], R[k])), (-1, (Q[k],))])
    TV0, TV1 = s.private("TV0", 12, signed=True), s.private("TV1", 12, signed=True)
    TR0, TR1 = s.private("TR0", 16), s.private("TR1", 16)
    s.identity("TV before", [(ONE, (F,)), *[(1, (Pk[k], B0[k])) for k in range(n)], (-1, (TV0,))])
    s.identity("TV after", [(ONE, (C1,)), *[(1, (Pk[k], B1[k])) for k in range(n)], (-1, (TV1,))])
    s.identity("TR before", [*[(1, (Q[k], s.magnitude(B0[k]))) for k in range(n)], (-1, (TR0,))])
    s.identity("TR after", [*[(1, (Q[k], s.magnitude(B1[k]))) for k in range(n)], (-1, (TR1,))])
    # signed differences, always computed; the rules below read their signs
    W1 = s.private("W1", 17, signed=True)  # TV1 * 2^32 - TR1: >= 0 iff well leveraged after
    s.identity("margin after", [(ONE, (TV1,)), (-1, (TR1,)), (-1, (W1,))])
    DR = s.private("DR", 28, signed=True)  # TV1 * TR0 - TV0 * TR1: >= 0 iff TV/TR does not fall
    s.identity("TV/TR change", [(1, (TV1, TR0)), (-1, (TV0, TR1)), (-1, (DR,))])
    DV = s.private("DV", 13, signed=True)  # TV1 - TV0
    s.identity("TV change", [(1, (TV1,)), (-1, (TV0,)), (-1, (DV,))])
    H = [s.private(f"H_{k}", W64, signed=True) for k in range(n)]  # |B0_k| - |B1_k|
    for k in range(n):
        s.identity(f"holding {k} change", [(1, (s.magnitude(B0[k]),)), (-1, (s.magnitude(B1[k]),)), (-1, (H[k],))])
    # validity
    wl, rr, z, sh = s.flag("wl", public=False), s.flag("rr", public=False), s.flag("z", public=False), \
        s.flag("sh", public=False)
    s.custom("wl + rr = valid", 2, lambda cur, pub, act: act * (s.cell(cur, pub, wl) + s.cell(cur, pub, rr)
                                                              - s.cell(cur, pub, valid)),
             lambda v, f: f.get("wl", 0) + f.get("rr", 0) == f.get("valid", 0))
    s.custom("sh = rr or shrink", 3, lambda cur, pub, act: act * (
        s.cell(cur, pub, sh) - s.cell(cur, pub, rr) - s.cell(cur, pub, shrink)
        + s.cell(cur, pub, rr) * s.cell(cur, pub, shrink)),
        lambda v, f: f.get("sh", 0) == (f.get("rr", 0) | f.get("shrink", 0)))
    _sign_is(s, "well leveraged after", (wl,), W1, 0)
    for k in range(n):
        _sign_is(s, f"holding {k} does not grow", (sh,), H[k], 0)
        s.custom(f"holding {k} keeps its sign", 4, _sign_kept(s, sh, B0[k], B1[k]), _sign_kept_check(k))
    _sign_is(s, "TV/TR does not decrease", (rr,), DR, 0)
    s.custom("z means TR0 = 0", 3, _zero_when(s, z, TR0), lambda v, f: not f.get("z", 0) or v.get("TR0", 0) == 0)
    s.nonzero("TR0 != 0 unless z", TR0, gate=((rr, True), (z, False)))
    _sign_is(s, "risk-free value does not decrease", (rr, z), DV, 0)
    # refuted: the update is NOT a valid transition (a forced request included as failed):
    # not well leveraged after, and a holding grows or flips, or TV/TR falls, or TR0 = 0 and TV falls
    refuted = s.flag("refuted", public=True)
    _negative(s, "refused: not well leveraged after", refuted, W1)
    da, db = s.flag("refute TV/TR", public=False), s.flag("refute TV", public=False)
    _negative(s, "refused: TV/TR falls", da, DR)
    _negative(s, "refused: risk-free value falls", db, DV)
    s.custom("refused: risk-free means z", 3, lambda cur, pub, act: act * s.cell(cur, pub, db)
             * (1 - s.cell(cur, pub, z)), lambda v, f: not f.get("refute TV", 0) or f.get("z", 0) == 1)
    grows = [s.flag(f"refute grows {k}", public=False) for k in range(n)]
    flips = [s.flag(f"refute flips {k}", public=False) for k in range(n)]
    for k in range(n):
        _negative(s, f"refused: holding {k} grows", grows[k], H[k])
        s.custom(f"refused: holding {k} flips", 4, _flips(s, flips[k], B0[k], B1[k]), _flips_check(k))
        s.nonzero(f"refused: holding {k} flips to non-zero", B1[k], gate=((flips[k], True),))
    reasons = [da, db, *grows, *flips]
    s.custom("refused: one reason holds", 2, lambda cur, pub, act: act * s.cell(cur, pub, refuted) * (
        1 - sum((s.cell(cur, pub, g) for g in reasons[1:]), s.cell(cur, pub, reasons[0]))),
        lambda v, f: not f.get("refuted", 0) or sum(f.get(g.name, 0) for g in reasons) == 1)
    # conditions
    s.nonneg("liquidatable", [(1, (TR0,)), (-ONE, (TV0,)), (-1, ())], 17, gate=((liq, True),))
    s.nonneg("deleveragable", [(-1, (TV0,)), (-1, ())], 12, gate=((dlv, True),))
    dl_slack = s.nonneg("deleverage price", [(1, (TV0, TR1)), (-1, (TV1, TR0)), (ONE, (TR0,)), (-1, ())], 28,
                        gate=((dfair, True),))
    # bankruptcy bounds (LiquidationClose): TV/TR not lower (floor) / not higher (ceiling) than
    # before, within tol = (2 * n_assets + 1) * 2^32 + sum |B0_k| + (|TV0| >> 24):
    # floor: DR >= 0 or |DR| <= tol * TR0; ceiling: DR <= 0 or |DR| <= tol * TR0
    floor_, ceiling = s.flag("floor", public=True), s.flag("ceiling", public=True)
    tolok = s.flag("within tolerance", public=False)
    nz = [s.flag(f"holds {k}", public=False) for k in range(n)]
    nzv = [Var(f"holds {k}", (f.index,), False, None, 8) for k, f in enumerate(nz)]
    shifted = Var("|TV0|>>24", TV0.limbs[3:], False, None, 8 * (len(TV0.limbs) - 3))
    for k in range(n):
        s.custom(f"holds {k} unless B0 = 0", 4, _holds(s, tolok, nz[k], B0[k]), _holds_check(k))
        s.nonzero(f"holds {k} means B0 != 0", B0[k], gate=((nz[k], True),))
    s.identity("within the rounding tolerance", [
        *[(2 * ONE, (nzv[k], TR0)) for k in range(n)], (ONE, (TR0,)),
        *[(1, (s.magnitude(B0[k]), TR0)) for k in range(n)], (1, (shifted, TR0)),
        (-1, (s.magnitude(DR),)), (-1, (dl_slack,))], gate=((tolok, True),))
    s.custom("not below the bankruptcy amount", 4, lambda cur, pub, act: act * s.cell(cur, pub, floor_)
             * s.sign_cell(cur, pub, DR) * (1 - s.cell(cur, pub, tolok)),
             lambda v, f: not f.get("floor", 0) or v.get("DR", 0) >= 0 or f.get("within tolerance", 0) == 1)
    s.custom("not above the bankruptcy amount", 4, lambda cur, pub, act: act * s.cell(cur, pub, ceiling)
             * (1 - s.sign_cell(cur, pub, DR)) * (1 - s.cell(cur, pub, tolok)),
             lambda v, f: not f.get("ceiling", 0) or v.get("DR", 0) <= 0 or f.get("within tolerance", 0) == 1)
    # the insurance fund's collateral stays >= 0 (C1 is public: its sign cell is 0)
    fund_nonneg = s.flag("fund_nonneg", public=True)
    s.custom("insurance fund not negative", 3, lambda cur, pub, act: act * s.cell(cur, pub, fund_nonneg)
             * s.sign_cell(cur, pub, C1), lambda v, f: not f.get("fund_nonneg", 0) or v.get("C1", 0) >= 0)
    # the order
    s.identity("fulfilment", [(1, (fa,)), (-1, (fb,)), (-1, (act_s,))], gate=((fill, True),))
    s.nonneg("not over-filled", [(1, (amount_s,)), (-1, (fa,))], W64, gate=((fill, True),))
    fee_slack = s.nonneg("fee rate", [(1, (max_fee, act_c)), (-1, (act_fee, amount_c))], 16, gate=((limit, True),))
    # the liquidation penalty (fund >= 0): fund <= ceil((actual_c + 1) * ppm / 10^6), actual_c = credit + debit
    ppm = s.public("ppm", 3)
    penalty = s.flag("penalty", public=True)
    s.identity("penalty bound", [(1, (credit, ppm)), (1, (debit, ppm)), (1, (ppm,)), (-PPM, (fund,)),
                                 (PPM - 1, ()), (-1, (fee_slack,))], gate=((penalty, True),))
    price_slack = s.private("price.slack", 16)
    s.identity("price (buying)", [(1, (amount_c, act_s)), (-1, (act_c, amount_s)), (1, (amount_s,)), (-1, ()),
                                  (-1, (price_slack,))], gate=((limit, True), (buy, True)))
    s.identity("price (selling)", [(1, (amount_s, act_c)), (1, (amount_s,)), (-1, (act_s, amount_c)), (-1, ()),
                                   (-1, (price_slack,))], gate=((limit, True), (buy, False)))
    s.custom("limit implies fill", 2, lambda cur, pub, act: act * s.cell(cur, pub, limit)
             * (1 - s.cell(cur, pub, fill)), lambda v, f: not f.get("limit", 0) or f.get("fill", 0) == 1)
    return PositionUpdateCircuit(assets, risk_factors, s)


def _sign_is(s: Schema, name: str, gate: Sequence[Flag], var: Var, sign: int) -> None:
    """When every gate flag holds, var's sign cell is `sign` (0: var >= 0)."""
    def fn(cur: list[FieldVec], pub: list[FieldVec], act: FieldVec) -> FieldVec:
        out = act
        for g in gate:
            out = out * s.cell(cur, pub, g)
        cell = s.sign_cell(cur, pub, var)
        return out * (cell if sign == 0 else 1 - cell)

    def check(v: Mapping[str, int], f: Mapping[str, int]) -> bool:
        if not all(f.get(g.name, 0) for g in gate):
            return True
        return (v.get(var.name, 0) < 0) == bool(sign)
    s.custom(name, 2 + len(gate), fn, check)


def _negative(s: Schema, name: str, flag: Flag, var: Var) -> None:
    """flag => var < 0 (sign cell 1 and a non-zero magnitude)."""
    _sign_is(s, name, (flag,), var, 1)
    s.nonzero(f"{name} (non-zero)", var, gate=((flag, True),))


def _flips(s: Schema, flag: Flag, b0: Var, b1: Var):  # type: ignore[no-untyped-def]
    def fn(cur: list[FieldVec], pub: list[FieldVec], act: FieldVec) -> FieldVec:
        s0, s1 = s.sign_cell(cur, pub, b0), s.sign_cell(cur, pub, b1)
        return act * s.cell(cur, pub, flag) * (1 - s0 - s1 + 2 * s0 * s1)
    return fn


def _flips_check(k: int):  # type: ignore[no-untyped-def]
    def check(v: Mapping[str, int], f: Mapping[str, int]) -> bool:
        if not f.get(f"refute flips {k}", 0):
            return True
        b0, b1 = v.get(f"B0_{k}", 0), v.get(f"B1_{k}", 0)
        return b1 != 0 and (b0 < 0) != (b1 < 0)
    return check


def _holds(s: Schema, gate: Flag, flag: Flag, var: Var):  # type: ignore[no-untyped-def]
    def fn(cur: list[FieldVec], pub: list[FieldVec], act: FieldVec) -> FieldVec:
        total: FieldVec | int = 0
        for i in range(len(var.limbs)):
            total = total + s.cell(cur, pub, var, i)
        return act * s.cell(cur, pub, gate) * (1 - s.cell(cur, pub, flag)) * total
    return fn


def _holds_check(k: int):  # type: ignore[no-untyped-def]
    def check(v: Mapping[str, int], f: Mapping[str, int]) -> bool:
        return not f.get("within tolerance", 0) or f.get(f"holds {k}", 0) == int(v.get(f"B0_{k}", 0) != 0)
    return check


def _sign_kept(s: Schema, sh: Flag, b0: Var, b1: Var):  # type: ignore[no-untyped-def]
    def fn(cur: list[FieldVec], pub: list[FieldVec], act: FieldVec) -> FieldVec:
        total: FieldVec | int = 0
        for i in range(len(b1.limbs)):
            total = total + s.cell(cur, pub, b1, i)
        diff = s.sign_cell(cur, pub, b1) - s.sign_cell(cur, pub, b0)
        return act * s.cell(cur, pub, sh) * diff * total
    return fn


def _sign_kept_check(k: int):  # type: ignore[no-untyped-def]
    def check(v: Mapping[str, int], f: Mapping[str, int]) -> bool:
        if not f.get("sh", 0):
            return True
        b0, b1 = v.get(f"B0_{k}", 0), v.get(f"B1_{k}", 0)
        return b1 == 0 or (b1 < 0) == (b0 < 0)
    return check


def _zero_when(s: Schema, z: Flag, var: Var):  # type: ignore[no-untyped-def]
    def fn(cur: list[FieldVec], pub: list[FieldVec], act: FieldVec) -> FieldVec:
        total: FieldVec | int = 0
        for i in range(len(var.limbs)):
            total = total + s.cell(cur, pub, var, i)
        return act * s.cell(cur, pub, z) * total
    return fn


def _slots(position: Position, assets: Sequence[int]) -> tuple[list[int], list[int]]:
    balances = {a.asset_id: a for a in position.assets}
    unknown = set(balances) - set(assets)
    if unknown:
        raise ValueError(f"position holds assets outside the config: {sorted(unknown)}")
    b = [balances[a].balance if a in balances else 0 for a in assets]
    i = [balances[a].cached_funding_index if a in balances else 0 for a in assets]
    return b, i


def public_values(circuit: PositionUpdateCircuit, rec: UpdateRecord) -> tuple[dict[str, int], dict[str, int]]:
    """The public values and flags of one update (what the verifier builds)."""
    n = len(circuit.assets)
    b0, i0 = _slots(rec.before, circuit.assets)
    b1, _ = _slots(rec.after, circuit.assets)
    g, p, rf = list(rec.indices), list(rec.prices), list(circuit.risk_factors)
    i0 = [i0[k] if b0[k] else g[k] for k in range(n)]  # no holding: its cached index is irrelevant
    d = list(rec.deltas) or [0] * n
    v: dict[str, int] = {"C0": rec.before.collateral, "C1": rec.after.collateral, "credit": rec.credit,
                         "debit": rec.debit, "fee": rec.fee, "fund": rec.fund, "ppm": rec.penalty_ppm or 0}
    for k in range(n):
        v |= {f"B0_{k}": b0[k], f"B1_{k}": b1[k], f"I0_{k}": i0[k], f"G_{k}": g[k], f"P_{k}": p[k],
              f"R_{k}": rf[k], f"D_{k}": d[k]}
    f: dict[str, int] = {"valid": int(rec.valid), "liquidatable": int(rec.liquidatable),
                         "deleveragable": int(rec.deleveragable), "shrink": int(rec.shrink),
                         "deleverage_fair": int(rec.deleverage_fair), "eager": int(rec.eager),
                         "refuted": int(rec.refuted), "penalty": int(rec.penalty_ppm is not None),
                         "floor": int(rec.floor), "ceiling": int(rec.ceiling), "fund_nonneg": int(rec.fund_nonneg)}
    o = rec.order
    if o is not None:
        f["fill"], f["limit"], f["buying"] = 1, int(o.limit), int(o.buying)
        v |= {"amount_s": o.amount_synthetic, "amount_c": o.amount_collateral, "max_fee": o.max_fee,
              "actual_c": o.actual_collateral, "actual_s": o.actual_synthetic, "actual_fee": o.actual_fee,
              "fulfilled_before": o.fulfilled_before, "fulfilled_after": o.fulfilled_after}
    return v, f


def row_values(circuit: PositionUpdateCircuit, rec: UpdateRecord) -> tuple[dict[str, int], dict[str, int]]:
    """Public and private values of one update (private ones computed here: the witness)."""
    v, f = public_values(circuit, rec)
    n = len(circuit.assets)
    b0 = [v[f"B0_{k}"] for k in range(n)]
    b1 = [v[f"B1_{k}"] for k in range(n)]
    i0 = [v[f"I0_{k}"] for k in range(n)]
    g = [v[f"G_{k}"] for k in range(n)]
    p = [v[f"P_{k}"] for k in range(n)]
    rf = list(circuit.risk_factors)
    for k in range(n):
        v[f"Q_{k}"] = p[k] * rf[k]
    total = rec.before.collateral
    for k in range(n):
        qk, rem = divmod((i0[k] - g[k]) * b0[k], ONE)
        v[f"q_{k}"], v[f"r_{k}"] = qk, rem
        total += qk
    if rec.eager:
        v["F"] = total
    else:
        num = rec.before.collateral * ONE - sum((g[k] - i0[k]) * b0[k] for k in range(n))
        v["F"], v["r"] = divmod(num, ONE)
    tv0 = v["F"] * ONE + sum(p[k] * b0[k] for k in range(n))
    tv1 = rec.after.collateral * ONE + sum(p[k] * b1[k] for k in range(n))
    tr0 = sum(p[k] * rf[k] * abs(b0[k]) for k in range(n))
    tr1 = sum(p[k] * rf[k] * abs(b1[k]) for k in range(n))
    v |= {"TV0": tv0, "TV1": tv1, "TR0": tr0, "TR1": tr1, "W1": tv1 * ONE - tr1, "DR": tv1 * tr0 - tv0 * tr1,
          "DV": tv1 - tv0, "|TV0|>>24": abs(tv0) >> 24}
    for k in range(n):
        v[f"H_{k}"] = abs(b0[k]) - abs(b1[k])
    well = tr1 <= tv1 * ONE
    if rec.valid:
        f["wl"], f["rr"] = (1, 0) if well else (0, 1)
        if not well:
            f["z"] = int(tr0 == 0)
    f["sh"] = int(f.get("rr", 0) or rec.shrink)
    if rec.refuted:
        f["z"] = int(tr0 == 0)
        grows = [k for k in range(n) if abs(b1[k]) > abs(b0[k])]
        flips = [k for k in range(n) if b1[k] != 0 and (b0[k] < 0) != (b1[k] < 0)]
        if grows:
            f[f"refute grows {grows[0]}"] = 1
        elif flips:
            f[f"refute flips {flips[0]}"] = 1
        elif tv1 * tr0 < tv0 * tr1:
            f["refute TV/TR"] = 1
        elif tr0 == 0 and tv1 < tv0:
            f["refute TV"] = 1
    if rec.floor or rec.ceiling:
        tol = ((2 * sum(1 for b in b0 if b) + 1) * ONE + sum(abs(b) for b in b0) + (abs(tv0) >> 24))
        dr = tv1 * tr0 - tv0 * tr1
        if abs(dr) <= tol * tr0:
            f["within tolerance"] = 1
            v["deleverage price.slack"] = tol * tr0 - abs(dr)
            for k in range(n):
                f[f"holds {k}"] = v[f"holds {k}"] = int(b0[k] != 0)
    if rec.penalty_ppm is not None:
        room = (rec.credit + rec.debit + 1) * rec.penalty_ppm - PPM * rec.fund + PPM - 1
        v["fee rate.slack"] = max(room, 0)  # negative: no witness ("penalty bound" fails)
    if rec.liquidatable:
        v["liquidatable.slack"] = tr0 - tv0 * ONE - 1
    if rec.deleveragable:
        v["deleveragable.slack"] = -tv0 - 1
    if rec.deleverage_fair:
        v["deleverage price.slack"] = tv0 * tr1 - tv1 * tr0 + ONE * tr0 - 1
    o = rec.order
    if o is not None:
        v["not over-filled.slack"] = o.amount_synthetic - o.fulfilled_after
        if o.limit:
            v["fee rate.slack"] = o.max_fee * o.actual_collateral - o.actual_fee * o.amount_collateral
            if o.buying:
                v["price.slack"] = (o.amount_collateral * o.actual_synthetic
                                    - (o.actual_collateral - 1) * o.amount_synthetic - 1)
            else:
                v["price.slack"] = (o.amount_synthetic * (o.actual_collateral + 1)
                                    - o.actual_synthetic * o.amount_collateral - 1)
    return v, f
