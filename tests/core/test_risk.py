"""Risk math: golden numbers checked by hand, and the StarkEx trade rule."""

from __future__ import annotations

from perpetua.core.accounts import Account, Position
from perpetua.core.funding import FUNDING_INDEX_ONE, settle_funding, unsettled_funding
from perpetua.core.risk import account_totals, is_valid_trade, liquidation_price, margin_summary
from tests.core.builders import CONFIG, btc, eth, usd

MARKETS = CONFIG.markets
PRICES = {"BTC-USD": usd(40000), "ETH-USD": usd(3000), "SOL-USD": usd(100)}
NO_FUNDING = dict.fromkeys(MARKETS, 0)


def account(collateral_usd: str, **sizes: int) -> Account:
    acct = Account(7, public_key=1, collateral=usd(collateral_usd))
    for mid, size in sizes.items():
        acct.positions[mid.replace("_", "-")] = Position(size)
    return acct


def test_margin_requirement_with_incremental_imf() -> None:
    # Long 12 BTC at 40,000: notional 480,000 USDC. IMF = 4% + ceil((12 - 9) / 1.5) = 2 increments
    # of 1% = 6% -> IMR 28,800. MMF 3% -> MMR 14,400. Collateral -400,000: equity 80,000.
    acct = account("-400000", BTC_USD=btc(12))
    tv, imr, mmr = account_totals(acct, MARKETS, PRICES, NO_FUNDING)
    assert (tv, imr, mmr) == (usd(80000), usd(28800), usd(14400))
    s = margin_summary(acct, MARKETS, PRICES, NO_FUNDING)
    assert s.free_collateral == usd(80000 - 28800)
    assert s.notional == usd(480000)
    assert s.leverage_ppm == 6_000_000  # 480,000 / 80,000 = 6x
    assert s.margin_ratio_ppm == 180_000  # 14,400 / 80,000 = 18%
    assert not s.liquidatable


def test_liquidation_prices_of_a_long_and_a_short_under_cross_margin() -> None:
    # Deposit 20,000; buy 2 BTC at 40,000 (-80,000); sell 10 ETH at 3,000 (+30,000): collateral -30,000.
    # Equity E = -30,000 + 80,000 - 30,000 = 20,000. MMR: BTC 2,400, ETH 900.
    acct = account("-30000", BTC_USD=btc(2), ETH_USD=-eth(10))
    assert account_totals(acct, MARKETS, PRICES, NO_FUNDING) == (usd(20000), usd(3200 + 1200), usd(3300))
    # Long BTC, ETH held at 3,000: P' = (2 * 40,000 - 20,000 + 900) / (2 * 0.97) = 60,900 / 1.94
    #   = 31,391.752577319... USD -> rounded up to the quantum: 31,391.752578.
    assert liquidation_price(acct, "BTC-USD", MARKETS, PRICES, NO_FUNDING) == 31_391_752_578
    # Short ETH, BTC held at 40,000: P' = (20,000 + 10 * 3,000 - 2,400) / (10 * 1.03) = 47,600 / 10.3
    #   = 4,621.359223300... USD -> rounded down: 4,621.359223.
    assert liquidation_price(acct, "ETH-USD", MARKETS, PRICES, NO_FUNDING) == 4_621_359_223
    # Cross-check with the risk engine: at the rounded price the account is just not liquidatable
    # (the rounding moved the price by under one quantum, so TV - MMR moves by under |s| (1 -/+ f)
    # quantums: 1.94 for 2 BTC, 10.3 for 10 ETH); one quantum further it is liquidatable.
    def margin_left(market: str, price: int) -> int:
        tv, _, mmr = account_totals(acct, MARKETS, dict(PRICES, **{market: price}), NO_FUNDING)
        return tv - mmr

    assert 0 <= margin_left("BTC-USD", 31_391_752_578) <= 2
    assert margin_left("BTC-USD", 31_391_752_577) < 0
    assert 0 <= margin_left("ETH-USD", 4_621_359_223) <= 11
    assert margin_left("ETH-USD", 4_621_359_224) < 0


def test_a_long_backed_beyond_its_maintenance_has_no_liquidation_price() -> None:
    acct = account("100000", BTC_USD=btc(1))
    assert liquidation_price(acct, "BTC-USD", MARKETS, PRICES, NO_FUNDING) is None
    assert liquidation_price(acct, "ETH-USD", MARKETS, PRICES, NO_FUNDING) is None


def test_values_round_against_the_trader() -> None:
    # Short 0.00000001 BTC (100 quantums) at 40,000.000001: value -0.0004000000001 USDC floors to -401.
    acct = account("0", BTC_USD=-100)
    tv, imr, mmr = account_totals(acct, MARKETS, {"BTC-USD": 40_000_000_001}, NO_FUNDING)
    assert tv == -401 and imr == 17 and mmr == 13  # requirements round up (16.0000.., 12.0000..)


def test_funding_settles_once_per_account_with_one_floor() -> None:
    acct = account("1000", BTC_USD=btc(1), ETH_USD=-eth(2))
    # BTC index up by 1.5 quantum/unit... in 32.32 per synthetic quantum: longs pay, shorts receive.
    indices = {"BTC-USD": 3 * FUNDING_INDEX_ONE // 10**10 + 1, "ETH-USD": FUNDING_INDEX_ONE // 10**9, "SOL-USD": 0}
    owed = -(indices["BTC-USD"] * btc(1)) + indices["ETH-USD"] * eth(2)
    assert unsettled_funding(acct, indices) == owed // FUNDING_INDEX_ONE
    before = acct.collateral
    paid = settle_funding(acct, indices)
    assert paid == owed // FUNDING_INDEX_ONE and acct.collateral == before + paid
    assert all(acct.positions[m].funding_index == indices[m] for m in acct.positions)
    assert unsettled_funding(acct, indices) == 0 and settle_funding(acct, indices) == 0


def test_trade_rule_allows_risk_reduction_below_initial_margin_only() -> None:
    # Below IM before and after: reducing a long with a steady TV/MMR ratio is allowed...
    assert is_valid_trade((100, 200, 150), (50, 100, 75), size_before=10, size_after=5)
    # ...but not when the ratio worsens,
    assert not is_valid_trade((100, 200, 150), (40, 100, 75), size_before=10, size_after=5)
    # nor an increase, nor a flip through zero.
    assert not is_valid_trade((100, 200, 150), (100, 250, 180), size_before=10, size_after=12)
    assert not is_valid_trade((100, 200, 150), (100, 120, 90), size_before=10, size_after=-2)
    # Closing completely is allowed while equity stays non-negative.
    assert is_valid_trade((100, 200, 150), (0, 0, 0), size_before=10, size_after=0)
    assert not is_valid_trade((100, 200, 150), (-1, 0, 0), size_before=10, size_after=0)
    # Anything that ends at or above initial margin is allowed.
    assert is_valid_trade((100, 200, 150), (300, 300, 200), size_before=0, size_after=7)
