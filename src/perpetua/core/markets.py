"""Market configuration: frozen, validated, integer-only.

Loaded from a TOML file (``perpetua/config/markets.toml`` by default). Units are described in
``perpetua.core.quantities``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from perpetua.core.errors import ConfigError
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, ceil_div, format_units, to_integer_units
from perpetua.crypto.assets import synthetic_asset_id


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

    def market(self, market_id: str) -> Market:
        return self.markets[market_id]


def _market_from_table(market_id: str, t: dict[str, Any]) -> Market:
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
    markets = {mid: _market_from_table(mid, table) for mid, table in sorted(doc.get("markets", {}).items())}
    if not markets:
        raise ConfigError("markets: at least one market is required")
    exchange = doc.get("exchange", {})
    return ExchangeConfig(markets=markets, fee_position_id=int(exchange.get("fee_position_id", 1)))


def load_config(path: str | Path | None = None) -> ExchangeConfig:
    """Load the configuration from ``path``, or the packaged default (BTC-USD, ETH-USD, SOL-USD)."""
    if path is None:
        text = resources.files("perpetua.config").joinpath("markets.toml").read_text()
    else:
        text = Path(path).read_text()
    return config_from_toml(text)
