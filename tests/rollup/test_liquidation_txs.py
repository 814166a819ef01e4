"""LiquidationClose and SocializedLoss: valid settlements, and invalid ones refused with a clear code,
the input state unchanged. Arithmetic in comments (USD; 1 BTC = 10^10 quantums).

Position 10: long 1 BTC bought at 40,000 with 2,000 of collateral: collateral -38,000. At 39,000:
TV = 1,000 < TR = 3% * 39,000 = 1,170: liquidatable. Closing 0.5 BTC keeps TV/TR at the bankruptcy
amount c = TV0 * TR1 / TR0 - TV1' = 500 + 18,500 = 19,000 (38,000 per BTC)."""

from __future__ import annotations

import dataclasses

import pytest

from perpetua.rollup.apply import apply
from perpetua.rollup.config import internal_price
from perpetua.rollup.errors import ErrorCode, InvalidTransaction
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.liquidation_close import DeleverageFill, LiquidationClose, LiquidationFill
from perpetua.rollup.transactions.socialized_loss import SocializedLoss
from tests.rollup.helpers import BTC, CONFIG, NOW_H, context, funded_state, order, trade

USD = 1_000_000
HALF = 5 * 10**9
FUND = CONFIG.insurance_fund_position_id
assert FUND is not None
A = BTC.synthetic_asset_id


def setup(fund: int = 0, price: int = 39_000) -> RollupState:
    state = funded_state((10, 2_000 * USD), (11, 100_000 * USD), (12, 100_000 * USD))
    state, _ = apply(state, trade(10, 11, 2 * HALF, 40_000 * USD), context())
    if fund:
        state, _ = apply(state, Deposit(FUND, CONFIG.insurance_fund_public_key, fund), context())
    prices = dict(state.oracle_prices)
    prices[A] = internal_price(price * USD, BTC.resolution)
    return dataclasses.replace(state, oracle_prices=prices)


def sell_fill(price: int, fund_delta: int, size: int = HALF, nonce: int = 1) -> LiquidationFill:
    cash = size * price * USD // (2 * HALF)
    return LiquidationFill(order(12, True, size, cash, nonce=nonce), cash, size, 0, fund_delta)


def close(*fills: LiquidationFill, deleverages: tuple[DeleverageFill, ...] = ()) -> LiquidationClose:
    return LiquidationClose(10, A, False, fills, deleverages)


def refused(state: RollupState, tx: object, code: ErrorCode, ctx: BatchContext | None = None) -> None:
    before = dict(state.positions.items())
    with pytest.raises(InvalidTransaction) as info:
        apply(state, tx, ctx or context())  # type: ignore[arg-type]
    assert info.value.code is code, info.value
    assert dict(state.positions.items()) == before


def test_book_fill_with_penalty() -> None:
    # Sold 0.5 at 39,500: 19,750 (surplus 750); penalty 1% = 197.5 to the fund.
    state, _ = apply(setup(), close(sell_fill(39_500, 197_500_000)), context())
    p = state.position(10)
    assert (p.collateral, p.balance(A)) == (-38_000 * USD + 19_750 * USD - 197_500_000, HALF)
    assert state.position(12).balance(A) == HALF
    assert state.position(FUND).collateral == 197_500_000


def test_book_fill_refusals() -> None:
    refused(setup(price=40_000), close(sell_fill(39_500, 0)), ErrorCode.UNLIQUIDATABLE_POSITION)
    refused(setup(), close(sell_fill(39_500, 198_000_000)), ErrorCode.LIQUIDATION_PENALTY_TOO_HIGH)
    # 37,000: cash 18,500, 500 short of bankruptcy: without the fund it is refused.
    refused(setup(), close(sell_fill(37_000, 0)), ErrorCode.LIQUIDATION_BELOW_BANKRUPTCY)
    refused(setup(), close(sell_fill(37_000, -500 * USD)), ErrorCode.INSURANCE_FUND_NEGATIVE)
    refused(setup(fund=1_000 * USD), close(sell_fill(37_000, -600 * USD)), ErrorCode.INSURANCE_FUND_OVERPAYS)
    refused(setup(), close(sell_fill(39_500, 0, size=4 * HALF)), ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)
    refused(setup(), LiquidationClose(10, A, True, (sell_fill(39_500, 0),)), ErrorCode.INVALID_ORDER_SIDES)
    refused(setup(), LiquidationClose(FUND, A, False, (sell_fill(39_500, 0),)), ErrorCode.INVALID_LIQUIDATION_PARTY)
    refused(setup(), close(), ErrorCode.INVALID_LIQUIDATION_PARTY)
    no_fund = BatchContext(config=dataclasses.replace(CONFIG, insurance_fund_position_id=None), min_expiration_hours=NOW_H)
    refused(setup(), close(sell_fill(39_500, 0)), ErrorCode.NO_INSURANCE_FUND, no_fund)


def test_fund_pays_the_shortfall() -> None:
    state, _ = apply(setup(fund=1_000 * USD), close(sell_fill(37_000, -500 * USD)), context())
    assert state.position(FUND).collateral == 500 * USD
    assert state.position(10).collateral == -38_000 * USD + 19_000 * USD


def test_socialized_mode_admits_an_uncovered_fill() -> None:
    ctx = BatchContext(config=dataclasses.replace(CONFIG, socialized_loss=True), min_expiration_hours=NOW_H)
    state, _ = apply(setup(), close(sell_fill(37_000, 0)), ctx)
    assert state.position(10).collateral == -38_000 * USD + 18_500 * USD
    refused(setup(), close(sell_fill(37_000, 100 * USD)), ErrorCode.LIQUIDATION_BELOW_BANKRUPTCY, ctx)


def test_deleverage_at_the_bankruptcy_amount() -> None:
    # Position 11 is short 1 BTC: it takes over 0.5 at 19,000 (38,000 per BTC).
    state, _ = apply(setup(), close(deleverages=(DeleverageFill(11, HALF, 19_000 * USD),)), context())
    assert state.position(10).balance(A) == HALF and state.position(11).balance(A) == -HALF
    assert state.position(10).collateral == -19_000 * USD
    refused(setup(), close(deleverages=(DeleverageFill(11, HALF, 19_500 * USD),)), ErrorCode.UNFAIR_DELEVERAGE)
    refused(setup(), close(deleverages=(DeleverageFill(11, HALF, 18_500 * USD),)), ErrorCode.UNFAIR_DELEVERAGE)
    refused(setup(), close(deleverages=(DeleverageFill(12, HALF, 19_000 * USD),)),
            ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)
    refused(setup(), close(deleverages=(DeleverageFill(10, HALF, 19_000 * USD),)), ErrorCode.SAME_POSITION_ID)
    refused(setup(), close(deleverages=(DeleverageFill(FUND, HALF, 19_000 * USD),)), ErrorCode.INVALID_LIQUIDATION_PARTY)


def test_socialized_loss() -> None:
    # 10 closes everything at 37,000 uncovered (socialized mode): collateral -38,000 + 37,000 = -1,000.
    ctx = BatchContext(config=dataclasses.replace(CONFIG, socialized_loss=True), min_expiration_hours=NOW_H)
    state, _ = apply(setup(), close(sell_fill(37_000, 0, size=2 * HALF)), ctx)
    assert state.position(10).collateral == -1_000 * USD and not state.position(10).assets
    before_11 = state.position(11).collateral
    # The longs are 12 (bought 1 BTC); the shorts are 11 (short 1 BTC): shorts pay for a long's loss.
    refused(state, SocializedLoss(10, A, False, 999 * USD), ErrorCode.INVALID_SOCIALIZED_LOSS, ctx)
    refused(state, SocializedLoss(11, A, False, 1_000 * USD), ErrorCode.INVALID_SOCIALIZED_LOSS, ctx)
    # the right charge, but the rollup is not in socialized-loss mode: nobody's collateral is taken
    refused(state, SocializedLoss(10, A, False, 1_000 * USD), ErrorCode.INVALID_SOCIALIZED_LOSS,
            BatchContext(config=CONFIG, min_expiration_hours=NOW_H))
    after, _ = apply(state, SocializedLoss(10, A, False, 1_000 * USD), ctx)
    assert after.position(10).is_empty
    assert after.position(11).collateral == before_11 - 1_000 * USD
