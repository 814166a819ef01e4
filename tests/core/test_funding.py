"""Funding: premium sampling, the interval rate, the index move, settlement of every position at the
tick with the rounding in the insurance fund; a golden scenario checked by hand; cadence rules."""

from __future__ import annotations

import doctest
from importlib import resources

import pytest

import perpetua.core.funding
import perpetua.core.markets
import perpetua.core.oracle
import perpetua.core.prices
from perpetua.core.commands import (
    CreateAccount,
    DepositCollateral,
    FundingTick,
    PlaceOrder,
    SampleFundingPremium,
    SetOraclePrice,
    WithdrawCollateral,
)
from perpetua.core.errors import RejectCode
from perpetua.core.events import (
    CommandRejected,
    Event,
    FundingPaid,
    FundingPremiumSampled,
    FundingRateUpdated,
)
from perpetua.core.funding import FUNDING_INDEX_ONE, index_delta, interval_rate_ppb
from perpetua.core.markets import config_from_toml
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.sequencer import Sequencer, replay
from tests.core.builders import BTC, S, btc, signed_tick, usd

T0 = 1_700_000_000 * S
M, H = 60 * S, 3600 * S


@pytest.mark.parametrize("module", [perpetua.core.funding, perpetua.core.oracle, perpetua.core.prices,
                                    perpetua.core.markets])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_rate_is_the_eight_hour_premium_pro_rata_plus_interest_clamped_to_the_cap() -> None:
    # (TWAP + interest 0.01%) * 1 h / 8 h.
    assert interval_rate_ppb(BTC, 0, H) == 12_500  # v3: 0.00125% an hour with no premium
    assert interval_rate_ppb(BTC, -100_000, H) == 0
    # Cap: 6% per 8 h = 0.75% per hour = 7,500,000 ppb, both ways; pro rata for a 2-hour interval.
    assert interval_rate_ppb(BTC, 250_000_000, H) == 7_500_000
    assert interval_rate_ppb(BTC, -250_000_000, H) == -7_500_000
    assert interval_rate_ppb(BTC, -250_000_000, 2 * H) == -15_000_000
    # StarkEx's bound |delta| * 2^32 <= max_rate * price * dt holds at the cap (max_rate = cap / 8 h).
    delta = index_delta(7_500_000, usd(40000), BTC.resolution)
    assert abs(delta) * 10**9 * BTC.resolution <= 7_500_000 * usd(40000) * FUNDING_INDEX_ONE


GOLDEN_TOML = resources.files("perpetua.config").joinpath("markets.toml").read_text().replace(
    'impact_notional = "12500"', 'impact_notional = "4004"', 1  # BTC-USD: exactly C's 0.1 BTC bid at 40,040
)


class Scenario:
    def __init__(self) -> None:
        self.config = config_from_toml(GOLDEN_TOML)
        self.seq = Sequencer(self.config)
        self.n = 0

    def apply(self, cmd: object) -> list[Event]:
        return self.seq.apply(cmd)  # type: ignore[arg-type]

    def tick(self, t: int, px: int) -> None:
        """A fresh signed oracle price (the oracle ticks at least every 300 s in production)."""
        self.apply(signed_tick(t, {"BTC-USD": usd(px)}, config=self.config))

    def place(self, t: int, pid: int, side: int, size: str, px: int, tif: TimeInForce = TimeInForce.GTT) -> None:
        self.n += 1
        self.apply(PlaceOrder(t, pid, "BTC-USD", side, OrderType.LIMIT, tif, btc(size), usd(px), f"c{self.n}"))

    def funding(self, t: int) -> tuple[FundingRateUpdated, dict[int, int]]:
        ev = self.apply(FundingTick(t))
        rate = ev[0]
        assert isinstance(rate, FundingRateUpdated), ev
        paid = {e.position_id: e.amount for e in ev if isinstance(e, FundingPaid)}
        assert sum(paid.values()) + rate.rounding == 0
        return rate, paid


def test_golden_funding_over_three_intervals_with_trades_in_between() -> None:
    """BTC-USD, index = oracle price, impact notional 4,004 USD, interest 0.01% / 8 h, hourly ticks.

    Index units: 32.32 collateral quantums per synthetic quantum; at 40,000 USD a BTC quantum (1e-10)
    is worth 4 collateral quantums, so delta = rate_ppb * 4 * 2^32 / 10^9.
    """
    s = Scenario()
    s.tick(T0, 40000)  # first price: the funding clock starts at T0
    for pid in (10, 11, 12):
        s.apply(CreateAccount(T0 + pid, pid, 0x1000 + pid))
        s.apply(DepositCollateral(T0 + pid, pid, usd(100000)))
    s.place(T0 + 100, 11, -1, "1", 40000)
    s.place(T0 + 101, 10, 1, "1", 40000, TimeInForce.IOC)  # A(10) long 1 BTC, B(11) short 1 BTC
    s.place(T0 + 102, 12, 1, "0.1", 40040)  # C's bid: 0.1 BTC * 40,040 = 4,004 USD = the impact notional
    s.place(T0 + 103, 12, -1, "0.1", 40080)
    total = s.seq.state.total_collateral()

    # Interval 1, [T0, T0 + 1 h]. No sample before T0 + 60 s: premium 0 for 60 s.
    s.tick(T0 + M, 40000)
    ev = s.apply(SampleFundingPremium(T0 + M, "BTC-USD"))
    # impact bid = 40,040 (C's whole level), impact ask = 40,080 (above the index: adds nothing);
    # premium = (40,040 - 40,000) / 40,000 = 0.001 = 1,000,000 ppb.
    assert ev == [FundingPremiumSampled("BTC-USD", T0 + M, 1_000_000, usd(40040), usd(40080), usd(40000))]
    s.tick(T0 + H, 40000)
    rate, paid = s.funding(T0 + H)
    # TWAP = (0 * 60 s + 1,000,000 * 3,540 s) / 3,600 s = 983,333.3 -> 983,333
    # rate = (983,333 + 100,000) / 8 = 135,416.6 -> 135,416 ppb
    # delta = 135,416 * 4 * 2^32 / 10^9 = 2,326,429.1 -> 2,326,429
    # A (+1 BTC = 10^10 quantums) pays floor(-2,326,429 * 10^10 / 2^32) = floor(-5,416,639.06) = -5,416,640
    # B (-1 BTC) receives floor(+5,416,639.06) = 5,416,639; 1 quantum of rounding to the insurance fund.
    assert (rate.premium_ppb, rate.rate_ppb, rate.index_delta, rate.funding_index) == (983_333, 135_416, 2_326_429, 2_326_429)
    assert paid == {10: -5_416_640, 11: 5_416_639} and rate.rounding == 1 and rate.positions_settled == 2

    # Interval 2, [1 h, 2 h]: the 1,000,000 premium carries until the sample at 1 h 1 min (same book).
    s.tick(T0 + H + M, 40000)
    assert s.apply(SampleFundingPremium(T0 + H + M, "BTC-USD"))[0].premium_ppb == 1_000_000  # type: ignore[union-attr]
    # At 1 h 30 min B buys 0.5 BTC back from A at 40,060: A long 0.5, B short 0.5.
    s.tick(T0 + H + 30 * M, 40000)
    s.place(T0 + H + 30 * M, 10, -1, "0.5", 40060)
    s.place(T0 + H + 30 * M + 1, 11, 1, "0.5", 40060, TimeInForce.IOC)
    assert s.seq.state.accounts[10].size("BTC-USD") == btc("0.5")
    # At 1 h 45 min the index rises to 40,100: the impact ask 40,080 is now below it;
    # premium = -(40,100 - 40,080) / 40,100 = -498,753.1 -> -498,753 ppb.
    s.tick(T0 + H + 45 * M, 40100)
    assert s.apply(SampleFundingPremium(T0 + H + 45 * M, "BTC-USD"))[0].premium_ppb == -498_753  # type: ignore[union-attr]
    s.tick(T0 + 2 * H, 40100)
    rate, paid = s.funding(T0 + 2 * H)
    # TWAP = (1,000,000 * 2,700 s - 498,753 * 900 s) / 3,600 s = 2,251,122,300 / 3,600 = 625,311.75 -> 625,311
    # rate = (625,311 + 100,000) / 8 = 90,663.9 -> 90,663 ppb; at 40,100 a quantum is worth 4.01:
    # delta = 90,663 * 4.01 * 2^32 / 10^9 = 1,561,472.3 -> 1,561,472; index 2,326,429 + 1,561,472 = 3,887,901
    # A (+0.5 BTC = 5 * 10^9) pays floor(-1,561,472 * 5 * 10^9 / 2^32) = floor(-1,817,792.6) = -1,817,793
    # B receives 1,817,792; rounding 1.
    assert (rate.premium_ppb, rate.rate_ppb, rate.index_delta, rate.funding_index) == (625_311, 90_663, 1_561_472, 3_887_901)
    assert paid == {10: -1_817_793, 11: 1_817_792} and rate.rounding == 1

    # Interval 3, [2 h, 3 h]: no sample; the last premium (-498,753) holds all hour.
    s.tick(T0 + 3 * H, 40100)
    rate, paid = s.funding(T0 + 3 * H)
    # rate = (-498,753 + 100,000) / 8 = -49,844.1 -> -49,844 ppb: negative, shorts pay longs.
    # delta = -49,844 * 4.01 * 2^32 / 10^9 = -858,454.6 -> -858,454 (toward zero); index 3,029,447
    # A (+0.5 BTC) receives floor(858,454 * 5 * 10^9 / 2^32) = floor(999,371.5) = 999,371
    # B pays floor(-999,371.5) = -999,372; rounding 1.
    assert (rate.rate_ppb, rate.index_delta, rate.funding_index) == (-49_844, -858_454, 3_029_447)
    assert paid == {10: 999_371, 11: -999_372} and rate.rounding == 1

    state = s.seq.state
    assert state.insurance_fund.collateral == 3  # one quantum of rounding per tick
    assert state.total_collateral() == total  # funding moved collateral, never created or destroyed it
    status = state.price_status("BTC-USD")
    assert status.funding_rate_ppb == -49_844 and status.next_funding_ns == T0 + 4 * H
    state.check()
    assert replay(s.config, s.seq.log).state_hash() == s.seq.state_hash()


def test_cadence_and_degraded_rules() -> None:
    s = Scenario()
    s.tick(T0, 40000)
    s.apply(SampleFundingPremium(T0 + 10 * S, "BTC-USD"))

    def refused(cmd: object, code: RejectCode) -> None:
        before = s.seq.state.canonical()
        ev = s.apply(cmd)
        assert len(ev) == 1 and isinstance(ev[0], CommandRejected) and ev[0].code is code, ev
        assert s.seq.state.canonical()[1:] == before[1:]

    refused(SampleFundingPremium(T0 + 69 * S, "BTC-USD"), RejectCode.PREMIUM_SAMPLE_NOT_DUE)
    refused(SampleFundingPremium(T0 + 70 * S, "XRP-USD"), RejectCode.UNKNOWN_MARKET)
    refused(FundingTick(T0 + H - 1, "BTC-USD"), RejectCode.FUNDING_NOT_DUE)
    refused(FundingTick(T0 + H - 1), RejectCode.FUNDING_NOT_DUE)
    refused(FundingTick(T0 + H, "BTC-USD"), RejectCode.MARKET_DEGRADED)  # the price is an hour old
    refused(FundingTick(T0 + H), RejectCode.FUNDING_NOT_DUE)  # the only started market is stale: skipped
    refused(SampleFundingPremium(T0 + H, "BTC-USD"), RejectCode.MARKET_DEGRADED)
    refused(SampleFundingPremium(T0 + H, "ETH-USD"), RejectCode.MARKET_DEGRADED)  # never priced
    s.tick(T0 + H, 40000)
    ev = s.apply(FundingTick(T0 + H + S))
    assert isinstance(ev[0], FundingRateUpdated) and ev[0].market_id == "BTC-USD" and ev[0].positions_settled == 0


def test_withdrawal_and_fills_settle_lazily_if_an_index_moved_without_settlement() -> None:
    """Ticks settle every position, so lazy settlement normally finds nothing; it still runs first on a
    withdrawal (and a fill) if an index was moved by other means."""
    s = Scenario()
    s.apply(SetOraclePrice(T0, "BTC-USD", usd(40000)))
    for pid in (10, 11):
        s.apply(CreateAccount(T0 + pid, pid, 0x1000 + pid))
        s.apply(DepositCollateral(T0 + pid, pid, usd(100000)))
    s.place(T0 + 100, 11, -1, "1", 40000)
    s.place(T0 + 101, 10, 1, "1", 40000, TimeInForce.IOC)
    s.seq.state.funding_indices["BTC-USD"] += FUNDING_INDEX_ONE  # a test-only nudge: 1 quantum per quantum
    before = s.seq.state.accounts[10].collateral
    ev = s.apply(WithdrawCollateral(T0 + 200, 10, usd(1)))
    # Long 10^10 quantums pays 10^10 collateral quantums (10,000 USD), settled before the debit.
    assert s.seq.state.accounts[10].collateral == before - 10**10 - usd(1)
    assert [type(e).__name__ for e in ev] == ["FundingSettled", "CollateralWithdrawn"]
