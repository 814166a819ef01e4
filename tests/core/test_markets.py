"""Market configuration: the packaged markets, unit conversion, and validation."""

from __future__ import annotations

import pytest

from perpetua.core.errors import ConfigError
from perpetua.core.markets import config_from_toml, load_config
from tests.core.builders import BTC, btc, usd

BASE = """
[markets.X-USD]
synthetic = "X"
resolution = 1_000_000
tick_size = "0.01"
step_size = "0.1"
min_order_size = "1"
initial_margin_fraction = "0.1"
maintenance_margin_fraction = "0.05"
incremental_initial_margin_fraction = "0.01"
baseline_position_size = "100"
incremental_position_size = "10"
max_position_size = "1000"
maker_fee = "0.0002"
taker_fee = "0.0005"
mark_price_band = "0.01"
"""


def test_default_markets_follow_dydx_v3() -> None:
    cfg = load_config()
    assert sorted(cfg.markets) == ["BTC-USD", "ETH-USD", "SOL-USD"]
    assert BTC.synthetic_asset_id == 0x4254432D3130000000000000000000
    assert cfg.markets["ETH-USD"].synthetic_asset_id == 0x4554482D3900000000000000000000
    assert cfg.markets["SOL-USD"].synthetic_asset_id == 0x534F4C2D3700000000000000000000
    assert BTC.resolution == 10**10
    assert BTC.tick_size == usd(1) and BTC.step_size == btc("0.0001") and BTC.min_order_size == btc("0.001")
    assert (BTC.initial_margin_ppm, BTC.maintenance_margin_ppm) == (40_000, 30_000)
    assert BTC.max_position_size == btc(170)


@pytest.mark.parametrize(
    ("size", "imf_ppm"),
    [
        ("9", 40_000),        # at the baseline: base IMF
        ("9.0001", 50_000),   # the first started increment adds 1%
        ("10.5", 50_000),     # exactly one increment above baseline
        ("10.5001", 60_000),  # a second increment starts
        ("24", 140_000),      # (24 - 9) / 1.5 = 10 increments
        ("170", 1_000_000),   # 108 increments would exceed 100%: capped
    ],
)
def test_incremental_initial_margin_fraction(size: str, imf_ppm: int) -> None:
    assert BTC.initial_margin_fraction_ppm(btc(size)) == imf_ppm


def test_fee_rounds_against_the_trader() -> None:
    # 0.0013 BTC at 40,001 USD = 52.0013 USDC; 0.05% of it = 0.02600065 USDC -> 26,001 quantums (up).
    assert BTC.fee(btc("0.0013"), usd(40001), 500) == 26_001
    # A rebate (negative fee) rounds toward zero: -0.01% of 52.0013 = -0.00520013 -> -5,200.
    assert BTC.fee(btc("0.0013"), usd(40001), -100) == -5_200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('step_size = "0.1"', 'step_size = "0.000001"'), "multiple of resolution"),
        (('maintenance_margin_fraction = "0.05"', 'maintenance_margin_fraction = "0.1"'), "maintenance < initial"),
        (('step_size = "0.1"', 'step_size = "0.15"'), "min_order_size"),
        (('maker_fee = "0.0002"', 'maker_fee = "0.001"'), "|maker| <= taker"),
        (('tick_size = "0.01"', 'tick_size = "0.0000001"'), "whole multiple"),
        (('resolution = 1_000_000', 'resolution = 1_500_000'), "power of ten"),
        (('max_position_size = "1000"\n', ''), "missing setting 'max_position_size'"),
    ],
)
def test_invalid_configuration_is_refused_with_the_rule(change: tuple[str, str], message: str) -> None:
    assert config_from_toml(BASE).markets["X-USD"].tick_size == 10_000
    with pytest.raises((ConfigError, ValueError), match=message):
        config_from_toml(BASE.replace(*change))
