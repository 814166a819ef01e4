"""Orders and matching through the sequencer: golden scenarios with hand-checked numbers."""

from __future__ import annotations

from perpetua.core.commands import CancelAllOrders, CancelOrder, SetOraclePrice
from perpetua.core.errors import CancelReason, RejectCode
from perpetua.core.events import CommandRejected, OrderAccepted, OrderCanceled, OrderFilled, OrderRejected
from perpetua.core.orders import OrderStatus, TimeInForce
from tests.core.builders import btc, exchange, order, usd

BUY, SELL = 1, -1


def fills(events: list[object]) -> list[OrderFilled]:
    return [e for e in events if isinstance(e, OrderFilled)]


def test_fill_moves_collateral_and_fees_exactly() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    seq.apply(order(clock, 10, SELL, btc("0.0013"), usd(40001)))
    ev = seq.apply(order(clock, 11, BUY, btc("0.0013"), usd(40001), tif=TimeInForce.IOC))
    (f,) = fills(ev)
    # 0.0013 BTC x 40,001 = 52.0013 USDC. Taker 0.05% = 0.02600065 -> 26,001 quantums (rounded up);
    # maker 0.02% = 0.01040026 -> 10,401.
    assert (f.price, f.size, f.taker_fee, f.maker_fee) == (usd(40001), btc("0.0013"), 26_001, 10_401)
    s = seq.state
    assert s.accounts[11].collateral == usd(100000) - 52_001_300 - 26_001
    assert s.accounts[10].collateral == usd(100000) + 52_001_300 - 10_401
    assert s.fee_account.collateral == 36_402
    assert s.accounts[11].size("BTC-USD") == btc("0.0013") == -s.accounts[10].size("BTC-USD")
    s.check()


def test_price_time_priority_and_partial_fills() -> None:
    seq, clock = exchange({10: "100000", 11: "100000", 12: "100000", 13: "100000"})
    a = seq.apply(order(clock, 10, SELL, btc("0.5"), usd(40010)))[0]
    b = seq.apply(order(clock, 11, SELL, btc("0.5"), usd(40005)))[0]  # better price, later
    c = seq.apply(order(clock, 12, SELL, btc("0.5"), usd(40005)))[0]  # same price, later still
    assert isinstance(a, OrderAccepted) and isinstance(b, OrderAccepted) and isinstance(c, OrderAccepted)
    ev = seq.apply(order(clock, 13, BUY, btc("1.2"), usd(40010)))
    got = [(f.maker_order_id, f.price, f.size) for f in fills(ev)]
    assert got == [
        (b.order_id, usd(40005), btc("0.5")),
        (c.order_id, usd(40005), btc("0.5")),
        (a.order_id, usd(40010), btc("0.2")),
    ]
    s = seq.state
    assert s.orders[a.order_id].remaining == btc("0.3")  # partially filled, still resting
    assert s.books["BTC-USD"].best_ask() == usd(40010)
    assert s.books["BTC-USD"].best_bid() is None  # the taker filled completely: nothing rests
    s.check()


def test_gtt_remainder_rests_and_the_book_never_crosses() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    seq.apply(order(clock, 10, SELL, btc("0.2"), usd(40000)))
    ev = seq.apply(order(clock, 11, BUY, btc("0.5"), usd(40002)))
    assert sum(f.size for f in fills(ev)) == btc("0.2")
    book = seq.state.books["BTC-USD"]
    assert book.best_bid() == usd(40002) and book.best_ask() is None
    assert book.bids.levels[usd(40002)].size == btc("0.3")
    seq.state.check()


def test_ioc_remainder_is_canceled() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    seq.apply(order(clock, 10, SELL, btc("0.2"), usd(40000)))
    ev = seq.apply(order(clock, 11, BUY, btc("0.5"), usd(40000), tif=TimeInForce.IOC))
    cancel = ev[-1]
    assert isinstance(cancel, OrderCanceled)
    assert (cancel.reason, cancel.remaining) == (CancelReason.IOC_REMAINDER, btc("0.3"))
    assert seq.state.books["BTC-USD"].best_bid() is None


def test_fok_fills_completely_or_changes_nothing() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    seq.apply(order(clock, 10, SELL, btc("0.2"), usd(40000)))
    seq.apply(order(clock, 10, SELL, btc("0.2"), usd(40050)))
    before = seq.state.canonical()
    ev = seq.apply(order(clock, 11, BUY, btc("0.5"), usd(40100), tif=TimeInForce.FOK))
    assert not fills(ev)
    assert isinstance(ev[-1], OrderCanceled) and ev[-1].reason is CancelReason.FOK_NOT_FILLABLE
    after = seq.state.canonical()
    # Only the clock and the order-id counter moved: no fill, no book change, no balance change.
    assert after[3:] == before[3:] and after[2] == before[2]
    ev = seq.apply(order(clock, 11, BUY, btc("0.4"), usd(40100), tif=TimeInForce.FOK))
    assert sum(f.size for f in fills(ev)) == btc("0.4")


def test_post_only_that_would_cross_is_rejected_without_state_change() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    seq.apply(order(clock, 10, SELL, btc("0.2"), usd(40000)))
    h = seq.state.canonical()[1:]
    (ev,) = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(40000), post_only=True))
    assert isinstance(ev, OrderRejected) and ev.code.value == "POST_ONLY_WOULD_CROSS" and ev.field == "post_only"
    assert seq.state.canonical()[1:] == h
    (ev,) = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(39999), post_only=True))
    assert isinstance(ev, OrderAccepted)


def test_self_trade_cancels_the_resting_order_and_matching_continues() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    own = seq.apply(order(clock, 10, SELL, btc("0.1"), usd(40000)))[0]
    seq.apply(order(clock, 11, SELL, btc("0.1"), usd(40001)))
    ev = seq.apply(order(clock, 10, BUY, btc("0.1"), usd(40001)))
    canceled = [e for e in ev if isinstance(e, OrderCanceled)]
    assert [(c.order_id, c.reason) for c in canceled] == [(own.order_id, CancelReason.SELF_TRADE)]
    (f,) = fills(ev)
    assert f.maker_position_id == 11 and f.price == usd(40001)
    seq.state.check()


def test_reduce_only_never_grows_a_position() -> None:
    seq, clock = exchange({10: "100000", 11: "100000", 12: "100000"})
    (ev,) = seq.apply(order(clock, 10, SELL, btc("0.1"), usd(40000), tif=TimeInForce.IOC, reduce_only=True))
    assert isinstance(ev, OrderRejected) and ev.code.value == "REDUCE_ONLY_WOULD_INCREASE"
    # Account 10 goes long 0.3, then a reduce-only sell of 1.0 closes only the 0.3.
    seq.apply(order(clock, 11, SELL, btc("0.3"), usd(40000)))
    seq.apply(order(clock, 10, BUY, btc("0.3"), usd(40000), tif=TimeInForce.IOC))
    seq.apply(order(clock, 12, BUY, btc("1"), usd(39990)))
    ev = seq.apply(order(clock, 10, SELL, btc("1"), usd(39000), tif=TimeInForce.IOC, reduce_only=True))
    assert sum(f.size for f in fills(ev)) == btc("0.3")
    assert seq.state.accounts[10].size("BTC-USD") == 0
    assert isinstance(ev[-1], OrderCanceled) and ev[-1].reason is CancelReason.REDUCE_ONLY


def test_cancel_is_idempotent_and_cancel_all_clears_a_market() -> None:
    seq, clock = exchange({10: "100000"})
    o1 = seq.apply(order(clock, 10, BUY, btc("0.1"), usd(39000)))[0]
    seq.apply(order(clock, 10, BUY, btc("0.1"), usd(39001)))
    seq.apply(order(clock, 10, SELL, btc("1"), usd(3100), market="ETH-USD"))
    assert isinstance(o1, OrderAccepted)
    ev = seq.apply(CancelOrder(clock(), 10, o1.order_id))
    assert isinstance(ev[0], OrderCanceled) and ev[0].reason is CancelReason.USER_CANCELED
    h = seq.state.canonical()[1:]
    (again,) = seq.apply(CancelOrder(clock(), 10, o1.order_id))
    assert isinstance(again, CommandRejected) and again.code is RejectCode.ORDER_NOT_OPEN
    assert seq.state.canonical()[1:] == h
    ev = seq.apply(CancelAllOrders(clock(), 10, "BTC-USD"))
    assert len(ev) == 1 and seq.state.books["BTC-USD"].best_bid() is None
    assert seq.state.books["ETH-USD"].best_ask() == usd(3100)
    seq.apply(CancelAllOrders(clock(), 10))
    assert not seq.state.accounts[10].open_orders
    seq.state.check()


def test_gtt_orders_expire_at_their_time() -> None:
    seq, clock = exchange({10: "100000", 11: "100000"})
    t = clock()
    o = seq.apply(order(clock, 10, SELL, btc("0.1"), usd(40000), expires_at_ns=t + 10_000))[0]
    assert isinstance(o, OrderAccepted)
    clock(20_000)
    ev = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(40000), tif=TimeInForce.IOC))
    assert isinstance(ev[0], OrderCanceled) and ev[0].reason is CancelReason.EXPIRED
    assert not fills(ev)
    seq.state.check()


def test_order_margin_blocks_overleverage_and_max_position() -> None:
    seq, clock = exchange({10: "1000", 11: "1000000"})
    # 1,000 USDC at 4% IMF carries 25,000 of notional: 0.6 BTC (24,000) plus fees fits, 0.7 does not.
    ok = seq.apply(order(clock, 10, BUY, btc("0.6"), usd(40000)))[0]
    assert isinstance(ok, OrderAccepted)
    (no,) = seq.apply(order(clock, 10, BUY, btc("0.1"), usd(40000)))
    assert isinstance(no, OrderRejected) and no.code.value == "INSUFFICIENT_MARGIN" and no.field == "size"
    # A sell that only offsets the resting buy does not raise the worst case: always admitted.
    ok = seq.apply(order(clock, 10, SELL, btc("0.6"), usd(41000)))[0]
    assert isinstance(ok, OrderAccepted)
    (big,) = seq.apply(order(clock, 11, BUY, btc("171"), usd(40000)))
    assert isinstance(big, OrderRejected) and big.code.value == "MAX_POSITION_SIZE"


def test_a_maker_that_may_no_longer_take_the_fill_is_canceled() -> None:
    seq, clock = exchange({10: "1000", 11: "1000000", 12: "1000000"})
    maker = seq.apply(order(clock, 10, BUY, btc("0.6"), usd(40000)))[0]
    assert isinstance(maker, OrderAccepted)
    seq.apply(order(clock, 12, BUY, btc("0.1"), usd(39990)))
    # The oracle falls 3%: account 10 could no longer carry 0.6 BTC at initial margin.
    seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(38800)))
    ev = seq.apply(order(clock, 11, SELL, btc("0.6"), usd(39990), tif=TimeInForce.IOC))
    canceled = [e for e in ev if isinstance(e, OrderCanceled)]
    assert canceled[0].order_id == maker.order_id and canceled[0].reason is CancelReason.UNDERMARGINED
    assert fills(ev)[0].maker_position_id == 12
    assert seq.state.accounts[10].size("BTC-USD") == 0
    seq.state.check()


def test_market_order_needs_ioc_or_fok_and_respects_its_worst_price() -> None:
    from perpetua.core.orders import OrderType

    seq, clock = exchange({10: "100000", 11: "100000"})
    seq.apply(order(clock, 10, SELL, btc("0.1"), usd(40000)))
    seq.apply(order(clock, 10, SELL, btc("0.1"), usd(40100)))
    (rej,) = seq.apply(order(clock, 11, BUY, btc("0.2"), usd(40050), order_type=OrderType.MARKET))
    assert isinstance(rej, OrderRejected) and rej.field == "time_in_force"
    ev = seq.apply(order(clock, 11, BUY, btc("0.2"), usd(40050), order_type=OrderType.MARKET, tif=TimeInForce.IOC))
    assert [f.price for f in fills(ev)] == [usd(40000)]
    assert seq.state.orders.get(ev[0].order_id) is None  # type: ignore[union-attr]
    assert all(o.status is OrderStatus.OPEN for o in seq.state.orders.values())
