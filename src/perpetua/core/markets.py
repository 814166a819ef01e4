"""Market configuration: frozen, validated, integer-only.

Loaded from a TOML file (``perpetua/config/markets.toml`` by default). Units are described in
``perpetua.core.quantities``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from perpetua.core.errors import ConfigError
from perpetua.core.quantities import (
    COLLATERAL_RESOLUTION,
    NS_PER_S,
    PPB,
    PPM,
    ceil_div,
    format_units,
    to_integer_units,
)
from perpetua.crypto.assets import DEFAULT_NETWORK, collateral_asset_id, synthetic_asset_id
from perpetua.crypto.keys import is_valid_public_key, private_key_from_seed, public_key

DEV_ORACLE_SEEDS: tuple[str, ...] = tuple(f"perpetua-dev-oracle-{i}" for i in range(5))
"""Seeds of the development oracle signers (``oracle_signers = "dev"``). Their private keys are public
knowledge: tests and the demo sign ticks with them. Production lists real public keys instead."""

LIQUIDATION_ORDERS = ("largest_risk", "market_id")
"""Accepted values of ``ExchangeConfig.liquidation_order``."""

FUNDING_PERIOD_NS = 8 * 3600 * NS_PER_S
"""The period premiums, caps and interest are quoted for (dYdX v3: an 8-hour rate, paid hourly / 8)."""


def encode_ascii_id(text: str, width: int, field: str) -> int:
    """A left-aligned, zero-padded ASCII id, as dYdX signs oracle asset pairs (16 bytes, "BTCUSD")
    and oracle names (5 bytes, "Maker").

    >>> hex(encode_ascii_id("Maker", 5, "oracle_name"))
    '0x4d616b6572'
    """
    raw = text.encode("ascii")
    if not 0 < len(raw) <= width:
        raise ValueError(f"{field}: {text!r} must be 1 to {width} ASCII characters")
    return int.from_bytes(raw.ljust(width, b"\0"), "big")


@dataclass(frozen=True, slots=True)
class Market:
    """One perpetual market. Sizes in synthetic quantums, prices in collateral quantums per unit."""

    market_id: str
    """The market's name, e.g. ``BTC-USD``."""
    synthetic: str
    """The synthetic asset's symbol, e.g. ``BTC``."""
    synthetic_asset_id: int
    """StarkEx synthetic asset id (120 bits), derived from the symbol and resolution."""
    resolution: int
    """Synthetic quantums per whole unit (a power of ten)."""
    tick_size: int
    """Price granularity, collateral quantums per unit."""
    step_size: int
    """Size granularity, synthetic quantums."""
    min_order_size: int
    initial_margin_ppm: int
    maintenance_margin_ppm: int
    incremental_initial_margin_ppm: int
    """Added to the initial margin fraction for each started ``incremental_position_size`` above baseline."""
    baseline_position_size: int
    incremental_position_size: int
    max_position_size: int
    maker_fee_ppm: int
    """May be negative (a rebate), never beyond the taker fee, so the fee position never pays out net."""
    taker_fee_ppm: int
    mark_price_band_ppm: int
    """A book-derived mark price is clamped to the oracle price +/- this fraction."""
    # -- oracle (signed price ticks); see core/oracle.py ----------------------------------------
    oracle_signers: tuple[int, ...] = ()
    """STARK public keys allowed to sign this market's oracle prices, strictly increasing."""
    oracle_quorum: int = 1
    """Valid signatures a tick needs."""
    oracle_strong_quorum: int = 1
    """Valid signatures a tick needs to move the price by more than ``oracle_max_move_ppm``."""
    oracle_signed_asset_ids: tuple[int, ...] = ()
    """Accepted signed asset ids: asset_pair * 2^40 + oracle_name (StarkEx / dYdX), increasing."""
    oracle_max_age_ns: int = 300 * NS_PER_S
    """A signed price older than this (vs the command time) is refused; an oracle price older than
    this puts the market in degraded mode."""
    oracle_max_move_ppm: int = 50_000
    """Largest move from the current oracle price a tick may make with the normal quorum."""
    # -- funding; see core/funding.py -----------------------------------------------------------
    impact_notional: int = 10_000 * COLLATERAL_RESOLUTION
    """Collateral quantums walked on the book for the impact bid / ask (dYdX v3: 500 USDC / IMF)."""
    premium_sample_interval_ns: int = 60 * NS_PER_S
    """Minimum spacing of premium samples."""
    funding_interval_ns: int = 3600 * NS_PER_S
    """Minimum spacing of funding ticks (dYdX v3: hourly)."""
    funding_rate_cap_ppb: int = 60_000_000
    """Cap on the absolute 8-hour funding rate; an interval's rate is capped pro rata."""
    funding_interest_ppb: int = 100_000
    """Interest component of the 8-hour rate (dYdX v3: 0.01% per 8 h = 0.00125% per hour)."""
    # -- liquidations; see core/liquidation.py -------------------------------------------------
    liquidation_penalty_ppm: int = 10_000
    """Penalty on the notional a liquidation closes, paid to the insurance fund (capped by what the
    account holds above its bankruptcy price). Below the maintenance fraction, so that closing
    improves the account's TV / MMR."""
    insurance_loss_cap: int = 1_000_000 * COLLATERAL_RESOLUTION
    """Most collateral quantums the insurance fund pays for this market's liquidations per window
    (dYdX v4 limits the loss per block); beyond it, positions are deleveraged."""
    insurance_loss_window_ns: int = 60 * NS_PER_S
    """Length of the window of ``insurance_loss_cap`` (fixed windows: floor(time / window))."""

    def initial_margin_fraction_ppm(self, abs_size: int) -> int:
        """IMF for a position of ``abs_size`` quantums: the base IMF plus one increment per started
        ``incremental_position_size`` above the baseline (dYdX v3; we round the step count up).
        """
        excess = abs_size - self.baseline_position_size
        if excess <= 0:  # the common case first
            return self.initial_margin_ppm
        steps = ceil_div(excess, self.incremental_position_size)
        return min(PPM, self.initial_margin_ppm + steps * self.incremental_initial_margin_ppm)

    def notional(self, abs_size: int, price: int) -> int:
        """Notional value in collateral quantums, floored."""
        return abs_size * price // self.resolution

    def fee(self, size: int, price: int, fee_ppm: int) -> int:
        """Fee in collateral quantums for a fill of ``size`` at ``price``, rounded up (against the trader;
        a negative fee, a rebate, therefore rounds toward zero)."""
        return ceil_div(size * price * fee_ppm, self.resolution * PPM)

    def describe(self) -> str:
        r = self.resolution
        return (
            f"{self.market_id}: asset id {self.synthetic_asset_id:#x}, resolution {r}, "
            f"tick {format_units(self.tick_size, COLLATERAL_RESOLUTION)}, step {format_units(self.step_size, r)}, "
            f"min {format_units(self.min_order_size, r)}, IMF {format_units(self.initial_margin_ppm, PPM)}, "
            f"MMF {format_units(self.maintenance_margin_ppm, PPM)}, max position "
            f"{format_units(self.max_position_size, r)}, fees maker {format_units(self.maker_fee_ppm, PPM)} "
            f"taker {format_units(self.taker_fee_ppm, PPM)}"
        )


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """Every market plus exchange-wide settings."""

    markets: dict[str, Market] = field(default_factory=dict)
    fee_position_id: int = 1
    insurance_fund_position_id: int = 2
    """The insurance fund's position: it receives funding rounding (and later liquidation results)."""
    dev_oracle_seeds: tuple[str, ...] = DEV_ORACLE_SEEDS
    """Seeds behind ``oracle_signers = "dev"`` (development only)."""
    # -- liquidations; see core/liquidation.py and docs/liquidations.md ---------------------------
    auto_liquidate: bool = True
    """The sequencer liquidates every liquidatable account after each oracle price change and funding
    tick. Off: only keepers' ``Liquidate`` commands do (StarkEx leaves liquidation to third parties)."""
    liquidation_buffer_ppm: int = 100_000
    """A partial liquidation aims at TV >= MMR * (1 + buffer) (at the oracle price, after the penalty)."""
    liquidation_order: str = "largest_risk"
    """Which position a liquidation closes first: "largest_risk" (largest maintenance requirement,
    then market id) or "market_id"."""
    keeper_reward_ppm: int = 500_000
    """Share of the liquidation penalty a keeper (the liquidator of a ``Liquidate``) receives; the
    rest goes to the insurance fund."""
    collateral_asset_id: int = collateral_asset_id(DEFAULT_NETWORK)
    """The StarkEx collateral asset id keepers sign their ``Liquidate`` orders with (Sepolia USDC by
    default; an edge on another network passes its id)."""
    socialized_loss: bool = False
    """Comparison mode, off by default: a shortfall the fund cannot cover is charged to the accounts on
    the other side of the market pro rata to their size, instead of deleveraging them."""

    def market(self, market_id: str) -> Market:
        return self.markets[market_id]


def dev_oracle_keys(seeds: tuple[str, ...] = DEV_ORACLE_SEEDS) -> dict[int, int]:
    """Public key -> private key of the development oracle signers (deterministic; never production)."""
    return dict(_dev_oracle_keys(seeds))


@lru_cache(maxsize=8)
def _dev_oracle_keys(seeds: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    pairs = []
    for seed in seeds:
        private = private_key_from_seed(seed.encode())
        pairs.append((public_key(private), private))
    return tuple(sorted(pairs))


def _oracle_signers(market_id: str, value: object, dev_seeds: tuple[str, ...]) -> tuple[int, ...]:
    if value == "dev":
        return tuple(sorted(dev_oracle_keys(dev_seeds)))
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f'{market_id}.oracle_signers: must be "dev" or a list of hex public keys')
    keys = [int(k, 16) for k in value]
    for k in keys:
        if not is_valid_public_key(k):
            raise ConfigError(f"{market_id}.oracle_signers: {k:#x} is not a STARK public key")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{market_id}.oracle_signers: duplicate key")
    return tuple(sorted(keys))


def _oracle_settings(market_id: str, t: dict[str, Any], dev_seeds: tuple[str, ...]) -> dict[str, Any]:
    """The oracle and funding fields of a market table; every one has a development default."""

    def fraction(name: str, default: str, scale: int) -> int:
        return to_integer_units(t.get(name, default), scale, f"{market_id}.{name}")

    def seconds(name: str, default: int) -> int:
        return to_integer_units(t.get(name, default), NS_PER_S, f"{market_id}.{name}")

    pair = encode_ascii_id(str(t.get("oracle_asset_pair", f"{t['synthetic']}USD")), 16, f"{market_id}.oracle_asset_pair")
    names = t.get("oracle_names", ["Maker"])
    signers = _oracle_signers(market_id, t.get("oracle_signers", "dev"), dev_seeds)
    quorum = int(t.get("oracle_quorum", min(3, len(signers))))
    return {
        "oracle_signers": signers,
        "oracle_quorum": quorum,
        "oracle_strong_quorum": int(t.get("oracle_strong_quorum", len(signers))),
        "oracle_signed_asset_ids": tuple(
            sorted({pair << 40 | encode_ascii_id(str(n), 5, f"{market_id}.oracle_names") for n in names})
        ),
        "oracle_max_age_ns": seconds("oracle_max_age_s", 300),
        "oracle_max_move_ppm": fraction("oracle_max_move", "0.05", PPM),
        "impact_notional": to_integer_units(t.get("impact_notional", "10000"), COLLATERAL_RESOLUTION,
                                            f"{market_id}.impact_notional"),
        "premium_sample_interval_ns": seconds("premium_sample_interval_s", 60),
        "funding_interval_ns": seconds("funding_interval_s", 3600),
        "funding_rate_cap_ppb": fraction("funding_rate_cap_8h", "0.06", PPB),
        "funding_interest_ppb": fraction("funding_interest_8h", "0.0001", PPB),
        "liquidation_penalty_ppm": fraction("liquidation_penalty", "0.01", PPM),
        "insurance_loss_cap": to_integer_units(t.get("insurance_loss_cap", "1000000"), COLLATERAL_RESOLUTION,
                                               f"{market_id}.insurance_loss_cap"),
        "insurance_loss_window_ns": seconds("insurance_loss_window_s", 60),
    }


def _market_from_table(market_id: str, t: dict[str, Any], dev_seeds: tuple[str, ...] = DEV_ORACLE_SEEDS) -> Market:
    try:
        resolution = int(t["resolution"])
        synthetic = str(t["synthetic"])

        def size(name: str) -> int:
            return to_integer_units(t[name], resolution, f"{market_id}.{name}")

        def price(name: str) -> int:
            return to_integer_units(t[name], COLLATERAL_RESOLUTION, f"{market_id}.{name}")

        def ppm(name: str) -> int:
            return to_integer_units(t[name], PPM, f"{market_id}.{name}")

        market = Market(
            market_id=market_id,
            synthetic=synthetic,
            synthetic_asset_id=synthetic_asset_id(synthetic, resolution),
            resolution=resolution,
            tick_size=price("tick_size"),
            step_size=size("step_size"),
            min_order_size=size("min_order_size"),
            initial_margin_ppm=ppm("initial_margin_fraction"),
            maintenance_margin_ppm=ppm("maintenance_margin_fraction"),
            incremental_initial_margin_ppm=ppm("incremental_initial_margin_fraction"),
            baseline_position_size=size("baseline_position_size"),
            incremental_position_size=size("incremental_position_size"),
            max_position_size=size("max_position_size"),
            maker_fee_ppm=ppm("maker_fee"),
            taker_fee_ppm=ppm("taker_fee"),
            mark_price_band_ppm=ppm("mark_price_band"),
            **_oracle_settings(market_id, t, dev_seeds),
        )
    except KeyError as exc:
        raise ConfigError(f"{market_id}: missing setting {exc.args[0]!r}") from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    check_market(market)
    return market


def check_market(m: Market) -> None:
    """Raise ConfigError unless the market's numbers are consistent."""
    rules = [
        (m.tick_size > 0 and m.step_size > 0, "tick_size and step_size must be positive"),
        # A fill's collateral amount (size * price / resolution) must be an exact integer, so trades
        # move collateral without rounding and collateral is conserved exactly.
        ((m.tick_size * m.step_size) % m.resolution == 0, "tick_size * step_size must be a multiple of resolution"),
        (m.min_order_size > 0 and m.min_order_size % m.step_size == 0, "min_order_size must be a positive multiple of step_size"),
        (0 < m.maintenance_margin_ppm < m.initial_margin_ppm <= PPM, "need 0 < maintenance < initial <= 1"),
        (m.incremental_initial_margin_ppm >= 0, "incremental_initial_margin_fraction must be >= 0"),
        (m.incremental_position_size > 0, "incremental_position_size must be positive"),
        (0 <= m.baseline_position_size <= m.max_position_size, "need 0 <= baseline <= max position size"),
        (m.taker_fee_ppm >= 0 and -m.taker_fee_ppm <= m.maker_fee_ppm <= m.taker_fee_ppm, "need taker >= 0 and |maker| <= taker"),
        (0 < m.mark_price_band_ppm < PPM, "mark_price_band must be in (0, 1)"),
        (len(m.oracle_signers) > 0, "oracle_signers must not be empty"),
        (all(a < b for a, b in zip(m.oracle_signers, m.oracle_signers[1:], strict=False)),
         "oracle_signers must be distinct and sorted"),
        (1 <= m.oracle_quorum <= m.oracle_strong_quorum <= len(m.oracle_signers),
         "need 1 <= oracle_quorum <= oracle_strong_quorum <= number of oracle_signers"),
        (2 * m.oracle_quorum > len(m.oracle_signers), "oracle_quorum must be a majority of oracle_signers"),
        (len(m.oracle_signed_asset_ids) > 0, "oracle_names must not be empty"),
        (m.oracle_max_age_ns > 0, "oracle_max_age_s must be positive"),
        (0 < m.oracle_max_move_ppm < PPM, "oracle_max_move must be in (0, 1)"),
        (m.impact_notional > 0, "impact_notional must be positive"),
        (0 < m.premium_sample_interval_ns <= m.funding_interval_ns,
         "need 0 < premium_sample_interval_s <= funding_interval_s"),
        (m.funding_interval_ns <= FUNDING_PERIOD_NS, "funding_interval_s must be at most 8 hours"),
        (0 <= m.funding_rate_cap_ppb <= PPB, "funding_rate_cap_8h must be in [0, 1]"),
        (abs(m.funding_interest_ppb) <= m.funding_rate_cap_ppb, "|funding_interest_8h| must not exceed the cap"),
        (0 <= m.liquidation_penalty_ppm < m.maintenance_margin_ppm,
         "need 0 <= liquidation_penalty < maintenance_margin_fraction"),
        (m.insurance_loss_cap >= 0, "insurance_loss_cap must be >= 0"),
        (m.insurance_loss_window_ns > 0, "insurance_loss_window_s must be positive"),
    ]
    for ok, rule in rules:
        if not ok:
            raise ConfigError(f"{m.market_id}: {rule}")


def config_from_toml(text: str) -> ExchangeConfig:
    """Parse an exchange configuration from TOML text."""
    doc = tomllib.loads(text)
    collateral = doc.get("collateral", {})
    if int(collateral.get("decimals", 6)) != 6:
        raise ConfigError("collateral.decimals: only USDC with 6 decimals is supported")
    seeds = tuple(str(s) for s in doc.get("oracle", {}).get("dev_signer_seeds", DEV_ORACLE_SEEDS))
    markets = {mid: _market_from_table(mid, table, seeds) for mid, table in sorted(doc.get("markets", {}).items())}
    if not markets:
        raise ConfigError("markets: at least one market is required")
    exchange = doc.get("exchange", {})
    fee_id = int(exchange.get("fee_position_id", 1))
    insurance_id = int(exchange.get("insurance_fund_position_id", 2))
    if fee_id == insurance_id or not (0 < fee_id < 1 << 64 and 0 < insurance_id < 1 << 64):
        raise ConfigError("exchange: fee and insurance fund positions must be distinct ids in [1, 2^64)")
    order = str(exchange.get("liquidation_order", "largest_risk"))
    if order not in LIQUIDATION_ORDERS:
        raise ConfigError(f"exchange.liquidation_order: must be one of {', '.join(LIQUIDATION_ORDERS)}")
    try:
        buffer = to_integer_units(exchange.get("liquidation_buffer", "0.1"), PPM, "exchange.liquidation_buffer")
        reward = to_integer_units(exchange.get("keeper_reward", "0.5"), PPM, "exchange.keeper_reward")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if not (0 <= buffer <= PPM and 0 <= reward <= PPM):
        raise ConfigError("exchange: liquidation_buffer and keeper_reward must be in [0, 1]")
    return ExchangeConfig(
        markets=markets, fee_position_id=fee_id, insurance_fund_position_id=insurance_id, dev_oracle_seeds=seeds,
        auto_liquidate=bool(exchange.get("auto_liquidate", True)), liquidation_buffer_ppm=buffer,
        liquidation_order=order, keeper_reward_ppm=reward, socialized_loss=bool(exchange.get("socialized_loss", False)),
    )


def load_config(path: str | Path | None = None) -> ExchangeConfig:
    """Load the configuration from ``path``, or the packaged default (BTC-USD, ETH-USD, SOL-USD)."""
    if path is None:
        text = resources.files("perpetua.config").joinpath("markets.toml").read_text()
    else:
        text = Path(path).read_text()
    return config_from_toml(text)
