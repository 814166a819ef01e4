"""File formats of recorded market data, each a function from rows to events.

Every format works on rows (a mapping column -> text), so CSV and Parquet share the parsing. A format
declares the header columns that identify it; ``detect_format`` picks the first whose columns are all
present (or, for header-less Binance files, the column count). Formats:

| name | source | events |
|---|---|---|
| ``candles`` | ``timestamp|time,open,high,low,close,volume`` (shared/data, freqtrade exports) | Bar |
| ``mark_funding`` | ``time,mark_open,...,mark_close,funding_rate`` | Bar (mark) + FundingRate |
| ``trade_tape`` | ``time_ms,trade_id,price,qty,buyer_is_maker`` | Trade |
| ``binance_klines`` | Binance public data klines (12 columns, header optional) | Bar |
| ``binance_aggtrades`` | Binance public data aggTrades (7 columns, header optional) | Trade |
| ``tardis_trades`` | Tardis ``trades`` | Trade |
| ``tardis_book_snapshot_25`` | Tardis ``book_snapshot_25`` (also any ``asks[i].price`` depth) | BookSnapshot |
| ``tardis_incremental_book_l2`` | Tardis ``incremental_book_L2`` | BookDelta |
| ``tardis_derivative_ticker`` | Tardis ``derivative_ticker`` | FundingRate (when it changes) |
| ``bybit_orderbook_jsonl`` | Bybit ``orderbook.N`` messages, one JSON object a line | BookSnapshot, BookDelta |

Parquet files (``.parquet``) are read with pyarrow when it is installed and parsed by the format
their columns identify.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from perpetua.sim.marketdata.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    FundingRate,
    MarketEvent,
    Scale,
    Trade,
)

Row = Mapping[str, str]

BINANCE_KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
BINANCE_AGGTRADE_COLUMNS = (
    "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker",
)


def parse_time_ns(text: str) -> int:
    """Nanoseconds since the epoch from ISO 8601 / ``YYYY-MM-DD HH:MM:SS[.f]`` (UTC when no zone) or
    from an integer in s, ms, us or ns (told apart by magnitude)."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        value = int(text)
        for limit, factor in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
            if abs(value) < limit:
                return value * factor
        return value
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "t", "yes")


def _rate_ppb(text: str) -> int:
    return int((Decimal(text) * 10**9).to_integral_value())


# -- formats over rows ---------------------------------------------------------------------------


def candles(rows: Iterable[Row], scale: Scale, volume_in_quote: bool = False) -> Iterator[MarketEvent]:
    for r in rows:
        ts = parse_time_ns(r.get("timestamp") or r.get("time") or r["date"])
        vol = r.get("volume")
        yield Bar(
            ts, scale.to_price(r["open"]), scale.to_price(r["high"]), scale.to_price(r["low"]),
            scale.to_price(r["close"]),
            volume=None if vol is None or volume_in_quote else scale.to_size(vol),
            quote_volume=scale.to_price(vol) if vol is not None and volume_in_quote else None,
        )


def mark_funding(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    for r in rows:
        ts = parse_time_ns(r["time"])
        mark_close = scale.to_price(r["mark_close"])
        yield Bar(ts, scale.to_price(r["mark_open"]), scale.to_price(r["mark_high"]),
                  scale.to_price(r["mark_low"]), mark_close, is_mark=True)
        if r.get("funding_rate", "") != "":
            yield FundingRate(ts, _rate_ppb(r["funding_rate"]), mark_price=mark_close)


def trade_tape(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    for r in rows:
        yield Trade(parse_time_ns(r["time_ms"]), scale.to_price(r["price"]), scale.to_size(r["qty"]),
                    -1 if _truthy(r["buyer_is_maker"]) else 1, r.get("trade_id", ""))


def binance_klines(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    for r in rows:
        yield Bar(parse_time_ns(r["open_time"]), scale.to_price(r["open"]), scale.to_price(r["high"]),
                  scale.to_price(r["low"]), scale.to_price(r["close"]), volume=scale.to_size(r["volume"]),
                  quote_volume=scale.to_price(r["quote_volume"]))


def binance_aggtrades(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    for r in rows:
        yield Trade(parse_time_ns(r["transact_time"]), scale.to_price(r["price"]), scale.to_size(r["quantity"]),
                    -1 if _truthy(r["is_buyer_maker"]) else 1, r["agg_trade_id"])


def tardis_trades(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    sides = {"buy": 1, "sell": -1}
    for r in rows:
        yield Trade(parse_time_ns(r["timestamp"]), scale.to_price(r["price"]), scale.to_size(r["amount"]),
                    sides.get(r["side"].strip().lower(), 0), r.get("id", ""))


def tardis_book_snapshot(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    for r in rows:
        levels: dict[str, list[tuple[int, int]]] = {"bids": [], "asks": []}
        for side in levels:
            i = 0
            while f"{side}[{i}].price" in r:
                price, amount = r[f"{side}[{i}].price"], r[f"{side}[{i}].amount"]
                if price not in ("", None):
                    levels[side].append((scale.to_price(price), scale.to_size(amount)))
                i += 1
        yield BookSnapshot(parse_time_ns(r["timestamp"]), tuple(levels["bids"]), tuple(levels["asks"]))


def tardis_incremental_book(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    sides = {"bid": 1, "ask": -1}
    for r in rows:
        yield BookDelta(parse_time_ns(r["timestamp"]), sides[r["side"].strip().lower()],
                        scale.to_price(r["price"]), scale.to_size(r["amount"]))


def tardis_derivative_ticker(rows: Iterable[Row], scale: Scale) -> Iterator[MarketEvent]:
    last: tuple[str, str] | None = None
    for r in rows:
        key = (r.get("funding_timestamp", ""), r.get("funding_rate", ""))
        if key[1] in ("", None) or key == last:
            continue
        last = key
        ts = parse_time_ns(key[0]) if key[0] else parse_time_ns(r["timestamp"])
        mark = r.get("mark_price") or ""
        yield FundingRate(ts, _rate_ppb(key[1]), mark_price=scale.to_price(mark) if mark else None)


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    columns: tuple[str, ...]
    """Columns that identify the format (all must be present)."""
    parse: Callable[..., Iterator[MarketEvent]]


FORMATS: tuple[Format, ...] = (
    Format("mark_funding", ("time", "mark_open", "mark_close", "funding_rate"), mark_funding),
    Format("trade_tape", ("time_ms", "price", "qty", "buyer_is_maker"), trade_tape),
    Format("binance_klines", ("open_time", "open", "close", "quote_volume"), binance_klines),
    Format("binance_aggtrades", ("agg_trade_id", "transact_time", "is_buyer_maker"), binance_aggtrades),
    Format("tardis_book_snapshot_25", ("timestamp", "asks[0].price", "bids[0].price"), tardis_book_snapshot),
    Format("tardis_incremental_book_l2", ("timestamp", "is_snapshot", "side", "price", "amount"), tardis_incremental_book),
    Format("tardis_derivative_ticker", ("timestamp", "funding_timestamp", "funding_rate"), tardis_derivative_ticker),
    Format("tardis_trades", ("timestamp", "id", "side", "price", "amount"), tardis_trades),
    Format("candles", ("open", "high", "low", "close"), candles),
)
_BY_NAME = {f.name: f for f in FORMATS}


def detect_format(columns: Iterable[str]) -> str:
    """The name of the first format whose identifying columns are all present."""
    present = set(columns)
    for fmt in FORMATS:
        if present.issuperset(fmt.columns):
            return fmt.name
    raise ValueError(f"no known market-data format has the columns {sorted(present)}")


def _csv_rows(path: Path) -> tuple[list[str], Iterator[Row]]:
    handle = path.open(newline="")
    reader = csv.reader(handle)
    first = next(reader)

    def rows(columns: list[str], pending: list[str] | None) -> Iterator[Row]:
        try:
            if pending is not None:
                yield dict(zip(columns, pending, strict=False))
            for values in reader:
                if values:
                    yield dict(zip(columns, values, strict=False))
        finally:
            handle.close()

    if first and first[0].strip().lstrip("-").isdigit():  # a header-less Binance file
        columns = list(BINANCE_KLINE_COLUMNS if len(first) == len(BINANCE_KLINE_COLUMNS) else BINANCE_AGGTRADE_COLUMNS)
        return columns, rows(columns, first)
    return first, rows(first, None)


def _bybit_jsonl(path: Path, scale: Scale) -> Iterator[MarketEvent]:
    with path.open() as handle:
        for line in handle:
            if not line.strip():
                continue
            msg = json.loads(line)
            ts = int(msg["ts"]) * 10**6
            data = msg["data"]
            bids = tuple((scale.to_price(p), scale.to_size(s)) for p, s in data.get("b", []))
            asks = tuple((scale.to_price(p), scale.to_size(s)) for p, s in data.get("a", []))
            if msg["type"] == "snapshot":
                yield BookSnapshot(ts, bids, asks)
            else:
                for price, size in bids:
                    yield BookDelta(ts, 1, price, size)
                for price, size in asks:
                    yield BookDelta(ts, -1, price, size)


def load(path: str | Path, scale: Scale | None = None, fmt: str | None = None, **options: bool) -> Iterator[MarketEvent]:
    """Events of a recorded file, in file order. ``fmt`` overrides detection; ``options`` go to the
    format (``volume_in_quote=True`` for candles whose volume is in the quote currency)."""
    path = Path(path)
    scale = scale or Scale()
    if path.suffix == ".jsonl" or fmt == "bybit_orderbook_jsonl":
        return _bybit_jsonl(path, scale)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # optional dependency: only Parquet input needs it

        table = pq.read_table(path)
        columns = table.column_names
        rows: Iterable[Row] = (
            {k: "" if v is None else str(v) for k, v in rec.items()} for rec in table.to_pylist()
        )
    else:
        columns, rows = _csv_rows(path)
    return _BY_NAME[fmt or detect_format(columns)].parse(rows, scale, **options)
