"""Recorded market data loaders: the shared recordings, and each public format on small files."""

from __future__ import annotations

from pathlib import Path

import pytest

from perpetua.sim.marketdata import (
    Bar,
    BookDelta,
    BookSnapshot,
    FundingRate,
    Scale,
    Trade,
    detect_format,
    load,
)
from perpetua.sim.marketdata.formats import parse_time_ns

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BTC = Scale(size=10**10)
XRP = Scale(size=10**6)

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data is beside the checkout in CI and dev")


@needs_shared
def test_btc_minute_candles() -> None:
    bars = list(load(SHARED / "btc-perp-2022-01-1m.csv", BTC, volume_in_quote=True))
    assert len(bars) == 45_031 and all(isinstance(b, Bar) for b in bars)
    first = bars[0]
    assert isinstance(first, Bar)
    assert first.timestamp_ns == parse_time_ns("2021-12-31T23:01:00Z")
    assert (first.open, first.high, first.low, first.close) == (46_319_000_000, 46_385_000_000, 46_319_000_000, 46_377_000_000)
    assert first.quote_volume == 2_300_413_729_500 and first.volume is None  # 2,300,413.7295 USD


@needs_shared
def test_trade_tape_aggressor_from_buyer_is_maker() -> None:
    trades = list(load(SHARED / "btcusdt-trades-2021-01-08.csv", BTC))
    assert len(trades) == 2001
    t0, t1 = trades[0], trades[1]
    assert isinstance(t0, Trade) and isinstance(t1, Trade)
    # 1610064000278,553287559,39432.48,0.000263,True: the buyer made, so the seller took (-1).
    assert (t0.timestamp_ns, t0.price, t0.size, t0.aggressor, t0.trade_id) == (
        1_610_064_000_278_000_000, 39_432_480_000, 2_630_000, -1, "553287559")
    assert t1.aggressor == 1


@needs_shared
def test_book_snapshots_and_bybit_l2_stream() -> None:
    snaps = list(load(SHARED / "btcusdt-perp-book25-snapshots.csv", BTC))
    assert len(snaps) == 10
    s = snaps[0]
    assert isinstance(s, BookSnapshot) and len(s.bids) == len(s.asks) == 25
    assert s.asks[0] == (11_657_080_000, 17_140_000_000) and s.bids[0] == (11_657_070_000, 108_960_000_000)
    assert s.timestamp_ns == 1_598_918_403_696_000_000
    assert all(a[0] < b[0] for a, b in zip(s.asks, s.asks[1:], strict=False))
    events = list(load(SHARED / "xrpusdt-perp-l2-2024-12-01.jsonl", XRP))
    head = events[0]
    assert isinstance(head, BookSnapshot) and head.bids[0] == (1_953_100, 6_203_000_000)
    assert all(isinstance(e, BookDelta) for e in events[1:])
    assert events[1] == BookDelta(1_733_011_200_693_000_000, 1, 1_953_100, 6_198_000_000)


@needs_shared
def test_mark_and_funding_series() -> None:
    events = list(load(SHARED / "xrp-usdt-perp-8h-mark-funding.csv", XRP))
    rates = [e for e in events if isinstance(e, FundingRate)]
    marks = [e for e in events if isinstance(e, Bar)]
    assert len(rates) == len(marks) == 91 and all(m.is_mark for m in marks)
    # Mostly 0.0001 (70 of 91 boundaries; shared/data/README.md says "every boundary", the file disagrees),
    # and the float artefact -0.0021933400000000002 becomes -2,193,340 ppb exactly.
    assert sum(r.rate_ppb == 100_000 for r in rates) == 70
    assert min(r.rate_ppb for r in rates) == -2_193_340
    assert [r.timestamp_ns for r in rates[:2]] == [parse_time_ns("2021-11-18T00:00:00Z"), parse_time_ns("2021-11-18T08:00:00Z")]
    assert rates[0].mark_price == 1_107_400


def test_binance_klines_and_aggtrades_with_and_without_header(tmp_path: Path) -> None:
    kline = "1640995200000,46216.93,46271.08,46208.37,46250.00,40.57574,1640995259999,1876424.8,1068,22.1,1022000.1,0\n"
    (tmp_path / "k.csv").write_text(kline)
    (tmp_path / "kh.csv").write_text(",".join(
        ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
         "taker_buy_volume", "taker_buy_quote_volume", "ignore")) + "\n" + kline)
    for name in ("k.csv", "kh.csv"):
        (bar,) = load(tmp_path / name, BTC)
        assert bar == Bar(1_640_995_200_000_000_000, 46_216_930_000, 46_271_080_000, 46_208_370_000,
                          46_250_000_000, volume=405_757_400_000, quote_volume=1_876_424_800_000)
    agg = "26129,0.01633102,4.70443515,27781,27781,1498793709153,true\n"
    (tmp_path / "a.csv").write_text(agg)
    (trade,) = load(tmp_path / "a.csv", XRP)
    assert trade == Trade(1_498_793_709_153_000_000, 16_331, 4_704_435, -1, "26129")


def test_tardis_formats(tmp_path: Path) -> None:
    head = "exchange,symbol,timestamp,local_timestamp"
    (tmp_path / "t.csv").write_text(f"{head},id,side,price,amount\nbinance-futures,BTCUSDT,1598918403696000,1598918403810979,77,buy,11657.08,0.5\n")
    assert list(load(tmp_path / "t.csv", BTC)) == [Trade(1_598_918_403_696_000_000, 11_657_080_000, 5_000_000_000, 1, "77")]
    (tmp_path / "l2.csv").write_text(
        f"{head},is_snapshot,side,price,amount\n"
        "deribit,BTC-PERPETUAL,1598918403696000,1598918403810979,true,ask,11660.5,1000\n"
        "deribit,BTC-PERPETUAL,1598918403697000,1598918403810979,false,bid,11650,0\n")
    assert list(load(tmp_path / "l2.csv", BTC)) == [
        BookDelta(1_598_918_403_696_000_000, -1, 11_660_500_000, 10_000_000_000_000),
        BookDelta(1_598_918_403_697_000_000, 1, 11_650_000_000, 0),
    ]
    (tmp_path / "dt.csv").write_text(
        f"{head},funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price\n"
        "bitmex,XBTUSD,1598918403696000,1,1598947200000000,0.0001,0.0002,5,11650,11651,11652.5\n"
        "bitmex,XBTUSD,1598918404696000,1,1598947200000000,0.0001,0.0002,5,11650,11651,11652.5\n"
        "bitmex,XBTUSD,1598947300000000,1,1598976000000000,-0.00005,0.0002,5,11650,11651,11640\n")
    assert list(load(tmp_path / "dt.csv", BTC)) == [
        FundingRate(1_598_947_200_000_000_000, 100_000, mark_price=11_652_500_000),
        FundingRate(1_598_976_000_000_000_000, -50_000, mark_price=11_640_000_000),
    ]


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"time_ms": [1_610_064_000_278], "trade_id": ["553287559"], "price": ["39432.48"],
                      "qty": ["0.000263"], "buyer_is_maker": ["True"]})
    pq.write_table(table, tmp_path / "t.parquet")
    assert list(load(tmp_path / "t.parquet", BTC)) == [Trade(1_610_064_000_278_000_000, 39_432_480_000, 2_630_000, -1, "553287559")]


def test_unknown_columns_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no known market-data format"):
        detect_format(["foo", "bar"])
