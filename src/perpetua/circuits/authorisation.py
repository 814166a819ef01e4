"""The half of a batch's validity the STARK leaves out: who authorised each transaction.

STARK-curve ECDSA over Pedersen hashes is expensive to express over BabyBear (a 252-bit field's
curve arithmetic in 31-bit limbs), so signatures are checked natively, here, against the batch's
transaction list, which the batch commitment hashes and the proof binds (every proof part absorbs
the commitment). The split:

- the proof guarantees: applying these transactions' amounts to the old state gives the new state
  under every arithmetic rule of `apply()` (perpetua.circuits.position_update);
- this check guarantees: each transaction was authorised: every limit order, withdrawal and
  transfer verifies under the key the proof's statement uses for its position; every oracle price
  is backed by a quorum of known oracle signers whose signed prices have the claimed price as a
  median; conditional transfers name a condition registered on L1 (the verifier's input).
  Forced requests are authorised on L1 (their Ethereum sender), deleverages and funding ticks by
  the operator (bounded by the proven rules), deposits by the L1 deposit they settle.

To forge a state transition, an attacker must break FRI/Poseidon2 soundness (a false proof) or
ECDSA on the STARK curve (a false authorisation). The checks here read public data only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from perpetua.crypto.messages import hash_oracle_price, hash_transfer, hash_withdrawal
from perpetua.crypto.signatures import Signature
from perpetua.rollup.batch import Batch, decode_diff
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.errors import InvalidTransaction
from perpetua.rollup.orders import SignedOrder, limit_order_hash
from perpetua.rollup.state import SignatureMemo
from perpetua.rollup.transactions.conditional_transfer import ConditionalTransfer
from perpetua.rollup.transactions.deleverage import Deleverage
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.liquidate import Liquidate
from perpetua.rollup.transactions.liquidation_close import LiquidationClose
from perpetua.rollup.transactions.oracle_prices_tick import OraclePricesTick, to_internal_price
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.transfer import Transfer
from perpetua.rollup.transactions.withdrawal import Withdrawal


class Unauthorised(ValueError):
    """A transaction of the batch is not authorised or not well formed (the message says which)."""


def _amount(what: str, v: int) -> None:
    if not 0 <= v < 1 << 64:
        raise Unauthorised(f"{what} out of [0, 2^64)")


def _limit_side(signed: SignedOrder, actual_c: int, actual_s: int, fee: int, config: GeneralConfig) -> None:
    o = signed.order
    if o.position_id == config.fee_position_id:
        raise Unauthorised("the fee position cannot trade")
    if o.asset_id_collateral != config.collateral_asset_id or o.asset_id_fee != config.collateral_asset_id:
        raise Unauthorised("wrong collateral or fee asset")
    if o.asset_id_synthetic not in config.synthetic_assets:
        raise Unauthorised("unknown synthetic asset")
    if o.amount_collateral < 1 or actual_s < 1:
        raise Unauthorised("amount_collateral and actual_synthetic must be >= 1")
    for what, v in (("actual_collateral", actual_c), ("actual_synthetic", actual_s), ("actual_fee", fee)):
        _amount(what, v)


def _signed_expirations(tx: object) -> Iterable[int]:
    if isinstance(tx, Trade):
        yield tx.party_a.order.expiration_hours
        yield tx.party_b.order.expiration_hours
    elif isinstance(tx, Liquidate):
        yield tx.liquidator_order.order.expiration_hours
    elif isinstance(tx, LiquidationClose):
        for fill in tx.fills:
            yield fill.order.order.expiration_hours
    elif isinstance(tx, Withdrawal | Transfer | ConditionalTransfer):
        yield tx.message.expiration_hours


def check_well_formed(batch: Batch, config: GeneralConfig) -> None:
    """The rules of `apply()` that read only the transaction's own fields (no state): sides,
    asset ids, distinct positions, amount ranges, and expiry: no signed message may have expired
    before the hour of the batch's system time (the payload's; `apply()` compares with the
    operator's minimum expiration, which is at most that hour). Raises Unauthorised."""
    now_h = decode_diff(batch.payload).system_time // 3600
    for i, tx in enumerate(batch.txs):
        try:
            if any(h < now_h for h in _signed_expirations(tx)):
                raise Unauthorised(f"a signed message expired before hour {now_h}")
            if isinstance(tx, Trade):
                a, b = tx.party_a.order, tx.party_b.order
                if a.asset_id_synthetic != b.asset_id_synthetic or a.asset_id_collateral != b.asset_id_collateral:
                    raise Unauthorised("orders trade different assets")
                if a.is_buying_synthetic == b.is_buying_synthetic:
                    raise Unauthorised("orders are on the same side")
                if a.position_id == b.position_id:
                    raise Unauthorised("a position cannot trade with itself")
                _limit_side(tx.party_a, tx.actual_collateral, tx.actual_synthetic, tx.actual_a_fee, config)
                _limit_side(tx.party_b, tx.actual_collateral, tx.actual_synthetic, tx.actual_b_fee, config)
            elif isinstance(tx, Liquidate):
                if tx.liquidator_order.order.position_id == tx.liquidated_position_id:
                    raise Unauthorised("a position cannot liquidate itself")
                _limit_side(tx.liquidator_order, tx.actual_collateral, tx.actual_synthetic,
                            tx.actual_liquidator_fee, config)
            elif isinstance(tx, Deleverage):
                if tx.deleverager_position_id == tx.deleveragable_position_id:
                    raise Unauthorised("deleverager and deleveraged are the same position")
                _amount("amount_synthetic", tx.amount_synthetic)
                _amount("amount_collateral", tx.amount_collateral)
            elif isinstance(tx, Deposit):
                _amount("amount", tx.amount)
                _amount("position_id", tx.position_id)
            elif isinstance(tx, Withdrawal):
                if tx.message.asset_id_collateral != config.collateral_asset_id:
                    raise Unauthorised("withdrawal of a non-collateral asset")
            elif isinstance(tx, Transfer | ConditionalTransfer):
                m = tx.message
                if m.asset_id != config.collateral_asset_id:
                    raise Unauthorised("transfer of a non-collateral asset")
                if m.asset_id_fee != 0 or m.max_amount_fee != 0 or m.fee_position_id != m.sender_position_id:
                    raise Unauthorised("transfers carry no fee")
                if m.sender_position_id == m.receiver_position_id:
                    raise Unauthorised("sender and receiver are the same position")
        except Unauthorised as e:
            raise Unauthorised(f"tx {i} ({type(tx).__name__}): {e}") from None


def _signed(tx: object) -> Iterable[tuple[int, int, Signature, str]]:
    """(key, message hash, signature, what) for every user signature a transaction carries."""
    def order(s: SignedOrder) -> tuple[int, int, Signature, str]:
        return s.public_key, limit_order_hash(s.order), s.signature, "order"

    if isinstance(tx, Trade):
        yield order(tx.party_a)
        yield order(tx.party_b)
    elif isinstance(tx, Liquidate):
        yield order(tx.liquidator_order)
    elif isinstance(tx, LiquidationClose):
        for fill in tx.fills:
            yield order(fill.order)
    elif isinstance(tx, Withdrawal):
        yield tx.public_key, hash_withdrawal(tx.message), tx.signature, "withdrawal"
    elif isinstance(tx, Transfer | ConditionalTransfer):
        m = tx.message
        yield tx.sender_public_key, hash_transfer(m), tx.signature, "transfer"


def check_authorisation(batch: Batch, config: GeneralConfig, *, registered_conditions: frozenset[int] | None = None,
                        memo: SignatureMemo | None = None) -> None:
    """Raise Unauthorised unless every transaction of the batch is authorised (module docstring).
    `registered_conditions`: the L1 registry's conditions when the caller has them (None: the
    batch's `ConditionUsed` outputs, which L1 checks against its registry on the state update)."""
    memo = memo or SignatureMemo()
    for i, tx in enumerate(batch.txs):
        try:
            for key, msg_hash, signature, what in _signed(tx):
                memo.check(key, msg_hash, signature, what)
            if (isinstance(tx, ConditionalTransfer) and registered_conditions is not None
                    and tx.message.condition not in registered_conditions):
                raise Unauthorised(f"tx {i}: the transfer's condition is not registered on L1")
            if isinstance(tx, OraclePricesTick):
                _check_prices(tx, config, memo, i)
        except InvalidTransaction as e:
            raise Unauthorised(f"tx {i} ({type(tx).__name__}): {e}") from e


def _check_prices(tx: OraclePricesTick, config: GeneralConfig, memo: SignatureMemo, i: int) -> None:
    for item in tx.prices:
        asset = config.synthetic_assets.get(item.asset_id)
        if asset is None:
            raise Unauthorised(f"tx {i}: price of an asset outside the config")
        n = len(item.signed_prices)
        if n < asset.oracle_quorum:
            raise Unauthorised(f"tx {i}: {n} signed prices, quorum {asset.oracle_quorum}")
        keys = [s.signer_public_key for s in item.signed_prices]
        if any(b <= a for a, b in itertools.pairwise(keys)) or not set(keys) <= set(asset.oracle_signers):
            raise Unauthorised(f"tx {i}: oracle signers unknown or not strictly increasing")
        converted = []
        for s in item.signed_prices:
            if s.message.signed_asset_id not in asset.oracle_signed_asset_ids:
                raise Unauthorised(f"tx {i}: signed asset id not accepted")
            memo.check(s.signer_public_key, hash_oracle_price(s.message), s.signature, "oracle price")
            converted.append(to_internal_price(s.message.price, asset.resolution, config.collateral_resolution))
        below = sum(1 for v in converted if v <= item.price)
        above = sum(1 for v in converted if v >= item.price)
        if 2 * below < n or 2 * above < n:
            raise Unauthorised(f"tx {i}: the claimed price is not a median of the signed prices")
