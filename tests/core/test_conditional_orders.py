"""Stop, take-profit and trailing-stop orders: when they fire, on which price, and what they become."""

from __future__ import annotations

from perpetua.core.commands import CancelOrder, SetOraclePrice
from perpetua.core.events import OrderAccepted, OrderCanceled, OrderFilled, OrderRejected, OrderTriggered
from perpetua.core.orders import OrderStatus, OrderType, TimeInForce, TriggerSource
from tests.core.builders import btc, exchange, order, usd

BUY, SELL = 1, -1


def book_with_liquidity(prices: tuple[int, ...] = (39000, 39500, 40500, 41000)):  # type: ignore[no-untyped-def]
    seq, clock = exchange({10: "1000000", 11: "100000", 12: "100000"})
    for px in prices:
        side = BUY if px < 40000 else SELL
        seq.apply(order(clock, 10, side, btc("1"), usd(px)))
    return seq, clock


def test_stop_market_sell_fires_on_the_oracle_price_and_sells_into_the_book() -> None:
    seq, clock = book_with_liquidity()
    seq.apply(order(clock, 11, BUY, btc("0.5"), usd(40500), tif=TimeInForce.IOC))  # long 0.5
    stop = seq.apply(order(clock, 11, SELL, btc("0.5"), usd(38000), order_type=OrderType.STOP_MARKET,
                           tif=TimeInForce.IOC, trigger_price=usd(39200), trigger_source=TriggerSource.ORACLE,
                           reduce_only=True))[0]
    assert isinstance(stop, OrderAccepted) and stop.untriggered
    assert seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(39300)))[1:] == []  # above the trigger: nothing
    ev = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(39200)))
    trig = [e for e in ev if isinstance(e, OrderTriggered)]
    assert [(t.order_id, t.trigger_price) for t in trig] == [(stop.order_id, usd(39200))]
    assert [(f.price, f.size) for f in ev if isinstance(f, OrderFilled)] == [(usd(39500), btc("0.5"))]
    assert seq.state.accounts[11].size("BTC-USD") == 0
    seq.state.check()


def test_stop_limit_buy_on_the_mark_price_becomes_a_resting_limit() -> None:
    seq, clock = book_with_liquidity()
    o = seq.apply(order(clock, 11, BUY, btc("0.2"), usd(40200), order_type=OrderType.STOP_LIMIT,
                        trigger_price=usd(40100)))[0]
    assert isinstance(o, OrderAccepted)
    # Mark = median(oracle, bid, ask) clamped to oracle +/- 1%. Oracle 40,150 -> mark 40,150 >= 40,100.
    ev = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(40150)))
    assert any(isinstance(e, OrderTriggered) for e in ev)
    resting = seq.state.orders[o.order_id]
    assert resting.status is OrderStatus.OPEN and seq.state.books["BTC-USD"].best_bid() == usd(40200)


def test_take_profit_sell_fires_when_the_price_rises_to_it() -> None:
    seq, clock = book_with_liquidity()
    seq.apply(order(clock, 11, BUY, btc("0.5"), usd(40500), tif=TimeInForce.IOC))
    tp = seq.apply(order(clock, 11, SELL, btc("0.5"), usd(39000), order_type=OrderType.TAKE_PROFIT_MARKET,
                         tif=TimeInForce.IOC, trigger_price=usd(40300), trigger_source=TriggerSource.ORACLE))[0]
    assert isinstance(tp, OrderAccepted)
    assert not any(isinstance(e, OrderTriggered) for e in seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(39000))))
    ev = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(40300)))
    assert any(isinstance(e, OrderTriggered) for e in ev)
    assert seq.state.accounts[11].size("BTC-USD") == 0


def test_trailing_stop_follows_the_high_and_fires_on_the_pullback() -> None:
    seq, clock = book_with_liquidity()
    seq.apply(order(clock, 11, BUY, btc("0.5"), usd(40500), tif=TimeInForce.IOC))
    ts = seq.apply(order(clock, 11, SELL, btc("0.5"), usd(30000), order_type=OrderType.TRAILING_STOP,
                         tif=TimeInForce.IOC, trailing_ppm=20_000, trigger_source=TriggerSource.ORACLE))[0]
    assert isinstance(ts, OrderAccepted)
    seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(42000)))  # new high: fires at 42,000 * 0.98 = 41,160
    assert seq.state.orders[ts.order_id].trail_reference == usd(42000)
    ev = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(41200)))
    assert not any(isinstance(e, OrderTriggered) for e in ev)
    ev = seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(41160)))
    assert any(isinstance(e, OrderTriggered) for e in ev)
    assert seq.state.accounts[11].size("BTC-USD") == 0


def test_a_trigger_already_reached_is_refused_and_untriggered_orders_cancel() -> None:
    seq, clock = book_with_liquidity()
    h = seq.state.canonical()[1:]
    (rej,) = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(40100), order_type=OrderType.STOP_LIMIT,
                             trigger_price=usd(39900), trigger_source=TriggerSource.ORACLE))
    assert isinstance(rej, OrderRejected) and rej.code.value == "TRIGGER_ALREADY_CROSSED"
    assert rej.field == "trigger_price" and seq.state.canonical()[1:] == h
    o = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(40100), order_type=OrderType.STOP_LIMIT,
                        trigger_price=usd(40100)))[0]
    assert isinstance(o, OrderAccepted)
    ev = seq.apply(CancelOrder(clock(), 11, o.order_id))
    assert isinstance(ev[0], OrderCanceled)
    assert not any(isinstance(e, OrderTriggered) for e in seq.apply(SetOraclePrice(clock(), "BTC-USD", usd(40500))))
    seq.state.check()


def test_stop_on_the_mark_price_fires_when_the_book_moves_the_mark_under_a_signed_oracle() -> None:
    """Signed oracle 40,000; book 39,000 / 40,500 -> mark = median(40,000, 39,000, 40,500) = 40,000.
    A new bid at 40,300 makes the mark median(40,000, 40,300, 40,500) = 40,300 (inside the 1% band,
    40,400): the MARK stop at 40,200 fires; the same stop on the ORACLE price does not."""
    from perpetua.core.events import OraclePriceUpdated
    from tests.core.builders import S, signed_tick

    seq, clock = exchange({10: "1000000", 11: "100000", 12: "100000"}, prices={})
    assert isinstance(seq.apply(signed_tick(clock(S), {"BTC-USD": usd(40000)}))[0], OraclePriceUpdated)
    for px in (39000, 40500):
        seq.apply(order(clock, 10, BUY if px < 40000 else SELL, btc("1"), usd(px)))
    assert seq.state.mark_price("BTC-USD") == usd(40000)
    on_mark = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(40500), order_type=OrderType.STOP_MARKET,
                              tif=TimeInForce.IOC, trigger_price=usd(40200)))[0]
    on_oracle = seq.apply(order(clock, 11, BUY, btc("0.1"), usd(40500), order_type=OrderType.STOP_MARKET,
                                tif=TimeInForce.IOC, trigger_price=usd(40200), trigger_source=TriggerSource.ORACLE))[0]
    assert isinstance(on_mark, OrderAccepted) and isinstance(on_oracle, OrderAccepted)
    ev = seq.apply(order(clock, 12, BUY, btc("0.2"), usd(40300)))
    assert seq.state.mark_price("BTC-USD") == usd(40300)
    assert [(e.order_id, e.trigger_price) for e in ev if isinstance(e, OrderTriggered)] == [
        (on_mark.order_id, usd(40300))]
    assert [(f.price, f.size) for f in ev if isinstance(f, OrderFilled)] == [(usd(40500), btc("0.1"))]
    assert seq.state.orders[on_oracle.order_id].status is OrderStatus.UNTRIGGERED
    seq.state.check()
