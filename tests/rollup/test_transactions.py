"""Each transaction valid and invalid: the reason's code, and the input state unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perpetua.crypto.messages import hash_transfer
from perpetua.crypto.signatures import sign
from perpetua.rollup.apply import apply
from perpetua.rollup.config import internal_price
from perpetua.rollup.errors import ErrorCode, InvalidTransaction
from perpetua.rollup.outputs import Modification
from perpetua.rollup.position import is_liquidatable, position_status
from perpetua.rollup.state import BatchContext
from perpetua.rollup.transactions.conditional_transfer import ConditionalTransfer
from perpetua.rollup.transactions.deleverage import Deleverage
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.forced_withdrawal import ForcedWithdrawal
from perpetua.rollup.transactions.funding_tick import FundingTick
from perpetua.rollup.transactions.liquidate import Liquidate
from perpetua.rollup.transactions.trade import Trade
from tests.rollup.helpers import (
    BTC,
    CONFIG,
    ETH,
    FEE_POSITION,
    NOW_H,
    NOW_S,
    base_state,
    context,
    funded_state,
    key,
    order,
    private_key,
    signed_transfer,
    trade,
    transfer,
    withdrawal,
)

USD = 1_000_000
BTC_UNIT = BTC.resolution


def rejects(state, tx, code: ErrorCode, ctx=None) -> InvalidTransaction:
    before = (dict(state.positions.items()), dict(state.orders.items()), state.funding_indices, state.oracle_prices)
    with pytest.raises(InvalidTransaction) as info:
        apply(state, tx, ctx or context())
    assert info.value.code == code, info.value
    after = (dict(state.positions.items()), dict(state.orders.items()), state.funding_indices, state.oracle_prices)
    assert before == after
    return info.value


def test_deposit_credits_and_claims_empty_position() -> None:
    state, out = apply(base_state(), Deposit(5, key(5), 100 * USD), context())
    assert state.position(5).collateral == 100 * USD and state.position(5).public_key == key(5)
    assert out == [Modification(5, key(5), 100 * USD)]
    rejects(state, Deposit(5, key(6), 1), ErrorCode.INVALID_PUBLIC_KEY)
    rejects(state, Deposit(5, key(5), 2**64), ErrorCode.OUT_OF_RANGE_AMOUNT)


def test_withdrawal_valid_replayed_forged_expired_undercollateralised() -> None:
    state = funded_state((5, 100 * USD))
    tx = withdrawal(5, 40 * USD)
    new, out = apply(state, tx, context())
    assert new.position(5).collateral == 60 * USD and out == [Modification(5, key(5), -40 * USD)]
    rejects(new, tx, ErrorCode.OVERFILLED_ORDER)  # replayed
    rejects(state, withdrawal(5, 40 * USD, signer=6), ErrorCode.INVALID_SIGNATURE)  # forged
    rejects(state, withdrawal(5, 40 * USD, expiration_hours=NOW_H - 1), ErrorCode.EXPIRED_ORDER)
    err = rejects(state, withdrawal(5, 101 * USD), ErrorCode.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE)
    assert err.values["tv_before"] > err.values["tv_after"]


def test_trade_moves_balances_fees_and_fulfilment() -> None:
    state = funded_state((10, 10_000 * USD), (11, 10_000 * USD))
    tx = trade(10, 11, BTC_UNIT // 10, 4_000 * USD, fee=2 * USD)
    new, _ = apply(state, tx, context())
    assert new.position(10).balance(BTC.synthetic_asset_id) == BTC_UNIT // 10
    assert new.position(11).balance(BTC.synthetic_asset_id) == -BTC_UNIT // 10
    assert new.position(10).collateral == 6_000 * USD - 2 * USD
    assert new.position(11).collateral == 14_000 * USD - 2 * USD
    assert new.position(FEE_POSITION).collateral == 4 * USD
    rejects(new, tx, ErrorCode.OVERFILLED_ORDER)  # the same orders filled again


def test_trade_rejections() -> None:
    state = funded_state((10, 10_000 * USD), (11, 10_000 * USD))
    good = trade(10, 11, BTC_UNIT // 10, 4_000 * USD)
    forged = replace(good, party_a=order(10, True, BTC_UNIT // 10, 4_000 * USD, signer=12))
    rejects(state, forged, ErrorCode.INVALID_SIGNATURE)
    rejects(state, replace(good, actual_synthetic=BTC_UNIT // 10 + 1), ErrorCode.OVERFILLED_ORDER)
    rejects(state, replace(good, actual_collateral=4_001 * USD), ErrorCode.INVALID_FULFILLMENT_ASSETS_RATIO)
    rejects(state, replace(good, actual_a_fee=1), ErrorCode.INVALID_FULFILLMENT_FEE_RATIO)
    rejects(state, trade(10, 11, BTC_UNIT // 10, 4_000 * USD, expiration_hours=NOW_H - 1), ErrorCode.EXPIRED_ORDER)
    rejects(state, Trade(good.party_a, good.party_a, 4_000 * USD, BTC_UNIT // 10, 0, 0), ErrorCode.INVALID_ORDER_SIDES)
    # Under-collateralised: 10 BTC (400k USD notional) on 10k USD at 3% maintenance.
    rejects(state, trade(10, 11, 10 * BTC_UNIT, 400_000 * USD), ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)


def test_flipped_position_is_rejected_when_under_collateralised() -> None:
    state = funded_state((10, 2_000 * USD), (11, 100_000 * USD), (12, 100_000 * USD))
    state, _ = apply(state, trade(10, 11, BTC_UNIT, 40_000 * USD), context())  # 10 long 1 BTC, TV 2k
    state = replace(state, oracle_prices={**state.oracle_prices,
                                          BTC.synthetic_asset_id: internal_price(39_000 * USD, BTC.resolution)})
    # 10 is now under water of maintenance (TV 1k < TR 1.17k); selling 2 BTC would flip it short.
    rejects(state, trade(12, 10, 2 * BTC_UNIT, 78_000 * USD, nonce=2),
            ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)
    # Reducing (selling 0.5 BTC at the oracle price) is allowed even though not well leveraged.
    apply(state, trade(12, 10, BTC_UNIT // 2, 19_500 * USD, nonce=3), context())


def test_transfer_and_conditional_transfer() -> None:
    state = funded_state((20, 1_000 * USD))
    tx = signed_transfer(20, 21, 300 * USD)
    new, _ = apply(state, tx, context())
    assert new.position(21).collateral == 300 * USD and new.position(21).public_key == key(21)
    rejects(new, tx, ErrorCode.OVERFILLED_ORDER)
    m = transfer(20, 21, 300 * USD, condition=12345)
    ct = ConditionalTransfer(m, key(20), sign(private_key(20), hash_transfer(m)))
    rejects(state, ct, ErrorCode.UNREGISTERED_CONDITION)
    apply(state, ct, context(registered_conditions=frozenset({12345})))
    rejects(state, signed_transfer(20, 20, 1), ErrorCode.SAME_POSITION_ID)


def test_funding_tick_settles_and_bounds_rate() -> None:
    state = funded_state((10, 10_000 * USD), (11, 10_000 * USD))
    state, _ = apply(state, trade(10, 11, BTC_UNIT, 40_000 * USD), context())
    btc = BTC.synthetic_asset_id
    dt = 3600
    price = state.oracle_prices[btc]
    max_delta = CONFIG.max_funding_rate * price * dt // 2**32
    tick = FundingTick(NOW_S + dt, tuple(sorted({btc: max_delta, ETH.synthetic_asset_id: 0}.items())))
    ticked, _ = apply(state, tick, context())
    assert ticked.system_time == NOW_S + dt
    over = FundingTick(NOW_S + dt, tuple(sorted({btc: max_delta + 1, ETH.synthetic_asset_id: 0}.items())))
    rejects(state, over, ErrorCode.INVALID_FUNDING_RATE)
    rejects(state, FundingTick(NOW_S - 1, tick.indices), ErrorCode.INVALID_FUNDING_TICK_TIMESTAMP)
    rejects(state, FundingTick(NOW_S + dt, ((btc, 0),)), ErrorCode.INVALID_FUNDING_ASSETS)
    # Settlement: the long pays delta * balance / 2^32 (floored), the short receives.
    after, _ = apply(ticked, Deposit(10, key(10), 0), context())
    paid = -((-max_delta * BTC_UNIT) // 2**32)
    assert after.position(10).collateral == state.position(10).collateral - paid
    # Stale funding blocks everything but a FundingTick.
    stale = replace(state, system_time=NOW_S + CONFIG.funding_validity_period_s + 1)
    rejects(stale, Deposit(10, key(10), 1), ErrorCode.FUNDING_TOO_OLD)


def test_liquidate_and_deleverage() -> None:
    btc = BTC.synthetic_asset_id
    state = funded_state((10, 2_000 * USD), (11, 100_000 * USD), (12, 100_000 * USD))
    state, _ = apply(state, trade(10, 11, BTC_UNIT, 40_000 * USD), context())
    rejects(state, Liquidate(order(12, True, BTC_UNIT, 40_000 * USD, nonce=5), 10, 40_000 * USD, BTC_UNIT, 0),
            ErrorCode.UNLIQUIDATABLE_POSITION)
    low = replace(state, oracle_prices={**state.oracle_prices, btc: internal_price(38_500 * USD, BTC.resolution)})
    assert is_liquidatable(*position_status(low.position(10), low.oracle_prices, CONFIG))
    liq = Liquidate(order(12, True, BTC_UNIT // 2, 19_250 * USD, nonce=6), 10, 19_250 * USD, BTC_UNIT // 2, 0)
    after, _ = apply(low, liq, context())
    assert after.position(10).balance(btc) == BTC_UNIT // 2
    too_much = Liquidate(order(12, True, 2 * BTC_UNIT, 77_000 * USD, nonce=7), 10, 77_000 * USD, 2 * BTC_UNIT, 0)
    rejects(low, too_much, ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)
    # Under water (TV < 0): deleverage against the short 11 at the bankruptcy price.
    under = replace(state, oracle_prices={**state.oracle_prices, btc: internal_price(37_000 * USD, BTC.resolution)})
    tv = position_status(under.position(10), under.oracle_prices, CONFIG)[0]
    assert tv < 0
    # The deleveraged gets the most collateral that still keeps its TV/TR from decreasing.
    fair = Deleverage(10, 11, btc, BTC_UNIT, 38_000 * USD, True)
    apply(under, fair, context())
    rejects(under, replace(fair, amount_collateral=39_000 * USD), ErrorCode.UNFAIR_DELEVERAGE)
    rejects(state, fair, ErrorCode.UNDELEVERAGABLE_POSITION)
    rejects(under, Deleverage(10, 12, btc, BTC_UNIT, 38_000 * USD, True),
            ErrorCode.ILLEGAL_POSITION_TRANSITION_ENLARGING_SYNTHETIC_HOLDINGS)


def test_forced_withdrawal_verdict_must_be_true() -> None:
    state = funded_state((5, 100 * USD))
    new, _out = apply(state, ForcedWithdrawal(5, key(5), 50 * USD, True), context())
    assert new.position(5).collateral == 50 * USD
    same, _ = apply(state, ForcedWithdrawal(5, key(5), 500 * USD, False), context())
    assert same is state
    rejects(state, ForcedWithdrawal(5, key(5), 50 * USD, False), ErrorCode.INVALID_FORCED_ACTION)
    rejects(state, ForcedWithdrawal(5, key(5), 500 * USD, True), ErrorCode.ILLEGAL_POSITION_TRANSITION_NO_RISK_REDUCED_VALUE)


def test_fee_position_key_is_enforced() -> None:
    state = funded_state((10, 10_000 * USD), (11, 10_000 * USD), (FEE_POSITION, 0))
    assert state.position(FEE_POSITION).is_empty
    new, _ = apply(state, trade(10, 11, BTC_UNIT // 10, 4_000 * USD, fee=1), context())
    assert new.position(FEE_POSITION).public_key == key(FEE_POSITION)


def test_eager_funding_settles_everyone_and_rounds_to_the_insurance_fund() -> None:
    """Eager mode (the exchange's arithmetic): one floor per position and asset at the tick, the
    leftover to the insurance fund; lazy mode (StarkEx, no fund configured) leaves positions alone."""
    state = funded_state((10, 10_000 * USD), (11, 10_000 * USD), (12, 10_000 * USD))
    state, _ = apply(state, trade(10, 11, 3, 120 * USD // 1000), context())
    state, _ = apply(state, trade(10, 12, 4, 160 * USD // 1000), context())
    btc, eth = BTC.synthetic_asset_id, ETH.synthetic_asset_id
    delta = 600_000_007  # ~0.14 quantum per synthetic quantum: every floor rounds
    tick = FundingTick(NOW_S + 3600, ((btc, delta), (eth, 0)))
    fund = CONFIG.insurance_fund_position_id
    assert fund is not None
    eager, _ = apply(state, tick, context())
    amounts = {pid: eager.position(pid).collateral - state.position(pid).collateral for pid in (10, 11, 12)}
    assert amounts == {10: (-7 * delta) // 2**32, 11: (3 * delta) // 2**32, 12: (4 * delta) // 2**32}
    assert eager.position(fund).collateral == -sum(amounts.values()) > 0
    assert eager.position(fund).public_key == CONFIG.insurance_fund_public_key
    assert all(a.cached_funding_index == delta for pid in (10, 11, 12) for a in eager.position(pid).assets)
    lazy_ctx = BatchContext(config=replace(CONFIG, insurance_fund_position_id=None), min_expiration_hours=NOW_H)
    lazy, _ = apply(state, tick, lazy_ctx)
    assert all(lazy.position(pid) == state.position(pid) for pid in (10, 11, 12))
    assert lazy.position(fund).is_empty
