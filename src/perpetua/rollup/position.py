"""Positions and the rules that govern them (stark-perpetual v1 `position/*.cairo`).

A position is a STARK public key, a collateral balance and a list of synthetic assets sorted by
asset id, each with its balance and the funding index it was last settled at. Assets with zero
balance are dropped. A position with no assets and zero collateral is *empty*: its key is 0 and
any key may claim it.

Status (`position/status.cairo`), for oracle prices p (32.32) and risk factors r (0.32):

    TV_rep = collateral * 2^32 + sum(p * balance)            signed, 32.32 fixed point
    TR_rep = sum(|p * balance| * r)                          unsigned, 64.64 fixed point

with -2^63 <= TV < 2^63 and TR < 2^64 checked on every computation. Well leveraged:
TR_rep <= TV_rep * 2^32. Liquidatable: TV_rep * 2^32 < TR_rep. Deleveragable: TV_rep < 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.constants import (
    BALANCE_LOWER_BOUND,
    BALANCE_UPPER_BOUND,
    FXP_32_ONE,
    MAX_ASSETS_IN_POSITION,
    TOTAL_RISK_UPPER_BOUND,
    TOTAL_VALUE_LOWER_BOUND,
    TOTAL_VALUE_UPPER_BOUND,
)
from perpetua.rollup.errors import ErrorCode, InvalidPositionUpdate


@dataclass(frozen=True, slots=True)
class PositionAsset:
    """One synthetic holding of a position."""

    asset_id: int
    balance: int
    """Signed synthetic quantums (long > 0), never 0 inside a position."""
    cached_funding_index: int
    """The global funding index (32.32) at the last settlement."""


@dataclass(frozen=True, slots=True)
class Position:
    """A position leaf of the state tree."""

    public_key: int
    collateral: int
    """Signed collateral quantums."""
    assets: tuple[PositionAsset, ...] = ()
    """Sorted by asset id, no zero balances, at most 64."""

    def balance(self, asset_id: int) -> int:
        for asset in self.assets:
            if asset.asset_id == asset_id:
                return asset.balance
        return 0

    @property
    def is_empty(self) -> bool:
        return self.collateral == 0 and not self.assets


EMPTY_POSITION = Position(0, 0, ())


def check_balance(value: int, what: str) -> None:
    if not BALANCE_LOWER_BOUND <= value < BALANCE_UPPER_BOUND:
        raise InvalidPositionUpdate(ErrorCode.OUT_OF_RANGE_BALANCE, f"{what} out of [-2^63, 2^63)", balance=value)


def maybe_empty(public_key: int, collateral: int, assets: tuple[PositionAsset, ...]) -> Position:
    """A position, or the empty position when it holds nothing (`create_maybe_empty_position`)."""
    if collateral == 0 and not assets:
        return EMPTY_POSITION
    return Position(public_key, collateral, assets)


def apply_funding(position: Position, global_indices: Mapping[int, int]) -> Position:
    """Settle funding: one floor per position (`position/funding.cairo`).

    new_collateral = floor((collateral * 2^32 - sum((global - cached) * balance)) / 2^32); every
    cached index becomes the global one. Longs pay when the index rises; rounding never creates
    collateral.

    Raises:
        InvalidPositionUpdate: MISSING_GLOBAL_FUNDING_INDEX, OUT_OF_RANGE_BALANCE.
    """
    if not position.assets:
        return position
    total = position.collateral * FXP_32_ONE
    changed = False
    for asset in position.assets:
        index = global_indices.get(asset.asset_id)
        if index is None:
            raise InvalidPositionUpdate(ErrorCode.MISSING_GLOBAL_FUNDING_INDEX, "no global funding index",
                                        asset_id=asset.asset_id)
        if index != asset.cached_funding_index:
            total -= (index - asset.cached_funding_index) * asset.balance
            changed = True
    if not changed:
        return position
    collateral = total // FXP_32_ONE
    check_balance(collateral, "collateral after funding")
    assets = tuple(PositionAsset(a.asset_id, a.balance, global_indices[a.asset_id]) for a in position.assets)
    return maybe_empty(position.public_key, collateral, assets)


def add_asset(position: Position, asset_id: int, delta: int, global_indices: Mapping[int, int]) -> tuple[PositionAsset, ...]:
    """The position's assets after adding `delta` to `asset_id` (a new holding caches the global
    index; a holding back at zero is dropped; order kept).

    Raises:
        InvalidPositionUpdate: OUT_OF_RANGE_BALANCE, TOO_MANY_SYNTHETIC_ASSETS_IN_POSITION.
    """
    assets = list(position.assets)
    for i, asset in enumerate(assets):
        if asset.asset_id == asset_id:
            balance = asset.balance + delta
            check_balance(balance, "synthetic balance")
            if balance == 0:
                del assets[i]
            else:
                assets[i] = PositionAsset(asset_id, balance, asset.cached_funding_index)
            return tuple(assets)
        if asset.asset_id > asset_id:
            break
    if delta == 0:
        return position.assets
    check_balance(delta, "synthetic balance")
    if len(assets) >= MAX_ASSETS_IN_POSITION:
        raise InvalidPositionUpdate(ErrorCode.TOO_MANY_SYNTHETIC_ASSETS_IN_POSITION,
                                    "a position holds at most 64 assets", n_assets=len(assets))
    assets.append(PositionAsset(asset_id, delta, global_indices[asset_id]))
    assets.sort(key=lambda a: a.asset_id)
    return tuple(assets)


def position_status(position: Position, prices: Mapping[int, int], config: GeneralConfig) -> tuple[int, int]:
    """(TV_rep, TR_rep) of a position: TV in 32.32, TR in 64.64 fixed point.

    Raises:
        InvalidPositionUpdate: MISSING_ORACLE_PRICE, MISSING_SYNTHETIC_ASSET_ID,
            OUT_OF_RANGE_TOTAL_VALUE, OUT_OF_RANGE_TOTAL_RISK.
    """
    tv = position.collateral * FXP_32_ONE
    tr = 0
    synthetics = config.synthetic_assets
    for asset in position.assets:
        price = prices.get(asset.asset_id)
        if price is None:
            raise InvalidPositionUpdate(ErrorCode.MISSING_ORACLE_PRICE, "no oracle price", asset_id=asset.asset_id)
        info = synthetics.get(asset.asset_id)
        if info is None:
            raise InvalidPositionUpdate(ErrorCode.MISSING_SYNTHETIC_ASSET_ID, "asset not in config",
                                        asset_id=asset.asset_id)
        value = price * asset.balance
        tv += value
        tr += (value if value >= 0 else -value) * info.risk_factor
    if not TOTAL_VALUE_LOWER_BOUND * FXP_32_ONE <= tv < TOTAL_VALUE_UPPER_BOUND * FXP_32_ONE:
        raise InvalidPositionUpdate(ErrorCode.OUT_OF_RANGE_TOTAL_VALUE, "total value out of range", total_value_rep=tv)
    if tr >= TOTAL_RISK_UPPER_BOUND * FXP_32_ONE * FXP_32_ONE:
        raise InvalidPositionUpdate(ErrorCode.OUT_OF_RANGE_TOTAL_RISK, "total risk out of range", total_risk_rep=tr)
    return tv, tr


def is_well_leveraged(tv: int, tr: int) -> bool:
    """TR <= TV (both in their fixed-point reps: TR_rep <= TV_rep * 2^32)."""
    return tr <= tv * FXP_32_ONE


def is_liquidatable(tv: int, tr: int) -> bool:
    """TV < TR."""
    return tv * FXP_32_ONE < tr


def check_smaller_holdings(updated: Position, initial: Position) -> None:
    """Every synthetic holding of `updated` keeps its sign and does not grow in absolute value
    (`position/check_smaller_holdings.cairo`); a holding the initial position lacks is growth.

    Raises:
        InvalidPositionUpdate: ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS.
    """
    for asset in updated.assets:
        before = initial.balance(asset.asset_id)
        after = asset.balance
        if not (0 < after <= before or before <= after < 0):
            raise InvalidPositionUpdate(ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS,
                                        "a synthetic holding grows or flips", asset_id=asset.asset_id,
                                        balance_before=before, balance_after=after)


def check_valid_transition(updated: Position, initial: Position, prices: Mapping[int, int],
                           config: GeneralConfig) -> None:
    """A position update is legal if (`position/validate_state_transition.cairo`):

    1. the updated position is well leveraged, or
    2. (a) every holding is smaller (same sign, not larger), and
       (b) TV/TR does not decrease: tv0 * tr1 <= tv1 * tr0 (cross-multiplied; tv may be negative),
       and (c) if the initial TR was 0, TV did not decrease.

    Raises:
        InvalidPositionUpdate: codes 2, 3 or 4, or a status range error.
    """
    tv1, tr1 = position_status(updated, prices, config)
    if tr1 <= tv1 * FXP_32_ONE:
        return
    tv0, tr0 = position_status(initial, prices, config)
    check_smaller_holdings(updated, initial)
    if tv0 * tr1 > tv1 * tr0:
        raise InvalidPositionUpdate(ErrorCode.ILLEGAL_POSITION_TRANSITION_REDUCING_TOTAL_VALUE_RISK_RATIO,
                                    "under-collateralised and TV/TR decreases", tv_before=tv0, tr_before=tr0,
                                    tv_after=tv1, tr_after=tr1)
    if tr0 == 0 and tv0 > tv1:
        raise InvalidPositionUpdate(ErrorCode.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE,
                                    "risk-free position loses value", tv_before=tv0, tv_after=tv1)


def check_request_public_key(position_key: int, request_key: int) -> None:
    """The request's key must be non-zero and match the position's, unless the position is empty.

    Raises:
        InvalidPositionUpdate: INVALID_PUBLIC_KEY.
    """
    if request_key == 0 or (position_key != 0 and position_key != request_key):
        raise InvalidPositionUpdate(ErrorCode.INVALID_PUBLIC_KEY, "public key does not own the position",
                                    position_key=position_key, request_key=request_key)


def update_position(
    position: Position,
    request_public_key: int,
    collateral_delta: int,
    asset_id: int | None,
    synthetic_delta: int,
    global_indices: Mapping[int, int],
    prices: Mapping[int, int],
    config: GeneralConfig,
) -> tuple[Position, Position]:
    """Settle funding, then change collateral and one synthetic balance, then check the result is
    a valid transition from the funded position (`position/update_position.cairo`).

    `request_public_key` 0 means "the position's own key" (deleverage). `asset_id` None means no
    synthetic change. Returns (funded, updated).

    Raises:
        InvalidPositionUpdate: any of the position rules.
    """
    funded = apply_funding(position, global_indices)
    if asset_id is not None:
        if asset_id not in prices:
            raise InvalidPositionUpdate(ErrorCode.MISSING_ORACLE_PRICE, "asset has no oracle price", asset_id=asset_id)
        if asset_id not in global_indices:
            raise InvalidPositionUpdate(ErrorCode.MISSING_GLOBAL_FUNDING_INDEX, "asset has no funding index",
                                        asset_id=asset_id)
    public_key = request_public_key or funded.public_key
    check_request_public_key(funded.public_key, public_key)
    collateral = funded.collateral + collateral_delta
    check_balance(collateral, "collateral")
    assets = funded.assets if asset_id is None else add_asset(funded, asset_id, synthetic_delta, global_indices)
    updated = maybe_empty(public_key, collateral, assets)
    check_valid_transition(updated, funded, prices, config)
    return funded, updated
