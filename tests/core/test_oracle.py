"""Signed oracle ticks: quorum, median, conversion, staleness, move bounds, forged / mutated / replayed
signatures, atomicity, degraded mode, and pre-verification (core/oracle.py)."""

from __future__ import annotations

import dataclasses

import pytest

from perpetua.core.commands import CancelAllOrders, MarketOraclePrices, OraclePricesTick, SignedOraclePrice
from perpetua.core.errors import RejectCode
from perpetua.core.events import (
    CommandRejected,
    Event,
    OraclePriceUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
)
from perpetua.core.oracle import (
    external_to_price,
    median_price,
    passes_median_test,
    sign_market_prices,
    sign_oracle_price,
)
from perpetua.core.orders import TimeInForce
from perpetua.core.sequencer import Sequencer, replay
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.signatures import verify
from tests.core.builders import BTC, CONFIG, DEV_KEYS, ETH, S, btc, exchange, order, signed_tick, usd

T0 = 1_700_000_000 * S
KEYS = sorted(DEV_KEYS)


def fresh() -> Sequencer:
    seq = Sequencer(CONFIG)
    assert isinstance(seq.apply(signed_tick(T0, {"BTC-USD": usd(40000)}))[0], OraclePriceUpdated)
    return seq


def rejected(seq: Sequencer, cmd: OraclePricesTick) -> CommandRejected:
    """Apply a tick that must be refused; check it changed nothing but the clock."""
    before = seq.state.canonical()
    events = seq.apply(cmd)
    assert len(events) == 1 and isinstance(events[0], CommandRejected), events
    assert seq.state.canonical()[1:] == before[1:], "a rejected tick changed state"
    return events[0]


def btc_tick(t: int, signed: list[SignedOraclePrice]) -> OraclePricesTick:
    return OraclePricesTick(t, (MarketOraclePrices("BTC-USD", tuple(signed)),))


def signed_btc(prices_usd: list[int], ts: int, keys: list[int] = KEYS) -> list[SignedOraclePrice]:
    return [
        sign_oracle_price(DEV_KEYS[k], k, BTC, p * 10**18, ts) for k, p in zip(keys, prices_usd, strict=False)
    ]


def test_conversion_and_median() -> None:
    # 40,000.0000015 USD (10^18 = 1) -> 40,000,000,001.5 quantums -> half up -> ...002.
    assert external_to_price(40_000_000_001_500_000 * 10**6) == 40_000_000_002
    assert external_to_price(40_000 * 10**18 + 499_999_999_999) == 40_000_000_000
    assert median_price([3, 1, 2]) == 2 and median_price([4, 1, 3, 2]) == 2
    for prices in ([1], [1, 2], [5, 5, 1], [9, 1, 7, 3, 5]):
        assert passes_median_test(median_price(prices), prices)
    assert not passes_median_test(4, [1, 2, 3])


def test_a_quorum_sets_the_median_and_its_time() -> None:
    seq = fresh()
    t = T0 + 10 * S
    ev = seq.apply(btc_tick(t, signed_btc([40100, 39900, 40300, 40000], 1_700_000_009)))
    # Four prices: the lower median of (39,900, 40,000, 40,100, 40,300) is 40,000... sorted[1].
    assert ev == [OraclePriceUpdated("BTC-USD", usd(40000), 1_700_000_009 * S, 4)]
    ev = seq.apply(btc_tick(t + S, signed_btc([40100, 39900, 40300], 1_700_000_010)))
    assert ev == [OraclePriceUpdated("BTC-USD", usd(40100), 1_700_000_010 * S, 3)]
    status = seq.state.price_status("BTC-USD")
    assert status.oracle_price == status.index_price == usd(40100) and not status.stale
    assert status.oracle_age_ns == S


def test_the_first_price_needs_only_the_quorum_and_no_previous_price() -> None:
    seq = Sequencer(CONFIG)
    assert seq.state.price_status("BTC-USD").stale  # no price yet: degraded
    seq.apply(signed_tick(T0, {"BTC-USD": usd(12345), "ETH-USD": usd(3000)}))
    assert seq.state.oracle_prices == {"BTC-USD": usd(12345), "ETH-USD": usd(3000)}


@pytest.mark.parametrize(
    ("make", "code", "field"),
    [
        # Fewer signatures than the quorum (3).
        (lambda t: btc_tick(t, signed_btc([40000, 40000], t // S)), RejectCode.ORACLE_QUORUM_NOT_MET, "BTC-USD.prices"),
        # A valid signature by a key that is not a configured signer.
        (lambda t: btc_tick(t, sorted([*signed_btc([40000, 40000, 40000], t // S), sign_oracle_price(private_key_from_seed(b"mallory"), public_key(private_key_from_seed(b"mallory")), BTC, 40000 * 10 ** 18, t // S)], key=lambda p: p.signer_key)),
         RejectCode.ORACLE_SIGNER_UNKNOWN, "signer_key"),
        # Forged: claims a configured key, signed with another private key.
        (lambda t: btc_tick(t, [*signed_btc([40000, 40000], t // S), dataclasses.replace(sign_oracle_price(private_key_from_seed(b"mallory"), KEYS[2], BTC, 40000 * 10 ** 18, t // S))]), RejectCode.ORACLE_SIGNATURE_INVALID, "prices[2].signature"),
        # Mutated after signing: the price, the timestamp, r.
        (lambda t: btc_tick(t, [*signed_btc([40000, 40000], t // S), dataclasses.replace(
            signed_btc([40000] * 3, t // S)[2], external_price=41000 * 10**18)]),
         RejectCode.ORACLE_SIGNATURE_INVALID, "prices[2].signature"),
        (lambda t: btc_tick(t, [dataclasses.replace(signed_btc([40000], t // S)[0], timestamp_s=t // S - 1),
                                *signed_btc([40000] * 3, t // S)[1:]]),
         RejectCode.ORACLE_SIGNATURE_INVALID, "prices[0].signature"),
        (lambda t: btc_tick(t, [*signed_btc([40000, 40000], t // S), dataclasses.replace(
            signed_btc([40000] * 3, t // S)[2], signature_r=12345)]), RejectCode.ORACLE_SIGNATURE_INVALID, "signature"),
        # The same signer twice, and signers out of order.
        (lambda t: btc_tick(t, signed_btc([40000, 40000], t // S) + signed_btc([40000, 40000], t // S)[1:]),
         RejectCode.ORACLE_SIGNERS_UNSORTED, "prices[2].signer_key"),
        (lambda t: btc_tick(t, list(reversed(signed_btc([40000] * 3, t // S)))),
         RejectCode.ORACLE_SIGNERS_UNSORTED, "prices[1].signer_key"),
        # ETH's signed asset id in the BTC market (a valid signature over the wrong asset).
        (lambda t: btc_tick(t, [sign_oracle_price(DEV_KEYS[k], k, ETH, 40000 * 10**18, t // S) for k in KEYS[:3]]),
         RejectCode.ORACLE_ASSET_MISMATCH, "prices[0].signed_asset_id"),
        # Stale: signed 301 s before the command; future-dated: signed 1 s after it.
        (lambda t: signed_tick(t, {"BTC-USD": usd(40000)}, signed_at_s=t // S - 301),
         RejectCode.ORACLE_PRICE_STALE, "prices[0].timestamp_s"),
        (lambda t: signed_tick(t, {"BTC-USD": usd(40000)}, signed_at_s=t // S + 1),
         RejectCode.ORACLE_PRICE_FROM_FUTURE, "prices[0].timestamp_s"),
        # Out of range fields.
        (lambda t: btc_tick(t, [dataclasses.replace(p, external_price=0) for p in signed_btc([1] * 3, t // S)]),
         RejectCode.INVALID_FIELD, "external_price"),
        # A move of more than 5% with only the normal quorum.
        (lambda t: signed_tick(t, {"BTC-USD": usd(42001)}), RejectCode.ORACLE_PRICE_MOVE_TOO_LARGE, "BTC-USD.prices"),
        (lambda t: signed_tick(t, {"BTC-USD": usd(37999)}, signers=4), RejectCode.ORACLE_PRICE_MOVE_TOO_LARGE, "prices"),
        # Unknown market, markets out of order.
        (lambda t: OraclePricesTick(t, (MarketOraclePrices("DOGE-USD", ()),)), RejectCode.UNKNOWN_MARKET, "markets"),
        (lambda t: OraclePricesTick(t, tuple(reversed(signed_tick(t, {"BTC-USD": 1, "ETH-USD": 1}).markets))),
         RejectCode.INVALID_FIELD, "markets"),
        (lambda t: OraclePricesTick(t, ()), RejectCode.INVALID_FIELD, "markets"),
    ],
)
def test_bad_ticks_are_rejected_and_change_nothing(make, code: RejectCode, field: str) -> None:  # type: ignore[no-untyped-def]
    seq = fresh()
    err = rejected(seq, make(T0 + 60 * S))
    assert err.code is code and field in err.field, err
    assert err.command == "OraclePricesTick"


def test_moves_within_the_bound_pass_and_a_strong_quorum_may_move_further() -> None:
    seq = fresh()
    assert seq.apply(signed_tick(T0 + S, {"BTC-USD": usd(42000)}))[0] == OraclePriceUpdated(
        "BTC-USD", usd(42000), T0 + S, 3)  # exactly 5%
    ev = seq.apply(signed_tick(T0 + 2 * S, {"BTC-USD": usd(30000)}, signers=5))
    assert ev == [OraclePriceUpdated("BTC-USD", usd(30000), T0 + 2 * S, 5)]


def test_a_replayed_tick_is_refused() -> None:
    seq = fresh()
    tick = signed_tick(T0 + 5 * S, {"BTC-USD": usd(40010)})
    assert isinstance(seq.apply(tick)[0], OraclePriceUpdated)
    again = dataclasses.replace(tick, timestamp_ns=T0 + 30 * S)  # the same signatures, resent later
    err = rejected(seq, again)
    assert err.code is RejectCode.ORACLE_PRICE_STALE and "not after" in err.message
    # An older (but still fresh) signed price is refused the same way.
    err = rejected(seq, signed_tick(T0 + 31 * S, {"BTC-USD": usd(40010)}, signed_at_s=T0 // S + 4))
    assert err.code is RejectCode.ORACLE_PRICE_STALE


def test_a_tick_is_atomic_across_markets() -> None:
    seq = fresh()
    good = signed_tick(T0 + S, {"BTC-USD": usd(40100)}).markets[0]
    bad = signed_tick(T0 + S, {"ETH-USD": usd(3000)}, signers=2).markets[0]
    err = rejected(seq, OraclePricesTick(T0 + S, (good, bad)))
    assert err.code is RejectCode.ORACLE_QUORUM_NOT_MET and err.field == "ETH-USD.prices"
    assert seq.state.oracle_prices == {"BTC-USD": usd(40000)}


def test_signatures_are_checked_by_the_injected_verifier_with_the_same_result() -> None:
    """An edge may pre-verify in a pool and answer from its results: same events, same hash."""
    seen: list[tuple[int, int, int, int]] = []

    def pool_backed(key: int, msg: int, r: int, s: int) -> bool:
        seen.append((key, msg, r, s))
        return verify(key, msg, r, s)

    cmds = [signed_tick(T0, {"BTC-USD": usd(40000)}), signed_tick(T0 + S, {"BTC-USD": usd(40001)}, signers=5)]
    seq = Sequencer(CONFIG, verify=pool_backed)
    for c in cmds:
        seq.apply(c)
    assert len(seen) == 8
    assert replay(CONFIG, seq.log).state_hash() == seq.state_hash()


def test_a_stale_market_refuses_new_risk_but_not_reductions_or_cancels() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"}, prices={})
    observed = clock(S)
    seq.apply(signed_tick(observed, {"BTC-USD": usd(40000)}))
    seq.apply(order(clock, 11, -1, btc("1"), usd(40000)))
    seq.apply(order(clock, 10, 1, btc("1"), usd(40000), tif=TimeInForce.IOC))  # 10 long 1, 11 short 1
    resting = seq.apply(order(clock, 11, -1, btc("0.1"), usd(41000)))[0]
    assert isinstance(resting, OrderAccepted)
    clock.ns = observed + 301 * S  # the price was observed then: now older than 300 s
    ev: list[Event] = seq.apply(order(clock, 10, 1, btc("0.1"), usd(40000)))
    assert isinstance(ev[0], OrderRejected) and ev[0].code is RejectCode.MARKET_DEGRADED
    assert seq.state.price_status("BTC-USD").stale and seq.state.oracle_stale("BTC-USD")
    # Reducing is allowed (reduce-only, or an order that cannot raise the worst exposure).
    ev = seq.apply(order(clock, 10, -1, btc("0.5"), usd(40500), reduce_only=True))
    assert isinstance(ev[0], OrderAccepted)
    assert isinstance(seq.apply(CancelAllOrders(clock(), 11))[0], OrderCanceled)
    # A fresh tick ends degraded mode.
    seq.apply(signed_tick(clock(), {"BTC-USD": usd(40000)}))
    assert not seq.state.price_status("BTC-USD").stale
    assert isinstance(seq.apply(order(clock, 10, 1, btc("0.1"), usd(39000)))[0], OrderAccepted)
    seq.state.check()


def test_signed_ticks_replay_to_the_same_hash() -> None:
    seq = fresh()
    for i in range(1, 4):
        seq.apply(signed_tick(T0 + i * S, {"BTC-USD": usd(40000 + 10 * i), "ETH-USD": usd(3000 + i)}))
    seq.apply(signed_tick(T0 + 9 * S, {"BTC-USD": usd(50000)}))  # rejected: too large a move
    assert replay(CONFIG, seq.log).state_hash() == seq.state_hash()
    assert sign_market_prices(DEV_KEYS, BTC, [usd(1)] * 3, 5) == sign_market_prices(DEV_KEYS, BTC, [usd(1)] * 3, 5)
