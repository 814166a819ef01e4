"""Liquidations, the insurance fund and deleveraging: golden scenarios with hand-checked numbers, and
the rules (core/liquidation.py, docs/liquidations.md).

Common setup (``_long_account``): BTC at 40,000. Account 10 deposits 1,000 and buys 0.5 BTC at 40,000
as a taker from account 20 (taker fee 0.05% of 20,000 = 10):
    collateral = 1,000 - 20,000 - 10 = -19,010; TV at 40,000 = -19,010 + 20,000 = 990.
Its bankruptcy price (closing everything leaves TV = 0) is 19,010 / 0.5 = 38,020.
"""

from __future__ import annotations

import dataclasses

from perpetua.core.commands import CreateAccount, DepositCollateral, Liquidate, SetOraclePrice
from perpetua.core.errors import CancelReason, RejectCode
from perpetua.core.events import (
    AccountLiquidated,
    CommandRejected,
    Event,
    InsuranceFundChanged,
    LiquidationFilled,
    LossSocialized,
    OrderCanceled,
    PositionDeleveraged,
)
from perpetua.core.liquidation import bankruptcy_collateral, close_size, scan_market
from perpetua.core.markets import ExchangeConfig
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.risk import account_totals
from perpetua.core.sequencer import Sequencer, replay
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import LimitOrder, hash_limit_order
from perpetua.crypto.signatures import sign
from tests.core.builders import BTC, CONFIG, Clock, btc, exchange, order, usd

FUND = CONFIG.insurance_fund_position_id


def _long_account(
    extra: dict[int, str] | None = None, config: ExchangeConfig = CONFIG, fund: str | None = None
) -> tuple[Sequencer, Clock]:
    seq, clock = exchange({10: "1000", 20: "100000", 30: "100000", **(extra or {})}, config=config)
    if fund is not None:
        seq.apply(DepositCollateral(clock(), FUND, usd(fund)))
    seq.apply(order(clock, 20, -1, btc("0.5"), usd(40000)))
    seq.apply(order(clock, 10, 1, btc("0.5"), usd(40000), order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    assert seq.state.accounts[10].collateral == usd(-19010)
    return seq, clock


def _of(events: list[Event], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


def _conserved(seq: Sequencer, deposits: int) -> None:
    seq.state.check()
    assert seq.state.total_collateral() == deposits
    assert seq.state.liquidatable_accounts() == []


def test_partial_liquidation_with_penalty() -> None:
    seq, clock = _long_account()
    seq.apply(order(clock, 30, 1, btc("1"), usd(39000)))  # a bid the liquidation will hit
    total = seq.state.total_collateral()
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(39000)))
    # At 39,000: TV = -19,010 + 19,500 = 490 < MMR = 0.5 * 39,000 * 3% = 585: liquidatable.
    # Partial size (buffer 10%, penalty 1%, MMF 3%): q >= (585 * 1.1 - 490) / (39,000 * (0.033 - 0.01))
    #   = 153.5 / 897 = 0.17113 BTC -> 0.1712 on the 0.0001 step.
    # Limit = bankruptcy price 39,000 * (1 - 0.03 * 490 / 585) = 38,020.
    (liq,) = _of(events, LiquidationFilled)
    assert (liq.size, liq.price, liq.bankruptcy_price) == (btc("0.1712"), usd(39000), usd(38020))
    # Sale: 0.1712 * 39,000 = 6,676.8. Bankruptcy amount 0.1712 * 38,020 = 6,509.024, surplus 167.776;
    # penalty = min(1% * 6,676.8, 167.776) = 66.768, to the insurance fund.
    assert (liq.penalty, liq.fund_delta) == (usd("66.768"), usd("66.768"))
    (fund,) = _of(events, InsuranceFundChanged)
    assert (fund.amount, fund.reason, fund.balance) == (usd("66.768"), "LIQUIDATION_PENALTY", usd("66.768"))
    # After: collateral -19,010 + 6,676.8 - 66.768 = -12,399.968; 0.3288 BTC left:
    # TV = -12,399.968 + 12,823.2 = 423.232 >= MMR 384.696 (x 1.1002): healthy, the rest stays open.
    (done,) = _of(events, AccountLiquidated)
    assert (done.equity_before, done.maintenance_before) == (usd(490), usd(585))
    assert (done.equity_after, done.maintenance_after) == (usd("423.232"), usd("384.696"))
    assert not done.full and done.complete and done.deleveraged_size == 0
    acct = seq.state.accounts[10]
    assert acct.collateral == usd("-12399.968") and acct.size("BTC-USD") == btc("0.3288")
    assert seq.state.insurance_fund.collateral == usd("66.768")
    _conserved(seq, total)


def test_below_bankruptcy_covered_by_the_fund() -> None:
    seq, clock = _long_account(fund="10000")
    seq.apply(order(clock, 30, 1, btc("1"), usd(36900)))
    total = seq.state.total_collateral()
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(37000)))
    # Gap to 37,000: TV = -19,010 + 18,500 = -510 < 0: under water, the whole position closes.
    # Limit = oracle - one MMF = 37,000 * 0.97 = 35,890; the bid at 36,900 fills 0.5 BTC: 18,450.
    # Bankruptcy amount (TV -> 0) = 19,010: the fill is 560 below it, which the fund pays.
    (liq,) = _of(events, LiquidationFilled)
    assert (liq.price, liq.size, liq.bankruptcy_price) == (usd(36900), btc("0.5"), usd(38020))
    assert (liq.penalty, liq.fund_delta) == (0, usd(-560))
    (fund,) = _of(events, InsuranceFundChanged)
    assert (fund.amount, fund.reason, fund.balance) == (usd(-560), "LIQUIDATION_SHORTFALL", usd(9440))
    # The account ends at exactly zero: -19,010 + 18,450 + 560.
    acct = seq.state.accounts[10]
    assert acct.collateral == 0 and not acct.positions
    (done,) = _of(events, AccountLiquidated)
    assert done.full and done.complete and done.fund_delta == usd(-560)
    _conserved(seq, total)


def test_fund_cannot_cover_deleverages_by_ranking() -> None:
    # Shorts on the other side: 20 (rich, 0.5 BTC from the setup), 21 (3,000, 0.3 BTC), 22 (20,000, 1 BTC),
    # all sold as takers at 40,000 to 40's bids (taker fee 0.05%).
    seq, clock = _long_account({21: "3000", 22: "20000", 40: "100000"}, fund="100")
    seq.apply(order(clock, 40, 1, btc("1.3"), usd(40000)))
    seq.apply(order(clock, 21, -1, btc("0.3"), usd(40000), order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    seq.apply(order(clock, 22, -1, btc("1"), usd(40000), order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    seq.apply(order(clock, 30, 1, btc("1"), usd(36900)))
    total = seq.state.total_collateral()
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(37000)))
    # As above the book fill needs 560 from the fund, which holds 100: refused, so ADL at the
    # bankruptcy price 38,020. Ranking score = (PnL / TV) * (notional / TV), PnL = TV - deposits:
    #   21: TV = 3,000 - 6 + 0.3 * 3,000 = 3,894;  PnL 894;  notional 11,100: 0.229584 * 2.850539 = 0.654438
    #   22: TV = 20,000 - 20 + 3,000 = 22,980;      PnL 2,980; notional 37,000: 0.129678 * 1.610096 = 0.208793
    #   20: TV = 100,000 - 4 + 1,500 = 101,496 (maker fee 0.02%); PnL 1,496; notional 18,500: 0.002686
    assert not _of(events, LiquidationFilled)
    first, second = _of(events, PositionDeleveraged)
    assert (first.deleverager_position_id, first.rank, first.size) == (21, 0, btc("0.3"))
    assert (second.deleverager_position_id, second.rank, second.size) == (22, 1, btc("0.2"))
    assert first.score == 654_438 and second.score == 208_793
    # 0.3 BTC at 38,020 = 11,406 and 0.2 at 38,020 = 7,604: the account ends at exactly 0.
    assert (first.price, first.collateral_amount) == (usd(38020), usd(11406))
    assert (second.price, second.collateral_amount) == (usd(38020), usd(7604))
    assert seq.state.accounts[10].collateral == 0 and not seq.state.accounts[10].positions
    # 21 bought back at 38,020 vs 40,000: 3,000 - 6 + 0.3 * 1,980 = 3,588, no position left.
    assert seq.state.accounts[21].collateral == usd(3588) and not seq.state.accounts[21].positions
    assert seq.state.accounts[22].size("BTC-USD") == btc("-0.8")
    assert seq.state.insurance_fund.collateral == usd(100)  # untouched
    (done,) = _of(events, AccountLiquidated)
    assert done.deleveraged_size == btc("0.5") and done.full
    _conserved(seq, total)


def _keeper_liquidate(
    seq: Sequencer, clock: Clock, size: str, price: int, amount: str = "0.2", nonce: int = 1, key: int | None = None
) -> Liquidate:
    priv = private_key_from_seed(b"keeper-50")
    amount_synthetic = btc(amount)
    amount_collateral = amount_synthetic * price // BTC.resolution
    msg = LimitOrder(BTC.synthetic_asset_id, CONFIG.collateral_asset_id, CONFIG.collateral_asset_id, True,
                     amount_synthetic, amount_collateral, 0, nonce, 50, 10**6)
    sig = sign(priv if key is None else key, hash_limit_order(msg))
    return Liquidate(clock(), 50, 10, "BTC-USD", True, amount_synthetic, amount_collateral, 0, nonce, 10**6,
                     sig.r, sig.s, btc(size))


def test_keeper_liquidation() -> None:
    config = dataclasses.replace(CONFIG, auto_liquidate=False)
    seq, clock = _long_account(config=config)
    seq.apply(CreateAccount(clock(), 50, public_key(private_key_from_seed(b"keeper-50"))))
    seq.apply(DepositCollateral(clock(), 50, usd(10000)))
    seq.apply(order(clock, 10, 1, btc("0.01"), usd(30000), client_id="resting"))  # canceled by the liquidation
    seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(39000)))
    assert seq.state.liquidatable_accounts() == [10]  # auto-liquidation is off: a keeper's job
    total = seq.state.total_collateral()
    # Out of bounds: 37,900 is below the bankruptcy price 38,020 (the fund would pay).
    before = seq.state.canonical()
    (rej,) = seq.apply(_keeper_liquidate(seq, clock, "0.2", usd(37900)))
    assert isinstance(rej, CommandRejected) and rej.code is RejectCode.LIQUIDATION_PRICE_OUT_OF_BOUNDS
    # A forged signature (another key) is refused; nothing changes.
    (rej,) = seq.apply(_keeper_liquidate(seq, clock, "0.2", usd(38800), key=12345))
    assert isinstance(rej, CommandRejected) and rej.code is RejectCode.LIQUIDATION_SIGNATURE_INVALID
    assert seq.state.canonical()[1:] == before[1:]
    # The keeper buys 0.2 BTC at 38,800: pays 7,760. Bankruptcy amount of 0.2: 0.2 * 38,020 = 7,604,
    # surplus 156; penalty = min(1% * 7,760, 156) = 77.6, half (38.8) to the keeper, half to the fund.
    cmd = _keeper_liquidate(seq, clock, "0.2", usd(38800))
    events = seq.apply(cmd)
    cancel = _of(events, OrderCanceled)
    assert [c.reason for c in cancel] == [CancelReason.LIQUIDATED]
    (liq,) = _of(events, LiquidationFilled)
    assert (liq.counterparty_position_id, liq.price, liq.size) == (50, usd(38800), btc("0.2"))
    assert (liq.penalty, liq.keeper_reward, liq.fund_delta) == (usd("77.6"), usd("38.8"), usd("38.8"))
    # Account 10: -19,010 + 7,760 - 77.6 = -11,327.6 with 0.3 BTC: TV = 372.4 >= MMR 351.
    acct = seq.state.accounts[10]
    assert acct.collateral == usd("-11327.6") and acct.size("BTC-USD") == btc("0.3")
    (done,) = _of(events, AccountLiquidated)
    assert (done.equity_after, done.maintenance_after, done.liquidator_position_id) == (usd("372.4"), usd(351), 50)
    assert seq.state.accounts[50].collateral == usd("2278.8")  # 10,000 - 7,760 + 38.8
    assert seq.state.accounts[50].size("BTC-USD") == btc("0.2")
    assert seq.state.insurance_fund.collateral == usd("38.8")
    seq.state.check()
    assert seq.state.total_collateral() == total
    # The account is healthy now; and the same signed order cannot be used beyond its amount.
    (rej,) = seq.apply(_keeper_liquidate(seq, clock, "0.1", usd(38800)))
    assert isinstance(rej, CommandRejected) and rej.code in (RejectCode.NOT_LIQUIDATABLE, RejectCode.LIQUIDATION_ORDER_FILLED)
    assert replay(config, seq.log).state_hash() == seq.state_hash()


def test_no_liquidation_on_a_stale_market() -> None:
    seq, clock = _long_account()
    seq.apply(order(clock, 30, 1, btc("1"), usd(39000)))
    stale_at = clock(BTC.oracle_max_age_ns + 10**9)
    seq.apply(SetOraclePrice(stale_at, "ETH-USD", usd(3000)))
    assert seq.state.oracle_stale("BTC-USD")
    # Funding cannot tick a stale market; the account is judged only once a fresh price arrives.
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(39000)))
    assert _of(events, AccountLiquidated)  # fresh again: liquidated at once


def test_scan_matches_the_reference_and_sizes_are_bounded() -> None:
    seq, clock = _long_account({21: "3000", 40: "100000"})
    seq.apply(order(clock, 40, 1, btc("0.3"), usd(40000)))
    seq.apply(order(clock, 21, -1, btc("0.3"), usd(40000), order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    state = seq.state
    state.oracle_prices["BTC-USD"] = usd(39000)  # a direct move (no liquidation) to compare the scans
    assert scan_market(state, "BTC-USD") == state.liquidatable_accounts() == [10]
    acct = state.accounts[10]
    tv, _, mmr = account_totals(acct, state.markets, state.oracle_prices, state.funding_indices)
    assert close_size(BTC, acct.size("BTC-USD"), usd(39000), tv, mmr, 100_000, False) == btc("0.1712")
    assert close_size(BTC, acct.size("BTC-USD"), usd(39000), -1, mmr, 100_000, False) == btc("0.5")
    # Closing everything at the bankruptcy amount leaves TV = 0.
    assert bankruptcy_collateral(state, acct, "BTC-USD", -btc("0.5")) == usd(19010)


def test_insurance_window_cap_sends_the_rest_to_deleveraging() -> None:
    capped = dataclasses.replace(BTC, insurance_loss_cap=usd(500))
    config = dataclasses.replace(CONFIG, markets={**CONFIG.markets, "BTC-USD": capped})
    seq, clock = _long_account({40: "100000"}, config=config, fund="10000")
    seq.apply(order(clock, 30, 1, btc("1"), usd(36900)))
    total = seq.state.total_collateral()
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(37000)))
    # The fill needs 560 from the fund; the window allows 500: refused, the position is deleveraged
    # against the only short (20) at 38,020.
    assert not _of(events, LiquidationFilled)
    (adl,) = _of(events, PositionDeleveraged)
    assert (adl.deleverager_position_id, adl.price, adl.size) == (20, usd(38020), btc("0.5"))
    assert seq.state.insurance_fund.collateral == usd(10000)
    _conserved(seq, total)


def test_socialized_loss_mode() -> None:
    config = dataclasses.replace(CONFIG, socialized_loss=True)
    seq, clock = _long_account(config=config, fund="100")
    seq.apply(order(clock, 30, 1, btc("1"), usd(36900)))
    total = seq.state.total_collateral()
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(37000)))
    # The fill proceeds; the fund pays its 100 and the other 460 is charged to the shorts (only 20).
    (liq,) = _of(events, LiquidationFilled)
    assert liq.fund_delta == usd(-100)
    (soc,) = _of(events, LossSocialized)
    assert (soc.amount, soc.accounts) == (usd(460), 1)
    assert seq.state.accounts[10].collateral == 0 and seq.state.insurance_fund.collateral == 0
    _conserved(seq, total)


def test_multi_position_closes_largest_risk_first() -> None:
    seq, clock = _long_account({40: "100000"})
    # Account 10 also buys 1 ETH at 3,000 (risk 1 * 3,000 * 3% = 90 < BTC's 585).
    seq.apply(DepositCollateral(clock(), 10, usd(200)))
    seq.apply(order(clock, 40, -1, 10**9, usd(3000), market="ETH-USD"))
    seq.apply(order(clock, 10, 1, 10**9, usd(3000), market="ETH-USD", order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    seq.apply(order(clock, 30, 1, btc("1"), usd(38900)))
    seq.apply(order(clock, 30, 1, 10**10, usd(2900), market="ETH-USD"))
    events = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(38800)))
    fills = _of(events, LiquidationFilled)
    assert fills and fills[0].market_id == "BTC-USD"
    assert seq.state.liquidatable_accounts() == []
    seq.state.check()
