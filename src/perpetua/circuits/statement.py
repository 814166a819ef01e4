"""From a rollup batch to position-update records, and the checks that tie them to the batch.

`specs_for` reads one transaction and says which position updates it makes and with which public
values (deltas, flags, the order's signed amounts): a pure function of the transaction and the
config, with no arithmetic on state, used alike by the prover and the verifier. The prover
(`build_statement`) fills in each update's position before and after (and the order's
fulfilment) by running the rollup's own rules; the verifier (`records`) takes those
states as claimed and checks, without recomputing any rule of `apply()`:

- the records are exactly the specs of the batch's covered transactions, in order;
- per position, the claimed states chain: each update starts where the previous one (or an
  opaque transaction's claimed change) ended; the first starts at the claimed old leaf and the
  last ends at the payload's new leaf (the Merkle part of the proof binds both leaves' digests);
- per order, fulfilment chains the same way (the first `fulfilled_before` is the orders tree's
  old leaf and the last the payload's record: `circuits.batch` binds both through the orders part);
- public keys follow `check_request_public_key` and `maybe_empty` (equalities);
- globals (funding indices, prices) follow the FundingTick and OraclePricesTick fields from the
  claimed start (the previous batch's payload: `fact_service` checks it) to the payload's; the
  eager tick's insurance-fund credit is minus the sum of the settled amounts;
- the ticks' own rules (times, funding-rate cap, oracle window, funding freshness) hold on the
  public globals (`circuits.ticks`).

Covered transactions and how (every rule of their `apply_*` that does arithmetic on state is a
row rule of `perpetua.circuits.position_update`, which also says what the rows prove):

- Trade, Deposit, Withdrawal, Transfer, Liquidate, Deleverage, FundingTick (lazy or eager),
  OraclePricesTick (as before);
- ConditionalTransfer: as Transfer (type-5 hash in the order id). The condition's registration is
  a set-membership check on public data, done natively in `records`: against the L1 registry when
  the caller passes `registered_conditions`, else against the batch's `ConditionUsed` outputs
  (which the L1 contract checks against its registry);
- ForcedWithdrawal: executed, one valid debit; refused, see below;
- ForcedTrade: executed, party B's consent fills once (fulfilled 0 -> amount, a fulfilment row),
  both updates valid at the signed amounts, no fee; refused with no claim when the transaction
  itself breaks a rule (same position, another collateral, a fee: equalities on the transaction);
- a refused forced request (`is_valid` false) has *exactly one* claim naming one of its updates
  (`Spec.alternative`), and the position does not change. Its refusal is shown natively when the
  claimed state is not owned by the request's key, or (ForcedTrade) the consent's claimed
  fulfilment, chained like any order's, is not 0 (update = full amount); otherwise by a `refuted`
  row: the update's result (claimed) is not a valid transition. Refusals for an expired or
  unsigned consent (signatures stay native) or a balance out of range cannot be stated: the
  prover raises;
- LiquidationClose (`_liquidation_close`): per fill, the fee position and the counterparty's
  limit order as in a trade, the liquidated side (shrinks; the fund leg; the penalty bound when
  fund_delta >= 0; floor when fund_delta >= 0 unless socialized-loss mode admits a fill with
  fund_delta <= 0, ceiling when fund_delta < 0) and the fund's update when fund_delta != 0 (never
  negative; an empty fund takes `insurance_fund_public_key`); per deleverage, the deleverager
  (shrinks, valid) and the liquidated side (floor and ceiling); the close's first liquidated
  update shows it liquidatable after funding. Which flags a row carries is a function of the
  transaction and the config only.

Not proven (native checks on transaction fields, as for Trade: amounts in range, actual amounts
>= 1, distinct parties; the fund, fee position and asset exclusions; signatures and expiry):
equalities and range checks on the transaction, no state.

SocializedLoss has no rows (`Statement.opaque` lists its claims): its payer set is "every position
holding the asset on that side". The statement carries the open interest at the batch's start,
`records` moves it by every claimed change, and at a SocializedLoss the claimed payers' holdings
must add up to the charged side's open interest (so none is left out); the rollup's own
`apply_socialized_loss` over the claimed positions must then give exactly the claimed states
after. `records` refuses it outside socialized-loss mode (as `apply()` does). The same open
interest shows that an eager FundingTick settles every holder of an asset whose index moved.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from perpetua.circuits.position_update import OrderFill, UpdateRecord
from perpetua.circuits.ticks import TickError, globals_state, replay_globals
from perpetua.crypto.messages import hash_transfer, hash_withdrawal, order_id
from perpetua.rollup.batch import Batch, decode_diff
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.errors import ErrorCode, InvalidTransaction
from perpetua.rollup.orders import limit_order_hash
from perpetua.rollup.outputs import ConditionUsed
from perpetua.rollup.position import (
    EMPTY_POSITION,
    Position,
    PositionAsset,
    add_asset,
    apply_funding,
    check_balance,
    check_valid_transition,
    maybe_empty,
    update_position,
)
from perpetua.rollup.state import BatchContext, RollupState, SignatureMemo
from perpetua.rollup.transactions.conditional_transfer import ConditionalTransfer
from perpetua.rollup.transactions.deleverage import Deleverage
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.forced_trade import ForcedTrade
from perpetua.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from perpetua.rollup.transactions.funding_tick import FundingTick
from perpetua.rollup.transactions.liquidate import Liquidate
from perpetua.rollup.transactions.liquidation_close import LiquidationClose
from perpetua.rollup.transactions.oracle_prices_tick import OraclePricesTick
from perpetua.rollup.transactions.socialized_loss import SocializedLoss
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.transfer import Transfer
from perpetua.rollup.transactions.withdrawal import Withdrawal


class StatementError(ValueError):
    """The claimed records do not describe this batch (the message says how)."""


@dataclass(frozen=True, slots=True)
class Spec:
    """What a transaction says about one position update (no state in it)."""

    position_id: int
    request_key: int
    """0: the position's own key."""
    credit: int = 0
    debit: int = 0
    fee: int = 0
    asset_id: int | None = None
    synthetic_delta: int = 0
    valid: bool = True
    liquidatable: bool = False
    deleveragable: bool = False
    shrink: bool = False
    deleverage_fair: bool = False
    order: OrderFill | None = None
    order_id: int | None = None
    refuted: bool = False
    """The update is shown *invalid* (a forced request included as failed)."""
    alternative: bool = False
    """One of the transaction's alternative refutations: the statement claims exactly one of them."""
    fund: int = 0
    penalty_ppm: int | None = None
    floor: bool = False
    ceiling: bool = False
    fund_nonneg: bool = False
    claim_key: int = 0
    """The key an empty position takes (the insurance fund's), when the request names none."""


def assets_of(config: GeneralConfig) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ids = tuple(sorted(config.synthetic_assets))
    return ids, tuple(config.synthetic_assets[a].risk_factor for a in ids)


def _limit_side(config: GeneralConfig, signed, ac: int, asyn: int, fee: int) -> list[Spec]:  # type: ignore[no-untyped-def]
    o = signed.order
    fill = OrderFill(o.amount_synthetic, o.amount_collateral, o.max_amount_fee, o.is_buying_synthetic, ac, asyn,
                     fee, 0, 0, True)
    oid = order_id(limit_order_hash(o))
    if o.is_buying_synthetic:
        side = Spec(o.position_id, signed.public_key, debit=ac, fee=fee, asset_id=o.asset_id_synthetic,
                    synthetic_delta=asyn, order=fill, order_id=oid)
    else:
        side = Spec(o.position_id, signed.public_key, credit=ac, fee=fee, asset_id=o.asset_id_synthetic,
                    synthetic_delta=-asyn, order=fill, order_id=oid)
    return [Spec(config.fee_position_id, config.fee_public_key, credit=fee), side]


def _single_use(amount: int) -> OrderFill:
    return OrderFill(amount, 0, 0, False, 0, amount, 0, 0, 0, False)


def specs_for(tx: object, config: GeneralConfig) -> list[Spec] | None:
    """The position updates of a covered transaction, in `apply()`'s order; [] for a tick (globals
    only; an eager FundingTick's settlements are listed by the statement); None if not covered."""
    if isinstance(tx, Trade):
        return [*_limit_side(config, tx.party_a, tx.actual_collateral, tx.actual_synthetic, tx.actual_a_fee),
                *_limit_side(config, tx.party_b, tx.actual_collateral, tx.actual_synthetic, tx.actual_b_fee)]
    if isinstance(tx, Deposit):
        return [Spec(tx.position_id, tx.public_key, credit=tx.amount)]
    if isinstance(tx, Withdrawal):
        m = tx.message
        return [Spec(m.position_id, tx.public_key, debit=m.amount, order=_single_use(m.amount),
                     order_id=order_id(hash_withdrawal(m)))]
    if isinstance(tx, Transfer | ConditionalTransfer) and (tx.message.condition is None) == isinstance(tx, Transfer):
        t = tx.message
        return [Spec(t.sender_position_id, tx.sender_public_key, debit=t.amount, order=_single_use(t.amount),
                     order_id=order_id(hash_transfer(t))),
                Spec(t.receiver_position_id, t.receiver_public_key, credit=t.amount)]
    if isinstance(tx, Liquidate):
        o = tx.liquidator_order.order
        ac, asyn = tx.actual_collateral, tx.actual_synthetic
        if o.is_buying_synthetic:
            liquidated = Spec(tx.liquidated_position_id, 0, credit=ac, asset_id=o.asset_id_synthetic,
                              synthetic_delta=-asyn, liquidatable=True, shrink=True)
        else:
            liquidated = Spec(tx.liquidated_position_id, 0, debit=ac, asset_id=o.asset_id_synthetic,
                              synthetic_delta=asyn, liquidatable=True, shrink=True)
        return [liquidated, *_limit_side(config, tx.liquidator_order, ac, asyn, tx.actual_liquidator_fee)]
    if isinstance(tx, Deleverage):
        s, c, a = tx.amount_synthetic, tx.amount_collateral, tx.synthetic_asset_id
        buy = tx.deleverager_is_buying_synthetic
        x = Spec(tx.deleveragable_position_id, 0, credit=c if buy else 0, debit=0 if buy else c, asset_id=a,
                 synthetic_delta=-s if buy else s, deleveragable=True, deleverage_fair=True)
        d = Spec(tx.deleverager_position_id, 0, credit=0 if buy else c, debit=c if buy else 0, asset_id=a,
                 synthetic_delta=s if buy else -s, shrink=True)
        return [x, d]
    if isinstance(tx, ForcedWithdrawal):
        if tx.is_valid:
            return [Spec(tx.position_id, tx.public_key, debit=tx.amount)]
        return [Spec(tx.position_id, tx.public_key, debit=tx.amount, valid=False, refuted=True, alternative=True)]
    if isinstance(tx, ForcedTrade):
        return _forced_trade(tx, config)
    if isinstance(tx, LiquidationClose):
        return _liquidation_close(tx, config)
    if isinstance(tx, FundingTick | OraclePricesTick):
        return []
    return None


def _forced_trade(tx: ForcedTrade, config: GeneralConfig) -> list[Spec]:
    """Executed: party B's consent fills exactly once (fulfilled 0 -> amount) and both updates are
    valid. Refused: [] when the transaction itself breaks a rule (same position, another collateral,
    a fee); else two alternatives, B's update or A's shown invalid (or, natively, a key that does
    not own the position, or B's consent already used)."""
    o = tx.party_b.order
    if not tx.is_valid and (o.position_id == tx.position_id_a or o.asset_id_collateral != config.collateral_asset_id
                            or o.max_amount_fee != 0):
        return []
    c, syn, a = o.amount_collateral, o.amount_synthetic, o.asset_id_synthetic
    buy = o.is_buying_synthetic
    b = Spec(o.position_id, tx.party_b.public_key, credit=0 if buy else c, debit=c if buy else 0, asset_id=a,
             synthetic_delta=syn if buy else -syn, order=_single_use(syn), order_id=order_id(limit_order_hash(o)))
    side_a = Spec(tx.position_id_a, tx.public_key_a, credit=c if buy else 0, debit=0 if buy else c, asset_id=a,
                  synthetic_delta=-syn if buy else syn)
    if tx.is_valid:
        return [b, side_a]
    return [replace(x, valid=False, refuted=True, alternative=True) for x in (b, side_a)]


def _liquidation_close(tx: LiquidationClose, config: GeneralConfig) -> list[Spec] | None:
    """Per fill: the fee position's credit and the counterparty's limit order (as in a trade), the
    liquidated side (no validity rule: it shrinks, pays or receives the fund leg, within the
    bankruptcy bounds; the first update of the close also shows it liquidatable) and, when
    `fund_delta` != 0, the fund's update (never negative). Per deleverage: the liquidated side
    (bankruptcy amount both ways) and the deleverager (shrinks, valid)."""
    fund = config.insurance_fund_position_id
    info = config.synthetic_assets.get(tx.synthetic_asset_id)
    if fund is None or info is None:
        return None  # apply() refuses it: never in a batch
    pid, asset = tx.liquidated_position_id, tx.synthetic_asset_id
    sign = 1 if tx.liquidated_is_buying_synthetic else -1
    out: list[Spec] = []
    first = True
    for fill in tx.fills:
        out += _limit_side(config, fill.order, fill.actual_collateral, fill.actual_synthetic, fill.actual_fee)
        ac, fd = fill.actual_collateral, fill.fund_delta
        below_allowed = config.socialized_loss and fd <= 0
        out.append(Spec(pid, 0, credit=ac if sign < 0 else 0, debit=ac if sign > 0 else 0, asset_id=asset,
                        synthetic_delta=sign * fill.actual_synthetic, valid=False, shrink=True, liquidatable=first,
                        fund=fd, penalty_ppm=info.liquidation_penalty_ppm if fd >= 0 else None,
                        floor=fd >= 0 and not below_allowed, ceiling=fd < 0))
        first = False
        if fd:
            out.append(Spec(fund, 0, credit=max(fd, 0), debit=max(-fd, 0), valid=False, fund_nonneg=True,
                            claim_key=config.insurance_fund_public_key))
    for dl in tx.deleverages:
        d, c = sign * dl.amount_synthetic, dl.amount_collateral
        out.append(Spec(dl.deleverager_position_id, 0, credit=max(-c, 0), debit=max(c, 0), asset_id=asset,
                        synthetic_delta=-d, shrink=True))
        out.append(Spec(pid, 0, credit=max(c, 0), debit=max(-c, 0), asset_id=asset, synthetic_delta=d, valid=False,
                        shrink=True, liquidatable=first, floor=True, ceiling=True))
        first = False
    return out


# -- the statement ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedUpdate:
    """The prover's claim for one record: states and, for an order, its fulfilment."""

    tx_index: int
    position_id: int
    before: Position
    after: Position
    fulfilled_before: int = 0
    fulfilled_after: int = 0


@dataclass(frozen=True, slots=True)
class Statement:
    """Everything the arithmetic proof's public columns are built from, besides the batch."""

    indices: tuple[int, ...]
    """Funding index per config asset at the batch's start."""
    prices: tuple[int, ...]
    claims: tuple[ClaimedUpdate, ...]
    """Covered updates, then (kind 'opaque') claimed changes of uncovered transactions."""
    opaque: tuple[ClaimedUpdate, ...] = ()
    funded: tuple[int, ...] = ()
    """The asset ids that have a funding index at the batch's start (an index may be 0)."""
    funding_timestamp: int = 0
    system_time: int = 0
    """The batch's starting times: the oracle window's lower edge starts from this system time."""
    open_long: tuple[int, ...] = ()
    open_short: tuple[int, ...] = ()
    """Open interest per config asset at the batch's start: the sum of the long balances and of
    the short balances' magnitudes over every position (chained batch to batch by the fact
    service, like the globals). It shows that a list of positions is *every* holder."""

    @property
    def opaque_txs(self) -> tuple[int, ...]:
        return tuple(sorted({c.tx_index for c in self.opaque}))

    def start_globals(self, config: GeneralConfig) -> RollupState:
        """The claimed globals at the batch's start, as a state with no position (an asset without
        a funding index must claim index 0: the rows read the index list as it is)."""
        assets, _ = assets_of(config)
        if not set(self.funded) <= set(assets) or any(
                self.indices[k] != 0 for k, a in enumerate(assets) if a not in self.funded):
            raise StatementError("the funded assets do not match the claimed funding indices")
        return globals_state({a: self.indices[k] for k, a in enumerate(assets) if a in self.funded},
                             self.funding_timestamp,
                             {a: self.prices[k] for k, a in enumerate(assets) if self.prices[k] != 0},
                             self.system_time)

    def to_bytes(self) -> bytes:
        out = [struct.pack("<I", len(self.indices))]
        out += [_int(v) for v in (*self.indices, *self.prices)]
        out += [struct.pack("<I", len(self.funded))] + [_int(a) for a in self.funded]
        out += [_int(self.funding_timestamp), _int(self.system_time)]
        out += [struct.pack("<I", len(self.open_long))] + [_int(v) for v in (*self.open_long, *self.open_short)]
        for group in (self.claims, self.opaque):
            out.append(struct.pack("<I", len(group)))
            for c in group:
                out += [struct.pack("<IQ", c.tx_index, c.position_id), _pos(c.before), _pos(c.after),
                        _int(c.fulfilled_before), _int(c.fulfilled_after)]
        return b"".join(out)

    @staticmethod
    def from_bytes(data: bytes) -> tuple[Statement, int]:
        r = _Reader(data)
        n = r.u32()
        indices = tuple(r.int() for _ in range(n))
        prices = tuple(r.int() for _ in range(n))
        funded = tuple(r.int() for _ in range(r.u32()))
        funding_timestamp, system_time = r.int(), r.int()
        m = r.u32()
        open_long = tuple(r.int() for _ in range(m))
        open_short = tuple(r.int() for _ in range(m))
        groups: list[tuple[ClaimedUpdate, ...]] = []
        for _ in range(2):
            items = []
            for _ in range(r.u32()):
                tx_index, pid = struct.unpack("<IQ", r.take(12))
                items.append(ClaimedUpdate(tx_index, pid, r.position(), r.position(), r.int(), r.int()))
            groups.append(tuple(items))
        return Statement(indices, prices, groups[0], groups[1], funded, funding_timestamp, system_time,
                         open_long, open_short), r.at


def _int(v: int) -> bytes:
    raw = v.to_bytes((v.bit_length() + 8) // 8 or 1, "little", signed=True)
    return struct.pack("<H", len(raw)) + raw


def _pos(p: Position) -> bytes:
    out = [_int(p.public_key), _int(p.collateral), struct.pack("<H", len(p.assets))]
    for a in p.assets:
        out += [_int(a.asset_id), _int(a.balance), _int(a.cached_funding_index)]
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise StatementError("truncated statement")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def int(self) -> int:
        n = struct.unpack("<H", self.take(2))[0]
        return int.from_bytes(self.take(n), "little", signed=True)

    def position(self) -> Position:
        key, collateral = self.int(), self.int()
        assets = tuple(PositionAsset(self.int(), self.int(), self.int()) for _ in range(struct.unpack("<H", self.take(2))[0]))
        return Position(key, collateral, assets)


# -- prover side -----------------------------------------------------------------------------------


def open_interest(positions: Iterable[tuple[int, Position]], assets: Sequence[int]
                  ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(long, short) open interest per asset (slot order) over `positions`: the sums of the
    positive balances and of the negative balances' magnitudes."""
    slot = {a: k for k, a in enumerate(assets)}
    long, short = [0] * len(assets), [0] * len(assets)
    for _, p in positions:
        for a in p.assets:
            k = slot.get(a.asset_id)
            if k is not None:
                if a.balance > 0:
                    long[k] += a.balance
                else:
                    short[k] -= a.balance
    return tuple(long), tuple(short)


def _globals(state: RollupState, assets: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (tuple(state.funding_indices.get(a, 0) for a in assets),
            tuple(state.oracle_prices.get(a, 0) for a in assets))


def build_statement(old_state: RollupState, batch: Batch, config: GeneralConfig) -> Statement:
    """Replay the batch with the rollup's rules and record every covered update's states."""
    from perpetua.rollup.apply import apply

    assets, _ = assets_of(config)
    used = frozenset(o.condition for o in batch.outputs if isinstance(o, ConditionUsed))
    ctx = BatchContext(config, registered_conditions=used)
    state = old_state
    indices, prices = _globals(state, assets)
    claims: list[ClaimedUpdate] = []
    opaque: list[ClaimedUpdate] = []
    for i, tx in enumerate(batch.txs):
        specs = specs_for(tx, config)
        new_state, _ = apply(state, tx, ctx)
        if specs is None:
            changed = {pid for pid, _ in new_state.positions.items()
                       if new_state.position(pid) != state.position(pid)}
            changed |= {pid for pid, _ in state.positions.items() if new_state.position(pid) != state.position(pid)}
            if isinstance(tx, SocializedLoss):  # every payer, a payer charged nothing too
                changed |= {pid for pid, p in state.positions.items()
                            if p.balance(tx.synthetic_asset_id) != 0
                            and (p.balance(tx.synthetic_asset_id) > 0) == tx.payers_long}
            opaque.extend(ClaimedUpdate(i, pid, state.position(pid), new_state.position(pid)) for pid in sorted(changed))
            state = new_state
            continue
        if isinstance(tx, FundingTick) and config.insurance_fund_position_id is not None:
            claims.extend(_eager_claims(i, state, new_state, config))
            state = new_state
            continue
        if specs and specs[0].alternative:
            claims.append(_refusal(i, state, specs, config))
            state = new_state
            continue
        pending: dict[int, Position] = {}
        orders: dict[int, int] = {}
        for spec in specs:
            before = pending.get(spec.position_id, state.position(spec.position_id))
            if spec.valid:
                _, after = update_position(before, spec.request_key, spec.credit - spec.debit - spec.fee,
                                           spec.asset_id, spec.synthetic_delta, state.funding_indices,
                                           state.oracle_prices, config)
            else:
                after = _moved(before, spec, state)
            pending[spec.position_id] = after
            fb = fa = 0
            if spec.order is not None and spec.order_id is not None:
                fb = orders.get(spec.order_id, state.fulfilled(spec.order_id))
                fa = fb + spec.order.actual_synthetic
                orders[spec.order_id] = fa
            claims.append(ClaimedUpdate(i, spec.position_id, before, after, fb, fa))
        for pid, p in pending.items():
            if new_state.position(pid) != (EMPTY_POSITION if p.is_empty else p):
                raise StatementError(f"tx {i}: the circuit's updates of position {pid} differ from apply()")
        state = new_state
    long, short = open_interest(old_state.positions.items(), assets)
    return Statement(indices, prices, tuple(claims), tuple(opaque), tuple(sorted(old_state.funding_indices)),
                     old_state.funding_timestamp, old_state.system_time, long, short)


def _moved(before: Position, spec: Spec, state: RollupState) -> Position:
    """The update's result with no validity rule (funding settled first, as every update does)."""
    funded = apply_funding(before, state.funding_indices)
    key = spec.request_key or funded.public_key or spec.claim_key
    collateral = funded.collateral + spec.credit - spec.debit - spec.fee - spec.fund
    assets = funded.assets if spec.asset_id is None else add_asset(funded, spec.asset_id, spec.synthetic_delta,
                                                                   state.funding_indices)
    return maybe_empty(key, collateral, assets)


def _refusal(i: int, state: RollupState, specs: Sequence[Spec], config: GeneralConfig) -> ClaimedUpdate:
    """A refused forced request: the first alternative whose refusal the statement can show (a key
    that does not own the position, a consent already used, or an invalid transition)."""
    for spec in specs:
        before = state.position(spec.position_id)
        try:
            _expected_key(before, spec.request_key, "refusal")
        except StatementError:
            return ClaimedUpdate(i, spec.position_id, before, before)
        if spec.order_id is not None and state.fulfilled(spec.order_id):
            fb = state.fulfilled(spec.order_id)
            return ClaimedUpdate(i, spec.position_id, before, before, fb, fb)
        try:
            after = _moved(before, replace(spec, fund=0), state)
            check_balance(after.collateral, "collateral")
            check_valid_transition(after, apply_funding(before, state.funding_indices), state.oracle_prices, config)
        except InvalidTransaction as e:
            if e.code in _TRANSITION_CODES:
                return ClaimedUpdate(i, spec.position_id, before, after)
            continue
    raise StatementError(f"tx {i}: the request's refusal cannot be shown (expired or unsigned consent, "
                         "or a balance out of range)")


_TRANSITION_CODES = frozenset({ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
                               ErrorCode.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO,
                               ErrorCode.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE})


def _eager_claims(i: int, state: RollupState, new_state: RollupState, config: GeneralConfig) -> list[ClaimedUpdate]:
    """An eager FundingTick: every settled position (the fund's own settlement included), then
    the fund's credit as its own update (always listed, possibly a no-op)."""
    fund = config.insurance_fund_position_id
    assert fund is not None
    indices = new_state.funding_indices
    out: list[ClaimedUpdate] = []
    fund_now = state.position(fund)
    for pid, p in sorted(state.positions.items()):
        if not any(indices.get(a.asset_id, a.cached_funding_index) != a.cached_funding_index for a in p.assets):
            continue
        total = 0
        for a in p.assets:
            index = indices.get(a.asset_id, a.cached_funding_index)
            total += (a.cached_funding_index - index) * a.balance // (1 << 32)
        settled = Position(p.public_key, p.collateral + total,
                           tuple(PositionAsset(a.asset_id, a.balance, indices.get(a.asset_id, a.cached_funding_index))
                                 for a in p.assets))
        out.append(ClaimedUpdate(i, pid, p, settled))
        if pid == fund:
            fund_now = settled
    out.append(ClaimedUpdate(i, fund, fund_now, new_state.position(fund)))
    return out


# -- verifier side ---------------------------------------------------------------------------------


def _check_refusal(i: int, specs: Sequence[Spec], claims: Sequence[ClaimedUpdate], at: int,
                   follow: Callable[[int, Position, str], None], current: dict[int, Position],
                   fulfilled: dict[int, int], orders_first: dict[int, int], out: list[UpdateRecord],
                   indices: Sequence[int], prices: Sequence[int], slot: dict[int, int]) -> int:
    """A refused forced request: exactly one claim, naming one alternative's position. Native
    (equalities): the request's key does not own the claimed state, or the consent's claimed
    fulfilment (chained like any order's) is not 0 while its update equals its full amount.
    Otherwise the row (flag `refuted`) proves the update is not a valid transition. The position
    does not change."""
    if at >= len(claims) or claims[at].tx_index != i or (at + 1 < len(claims) and claims[at + 1].tx_index == i):
        raise StatementError(f"tx {i}: a refused request needs exactly one claimed refusal")
    c = claims[at]
    spec = next((x for x in specs if x.position_id == c.position_id), None)
    if spec is None:
        raise StatementError(f"tx {i}: the claimed refusal names another position")
    what = f"tx {i}, refused update of position {c.position_id}"
    follow(c.position_id, c.before, what)
    current[c.position_id] = c.before
    try:
        key = _expected_key(c.before, spec.request_key, what)
    except StatementError:
        return at + 1  # refused: the key does not own the position
    if spec.order_id is not None and c.fulfilled_before != 0:
        if fulfilled.get(spec.order_id, c.fulfilled_before) != c.fulfilled_before:
            raise StatementError(f"{what}: the order's fulfilment does not chain")
        orders_first.setdefault(spec.order_id, c.fulfilled_before)
        fulfilled[spec.order_id] = c.fulfilled_before
        return at + 1  # refused: the consent was used (update = full amount, so fulfilled must be 0)
    deltas = _check_after(c, spec, key, indices, slot, what)
    out.append(UpdateRecord(i, c.position_id, c.before, c.after, tuple(indices), tuple(prices), credit=spec.credit,
                            debit=spec.debit, fee=spec.fee, deltas=deltas, valid=False, refuted=True))
    return at + 1


def _check_after(c: ClaimedUpdate, spec: Spec, key: int, indices: Sequence[int], slot: dict[int, int],
                 what: str) -> tuple[int, ...]:
    """The claimed state after an update has the owner's key (0 when empty) and caches the global
    funding indices; returns the update's synthetic delta per slot."""
    if c.after.public_key != (0 if c.after.is_empty else key):
        raise StatementError(f"{what}: wrong public key after the update")
    if any(a.cached_funding_index != indices[slot[a.asset_id]] for a in c.after.assets if a.asset_id in slot):
        raise StatementError(f"{what}: a holding's cached funding index is not the global one")
    deltas = [0] * len(indices)
    if spec.asset_id is not None:
        if spec.asset_id not in slot:
            raise StatementError(f"{what}: unknown synthetic asset")
        deltas[slot[spec.asset_id]] = spec.synthetic_delta
    return tuple(deltas)


def _expected_key(before: Position, request_key: int, what: str) -> int:
    key = request_key or before.public_key
    if key == 0 or (before.public_key != 0 and before.public_key != key):
        raise StatementError(f"{what}: the request's key does not own the position")
    return key


@dataclass(frozen=True, slots=True)
class Checked:
    """What `records` returns: the arithmetic rows and the claimed ends of every chain."""

    rows: list[UpdateRecord]
    first: dict[int, Position]
    """Position id -> claimed state before its first update (its old leaf)."""
    last: dict[int, Position]
    orders_first: dict[int, int]
    """Order id -> claimed fulfilled amount before its first fill in the batch (its old leaf)."""
    orders_last: dict[int, int]
    open_long: tuple[int, ...] = ()
    open_short: tuple[int, ...] = ()
    """Open interest after the batch (the start's, moved by every claimed change)."""


def records(statement: Statement, batch: Batch, config: GeneralConfig,
            registered_conditions: frozenset[int] | None = None, memo: SignatureMemo | None = None) -> Checked:
    """Check the statement against the batch (module docstring) and return the arithmetic rows
    and the claimed first and last states of every touched position and order.

    `registered_conditions`: the conditions registered on L1, when the caller has them; without,
    each ConditionalTransfer's condition must be among the batch's `ConditionUsed` outputs, which
    the L1 contract checks against its registry when it accepts the batch."""
    assets, _ = assets_of(config)
    slot = {a: k for k, a in enumerate(assets)}
    indices, prices = list(statement.indices), list(statement.prices)
    if len(indices) != len(assets) or len(prices) != len(assets):
        raise StatementError("globals do not match the config's assets")
    claims = list(statement.claims)
    opaque = {i: [c for c in statement.opaque if c.tx_index == i] for i in statement.opaque_txs}
    first: dict[int, Position] = {}
    current: dict[int, Position] = {}
    fulfilled: dict[int, int] = {}
    orders_first: dict[int, int] = {}
    out: list[UpdateRecord] = []
    at = 0

    def follow(pid: int, before: Position, what: str) -> None:
        if pid in current:
            if current[pid] != before:
                raise StatementError(f"{what}: position {pid} does not start where it was left")
        else:
            first[pid] = before

    if len(statement.open_long) != len(assets) or len(statement.open_short) != len(assets):
        raise StatementError("open interest does not match the config's assets")

    def open_now() -> tuple[list[int], list[int]]:
        """Open interest now: the start's, moved by every claimed change so far."""
        long, short = list(statement.open_long), list(statement.open_short)
        for sign, states in ((1, ((pid, current[pid]) for pid in current)), (-1, ((pid, first[pid]) for pid in current))):
            dl, ds = open_interest(states, assets)
            for k in range(len(assets)):
                long[k] += sign * dl[k]
                short[k] += sign * ds[k]
        return long, short

    used_conditions = {o.condition for o in batch.outputs if isinstance(o, ConditionUsed)}
    for i, tx in enumerate(batch.txs):
        specs = specs_for(tx, config)
        if specs is None:
            # the one type without arithmetic rows, and `apply()` admits it only in socialized-loss
            # mode: outside that mode a claimed change would move collateral by no rule at all
            if not (isinstance(tx, SocializedLoss) and config.socialized_loss):
                raise StatementError(f"tx {i} ({type(tx).__name__}) is not proven and the rollup admits it "
                                     "only in socialized-loss mode")
            if i not in opaque:
                raise StatementError(f"tx {i} ({type(tx).__name__}) is not covered and has no claimed change")
            _check_socialized_loss(i, tx, opaque[i], open_now(), slot, config)
            for c in opaque[i]:
                follow(c.position_id, c.before, f"tx {i}")
                current[c.position_id] = c.after
            continue
        if i in opaque:
            raise StatementError(f"tx {i} is covered but claimed opaque")
        if isinstance(tx, ConditionalTransfer):
            # registration: set membership on public data (native, no arithmetic)
            cond = tx.message.condition
            known = registered_conditions if registered_conditions is not None else used_conditions
            if cond is None or cond not in known:
                raise StatementError(f"tx {i}: the transfer's condition is not registered")
        if specs and specs[0].alternative:
            at = _check_refusal(i, specs, claims, at, follow, current, fulfilled, orders_first, out, indices,
                                prices, slot)
            continue
        eager = isinstance(tx, FundingTick) and config.insurance_fund_position_id is not None
        moved: list[int] = []
        if isinstance(tx, FundingTick):
            new = dict(tx.indices)
            moved = [k for k, a in enumerate(assets) if new.get(a, indices[k]) != indices[k]]
            indices = [new.get(a, indices[k]) for k, a in enumerate(assets)]
        if isinstance(tx, OraclePricesTick):
            for item in tx.prices:
                if item.asset_id in slot:
                    prices[slot[item.asset_id]] = item.price
        if eager:
            fund = config.insurance_fund_position_id
            group = []
            while at < len(claims) and claims[at].tx_index == i:
                group.append(claims[at])
                at += 1
            if not group or group[-1].position_id != fund:
                raise StatementError(f"tx {i}: an eager funding tick must end with the fund's credit")
            _check_every_holder_settles(i, group[:-1], [assets[k] for k in moved], moved, open_now())
            settled = 0
            for c in group[:-1]:
                follow(c.position_id, c.before, f"tx {i}")
                expected = tuple(PositionAsset(a.asset_id, a.balance, indices[slot[a.asset_id]])
                                 for a in c.before.assets if a.asset_id in slot)
                if (c.after.public_key != c.before.public_key or c.after.assets != expected
                        or len(expected) != len(c.before.assets)):
                    raise StatementError(f"tx {i}: a funding settlement changes more than collateral")
                settled += c.after.collateral - c.before.collateral
                out.append(UpdateRecord(i, c.position_id, c.before, c.after, tuple(indices), tuple(prices),
                                        valid=False, eager=True))
                current[c.position_id] = c.after
            c = group[-1]
            follow(c.position_id, c.before, f"tx {i}")
            key = c.before.public_key if not c.before.is_empty else config.insurance_fund_public_key
            if c.after != maybe_empty(key, c.before.collateral - settled, c.before.assets):
                raise StatementError(f"tx {i}: the fund's credit is not minus the settled amounts")
            out.append(UpdateRecord(i, c.position_id, c.before, c.after, tuple(indices), tuple(prices),
                                    credit=max(0, -settled), debit=max(0, settled), valid=False))
            current[c.position_id] = c.after
        for spec in specs:
            if at >= len(claims) or claims[at].tx_index != i or claims[at].position_id != spec.position_id:
                raise StatementError(f"tx {i}: the claimed updates are not the transaction's")
            c = claims[at]
            at += 1
            what = f"tx {i}, position {spec.position_id}"
            follow(spec.position_id, c.before, what)
            key = _expected_key(c.before, spec.request_key or c.before.public_key or spec.claim_key, what)
            deltas = _check_after(c, spec, key, indices, slot, what)
            order = spec.order
            if order is not None and spec.order_id is not None:
                fb = fulfilled.get(spec.order_id, c.fulfilled_before)
                orders_first.setdefault(spec.order_id, c.fulfilled_before)
                if fb != c.fulfilled_before:
                    raise StatementError(f"{what}: the order's fulfilment does not chain")
                fulfilled[spec.order_id] = c.fulfilled_after
                order = replace(order, fulfilled_before=c.fulfilled_before, fulfilled_after=c.fulfilled_after)
            out.append(UpdateRecord(i, spec.position_id, c.before, c.after, tuple(indices), tuple(prices),
                                    credit=spec.credit, debit=spec.debit, fee=spec.fee, deltas=deltas,
                                    valid=spec.valid, liquidatable=spec.liquidatable,
                                    deleveragable=spec.deleveragable, shrink=spec.shrink,
                                    deleverage_fair=spec.deleverage_fair, order=order, fund=spec.fund,
                                    penalty_ppm=spec.penalty_ppm, floor=spec.floor, ceiling=spec.ceiling,
                                    fund_nonneg=spec.fund_nonneg))
            current[spec.position_id] = c.after
    if at != len(claims):
        raise StatementError("more claimed updates than the batch's transactions make")
    try:  # the ticks' own rules (times, funding-rate cap, oracle window), ending at the payload's globals
        replay_globals(batch, config, statement.start_globals(config), memo)
    except TickError as e:
        raise StatementError(str(e)) from e
    diff = decode_diff(batch.payload)
    payload = dict(diff.positions)
    for pid, p in current.items():
        want = payload.get(pid)
        final = EMPTY_POSITION if p.is_empty else p
        if want is not None and want != final:
            raise StatementError(f"position {pid} does not end at the payload's leaf")
        if want is None and final != (EMPTY_POSITION if first[pid].is_empty else first[pid]):
            raise StatementError(f"position {pid} changes but is not in the payload")
    long, short = open_now()
    return Checked(out, first, current, orders_first, fulfilled, tuple(long), tuple(short))


def _distinct(i: int, group: Sequence[ClaimedUpdate]) -> None:
    if len({c.position_id for c in group}) != len(group):
        raise StatementError(f"tx {i}: a position is claimed twice")


def _check_every_holder_settles(i: int, group: Sequence[ClaimedUpdate], moved_assets: Sequence[int],
                                moved: Sequence[int], open_interest_now: tuple[list[int], list[int]]) -> None:
    """An eager tick settles every holder of an asset whose index moved: the settled positions'
    holdings of it add up to the whole open interest (long plus short), so none is left out."""
    _distinct(i, group)
    long, short = open_interest_now
    for asset, k in zip(moved_assets, moved, strict=True):
        held = sum(abs(c.before.balance(asset)) for c in group)
        if held != long[k] + short[k]:
            raise StatementError(f"tx {i}: the funding tick does not settle every holder of asset slot {k} "
                                 f"(settled holdings {held}, open interest {long[k] + short[k]})")


def _check_socialized_loss(i: int, tx: SocializedLoss, group: Sequence[ClaimedUpdate],
                           open_interest_now: tuple[list[int], list[int]], slot: dict[int, int],
                           config: GeneralConfig) -> None:
    """A SocializedLoss, natively on its public claimed states: the claims are the bankrupt
    position and every payer (their holdings on the charged side add up to that side's open
    interest, so none is left out); the rollup's own `apply_socialized_loss` over just those
    positions gives exactly the claimed states after."""
    from perpetua.rollup.transactions.socialized_loss import apply_socialized_loss

    _distinct(i, group)
    k = slot.get(tx.synthetic_asset_id)
    if k is None:
        raise StatementError(f"tx {i}: unknown synthetic asset")
    long, short = open_interest_now
    side = [c.before.balance(tx.synthetic_asset_id) for c in group]
    held = sum(abs(b) for b in side if b != 0 and (b > 0) == tx.payers_long)
    if held != (long[k] if tx.payers_long else short[k]):
        raise StatementError(f"tx {i}: the claimed payers are not every holder of the charged side "
                             f"(their holdings {held}, open interest {long[k] if tx.payers_long else short[k]})")
    mini = RollupState().with_changes(positions={c.position_id: c.before for c in group})
    try:
        after, _ = apply_socialized_loss(mini, tx, BatchContext(config))
    except InvalidTransaction as e:
        raise StatementError(f"tx {i}: {e}") from e
    for c in group:
        if after.position(c.position_id) != (EMPTY_POSITION if c.after.is_empty else c.after):
            raise StatementError(f"tx {i}: position {c.position_id} does not end as the socialized loss charges it")

