"""The general config of the rollup (stark-perpetual v1 `definitions/general_config.cairo`).

**Version: StarkEx perpetual v1** (stark-perpetual 9327c64, the dYdX v3 era): one risk factor per
synthetic asset, type-6 withdrawals signed by the position's key.

Per-asset settings are built from the exchange's market config (`perpetua.core.markets`) by
`config_from_exchange`: the asset id and resolution come from the market; the risk factor is the
maintenance margin fraction in 0.32 fixed point, rounded up (StarkEx enforces the maintenance
fraction; the exchange enforces its initial margin on top, off-chain).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perpetua.core.markets import ExchangeConfig
from perpetua.core.quantities import PPM
from perpetua.rollup.constants import FXP_32_ONE

COLLATERAL_RESOLUTION = 10**6
DEFAULT_MAX_FUNDING_RATE = 1120
"""32.32 per second per unit price: about 2.6e-7 / s (2.25% a day). Our choice of default."""
DEFAULT_FUNDING_VALIDITY_PERIOD_S = 7 * 86_400
DEFAULT_PRICE_VALIDITY_PERIOD_S = 86_400


@dataclass(frozen=True, slots=True)
class SyntheticAsset:
    """One synthetic asset's settlement config."""

    asset_id: int
    """15-byte ASCII id, e.g. "BTC-10"."""
    resolution: int
    """Synthetic quantums per whole unit."""
    risk_factor: int
    """Maintenance fraction, 0.32 fixed point (1 <= risk <= 2^32)."""
    market_id: str = ""
    """The exchange market this asset settles (adapter only; not part of the rules)."""
    oracle_signed_asset_ids: frozenset[int] = frozenset()
    """Accepted asset_pair << 40 | oracle_name values of signed oracle prices."""
    oracle_signers: frozenset[int] = frozenset()
    """STARK public keys of the oracles."""
    oracle_quorum: int = 1
    liquidation_penalty_ppm: int = 0
    """The exchange's liquidation penalty (ppm of a fill's notional): the cap on the insurance fund's
    share of a liquidation fill (`transactions/liquidation_close.py`)."""


@dataclass(frozen=True, slots=True)
class GeneralConfig:
    """Exchange-wide settlement settings."""

    collateral_asset_id: int
    fee_position_id: int
    fee_public_key: int
    """The fee position's key: fees are credited with this key (StarkEx `fee_position_info`)."""
    synthetic_assets: dict[int, SyntheticAsset] = field(default_factory=dict)
    """asset id -> config. Never mutated."""
    max_funding_rate: int = DEFAULT_MAX_FUNDING_RATE
    funding_validity_period_s: int = DEFAULT_FUNDING_VALIDITY_PERIOD_S
    price_validity_period_s: int = DEFAULT_PRICE_VALIDITY_PERIOD_S
    collateral_resolution: int = COLLATERAL_RESOLUTION
    insurance_fund_position_id: int | None = None
    """Funding settlement mode. None: StarkEx's lazy rule (a position settles on its next update).
    A position id: Perpetua's eager rule, the exchange's arithmetic: every FundingTick settles every
    position at once, one floor per position and asset, and credits the leftover (minus the sum of
    the floors) to this position (see `transactions/funding_tick.py`)."""
    insurance_fund_public_key: int = 0
    """The key the insurance-fund position is created with when it is empty."""
    socialized_loss: bool = False
    """The exchange's socialized-loss mode: a liquidation fill may pay the liquidated position less
    than its bankruptcy amount with the fund paying less than the shortfall (the rest is charged to
    the other side by a `SocializedLoss`). Off: every fill below bankruptcy is covered by the fund."""

    def asset_by_market(self, market_id: str) -> SyntheticAsset:
        for asset in self.synthetic_assets.values():
            if asset.market_id == market_id:
                return asset
        raise KeyError(market_id)


def risk_factor_from_ppm(fraction_ppm: int) -> int:
    """A ppm fraction as 0.32 fixed point, rounded up (so the rollup is never laxer)."""
    return -(-fraction_ppm * FXP_32_ONE // PPM)


def internal_price(price_quantums_per_unit: int, resolution: int) -> int:
    """An exchange price (collateral quantums per whole unit) as StarkEx's internal 32.32 price of
    one synthetic quantum in collateral quantums, rounded to nearest (the oracle conversion)."""
    return (price_quantums_per_unit * FXP_32_ONE * 2 + resolution) // (2 * resolution)


def config_from_exchange(
    exchange: ExchangeConfig,
    collateral_asset_id: int,
    fee_public_key: int,
    *,
    oracle_signers: frozenset[int] | None = None,
    oracle_signed_asset_ids: dict[str, frozenset[int]] | None = None,
    oracle_quorum: int | None = None,
    max_funding_rate: int | None = None,
    insurance_fund_public_key: int | None = None,
) -> GeneralConfig:
    """The rollup config settling `exchange`'s markets (oracle signers, signed asset ids and quorum
    from each market unless given), with eager funding settlement into the
    exchange's insurance-fund position (keyed `insurance_fund_public_key`, by default the fee key).
    `max_funding_rate` defaults to `max_funding_rate_from_exchange`."""
    assets = {}
    for market in exchange.markets.values():
        assets[market.synthetic_asset_id] = SyntheticAsset(
            asset_id=market.synthetic_asset_id,
            resolution=market.resolution,
            risk_factor=risk_factor_from_ppm(market.maintenance_margin_ppm),
            market_id=market.market_id,
            oracle_signed_asset_ids=(oracle_signed_asset_ids.get(market.market_id, frozenset())
                                     if oracle_signed_asset_ids is not None
                                     else frozenset(market.oracle_signed_asset_ids)),
            oracle_signers=oracle_signers if oracle_signers is not None else frozenset(market.oracle_signers),
            oracle_quorum=oracle_quorum if oracle_quorum is not None else market.oracle_quorum,
            liquidation_penalty_ppm=market.liquidation_penalty_ppm,
        )
    return GeneralConfig(
        collateral_asset_id=collateral_asset_id,
        fee_position_id=exchange.fee_position_id,
        fee_public_key=fee_public_key,
        synthetic_assets=dict(sorted(assets.items())),
        max_funding_rate=max_funding_rate_from_exchange(exchange) if max_funding_rate is None else max_funding_rate,
        insurance_fund_position_id=exchange.insurance_fund_position_id,
        insurance_fund_public_key=fee_public_key if insurance_fund_public_key is None else insurance_fund_public_key,
        socialized_loss=exchange.socialized_loss,
    )


FUNDING_PERIOD_S = 8 * 3600
FUNDING_BOUND_SLACK_PPM = 1_000
"""0.1% on top of the exchange's cap: the rollup measures dt in whole seconds (the exchange in ns),
so an hour can be up to a second shorter there (0.03%); the internal price is rounded (< 1e-9)."""


def max_funding_rate_from_exchange(exchange: ExchangeConfig) -> int:
    """StarkEx's max funding rate (32.32 per second, per unit of price) that admits every index move
    the exchange can make: its largest 8-hour cap, per second, plus FUNDING_BOUND_SLACK_PPM, rounded up."""
    cap_ppb = max((m.funding_rate_cap_ppb for m in exchange.markets.values()), default=0)
    numerator = cap_ppb * FXP_32_ONE * (PPM + FUNDING_BOUND_SLACK_PPM)
    return max(DEFAULT_MAX_FUNDING_RATE, -(-numerator // (10**9 * FUNDING_PERIOD_S * PPM)))
