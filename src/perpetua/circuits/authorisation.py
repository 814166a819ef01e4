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
from perpetua.rollup.batch import Batch
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.errors import InvalidTransaction
from perpetua.rollup.orders import SignedOrder, limit_order_hash
from perpetua.rollup.state import SignatureMemo
from perpetua.rollup.transactions.conditional_transfer import ConditionalTransfer
from perpetua.rollup.transactions.liquidate import Liquidate
from perpetua.rollup.transactions.liquidation_close import LiquidationClose
from perpetua.rollup.transactions.oracle_prices_tick import OraclePricesTick, to_internal_price
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.transfer import Transfer
from perpetua.rollup.transactions.withdrawal import Withdrawal


class Unauthorised(ValueError):
    """A transaction of the batch is not authorised (the message says which and why)."""


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


def check_authorisation(batch: Batch, config: GeneralConfig, *, registered_conditions: frozenset[int] = frozenset(),
                        memo: SignatureMemo | None = None) -> None:
    """Raise Unauthorised unless every transaction of the batch is authorised (module docstring)."""
    memo = memo or SignatureMemo()
    for i, tx in enumerate(batch.txs):
        try:
            for key, msg_hash, signature, what in _signed(tx):
                memo.check(key, msg_hash, signature, what)
            if isinstance(tx, ConditionalTransfer) and tx.message.condition not in registered_conditions:
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
