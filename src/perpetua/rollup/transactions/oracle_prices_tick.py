"""OraclePricesTick (stark-perpetual v1 `transactions/oracle_prices_tick.cairo`, `oracle/oracle_price.cairo`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from perpetua.crypto.messages import OraclePrice, hash_oracle_price
from perpetua.crypto.signatures import Signature
from perpetua.rollup.constants import EXTERNAL_PRICE_ONE, FXP_32_ONE, PRICE_LOWER_BOUND, PRICE_UPPER_BOUND
from perpetua.rollup.errors import ErrorCode, InvalidOraclePrices
from perpetua.rollup.outputs import Output
from perpetua.rollup.state import BatchContext, RollupState


@dataclass(frozen=True, slots=True)
class SignedOraclePrice:
    """One oracle's signed external price."""

    signer_public_key: int
    message: OraclePrice
    signature: Signature


@dataclass(frozen=True, slots=True)
class AssetOraclePrice:
    """The claimed internal price of one asset, with the signed prices that back it."""

    asset_id: int
    price: int
    """Internal price, 32.32 collateral quantums per synthetic quantum."""
    signed_prices: tuple[SignedOraclePrice, ...]
    """Sorted by signer key, strictly increasing."""


@dataclass(frozen=True, slots=True)
class OraclePricesTick:
    """New oracle prices as of `timestamp` (seconds)."""

    timestamp: int
    prices: tuple[AssetOraclePrice, ...]
    """Asset ids strictly increasing."""


def to_internal_price(external_price: int, synthetic_resolution: int, collateral_resolution: int) -> int:
    """floor((ext * res_collateral * 2^32 + D/2) / D), D = res_synthetic * 10^18: a 10^18-based
    price of one whole unit as the 32.32 price of one synthetic quantum in collateral quantums."""
    d = synthetic_resolution * EXTERNAL_PRICE_ONE
    return (external_price * collateral_resolution * FXP_32_ONE + d // 2) // d


def check_asset_price(item: AssetOraclePrice, state: RollupState, tx: OraclePricesTick, ctx: BatchContext) -> None:
    """Quorum, known and distinct signers, accepted signed asset ids, timestamps within
    [batch start - price validity period, tick time], valid signatures, and the median test:
    2 * #(signed <= p) >= n and 2 * #(signed >= p) >= n for the claimed price p."""
    config = ctx.config
    asset = config.synthetic_assets.get(item.asset_id)
    if asset is None:
        raise InvalidOraclePrices(ErrorCode.MISSING_SYNTHETIC_ASSET_ID, "asset not in config", asset_id=item.asset_id)
    if not PRICE_LOWER_BOUND <= item.price < PRICE_UPPER_BOUND:
        raise InvalidOraclePrices(ErrorCode.INVALID_ASSET_ORACLE_PRICE, "price out of [1, 2^64)", price=item.price)
    n = len(item.signed_prices)
    if n < asset.oracle_quorum:
        raise InvalidOraclePrices(ErrorCode.ORACLE_QUORUM_NOT_REACHED, "not enough signed prices",
                                  asset_id=item.asset_id, n_signed=n, quorum=asset.oracle_quorum)
    lowest = ctx.batch_start_system_time - config.price_validity_period_s
    previous_key = -1
    converted = []
    for signed in item.signed_prices:
        key = signed.signer_public_key
        if key <= previous_key:
            raise InvalidOraclePrices(ErrorCode.UNSORTED_ORACLE_PRICES, "signer keys must strictly increase",
                                      signer=hex(key))
        previous_key = key
        if key not in asset.oracle_signers:
            raise InvalidOraclePrices(ErrorCode.ORACLE_UNKNOWN_SIGNER, "unknown oracle signer", signer=hex(key))
        msg = signed.message
        if msg.signed_asset_id not in asset.oracle_signed_asset_ids:
            raise InvalidOraclePrices(ErrorCode.INVALID_ASSET_ORACLE_PRICE, "signed asset id not accepted",
                                      signed_asset_id=hex(msg.signed_asset_id))
        if not lowest <= msg.timestamp_s <= tx.timestamp:
            raise InvalidOraclePrices(ErrorCode.ORACLE_TIMESTAMP_OUT_OF_WINDOW, "signed price outside the window",
                                      timestamp=msg.timestamp_s, lowest=lowest, highest=tx.timestamp)
        ctx.signatures.check(key, hash_oracle_price(msg), signed.signature, "oracle price")
        converted.append(to_internal_price(msg.price, asset.resolution, config.collateral_resolution))
    below = sum(1 for v in converted if v <= item.price)
    above = sum(1 for v in converted if v >= item.price)
    if 2 * below < n or 2 * above < n:
        raise InvalidOraclePrices(ErrorCode.ORACLE_PRICE_NOT_MEDIAN, "claimed price is not a median",
                                  price=item.price, signed=sorted(converted))


def apply_oracle_prices_tick(state: RollupState, tx: OraclePricesTick,
                             ctx: BatchContext) -> tuple[RollupState, list[Output]]:
    """Rules: timestamp >= system time; asset ids strictly increasing; each price passes
    `check_asset_price`. StarkEx checks the quorum once per batch for each asset's minimal and
    maximal price; checking every tick is stricter and equivalent for honest operators. The tick
    sets the prices and system_time = timestamp.
    """
    if tx.timestamp < state.system_time:
        raise InvalidOraclePrices(ErrorCode.SYSTEM_TIME_REGRESSED, "tick before system time",
                                  timestamp=tx.timestamp, system_time=state.system_time)
    ids = [p.asset_id for p in tx.prices]
    if any(b <= a for a, b in itertools.pairwise(ids)):
        raise InvalidOraclePrices(ErrorCode.UNSORTED_ORACLE_PRICES, "asset ids must strictly increase", asset_ids=ids)
    for item in tx.prices:
        check_asset_price(item, state, tx, ctx)
    prices = dict(state.oracle_prices)
    prices.update((p.asset_id, p.price) for p in tx.prices)
    return replace(state, oracle_prices=dict(sorted(prices.items())), system_time=tx.timestamp), []
