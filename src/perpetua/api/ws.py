"""WebSocket /v3/ws: v3_orderbook (snapshot, then deltas with offsets), v3_trades, v3_markets and the
authenticated v3_accounts channel, shaped like dYdX v3.

Offsets are journal sequence numbers: they increase across restarts. An order-book delta lists each
changed price level with its new total size ("0" removes the level).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from perpetua.api.exchange import Exchange
from perpetua.api.hub import Connection, Hub
from perpetua.api.v3format import (
    account_json,
    fill_json,
    iso,
    market_json,
    market_status,
    order_json,
    size_text,
    trade_json,
    usd,
)
from perpetua.core.events import (
    Event,
    FundingRateUpdated,
    OraclePriceUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
)
from perpetua.crypto.api_auth import ApiKeyCredentials, authenticate_request
from perpetua.crypto.errors import CryptoError
from perpetua.store.journal import JournalRecord

router = APIRouter()
MAX_MESSAGE_BYTES = 4096
Levels = tuple[dict[int, int], dict[int, int]]


class Publisher:
    """Turns each committed batch into channel messages (an ``Exchange`` listener)."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.hub: Hub = ex.hub
        self.levels: dict[str, Levels] = {}
        """Last published levels of each market that has order-book subscribers."""

    def book_levels(self, market: str) -> Levels:
        book = self.ex.sequencer.state.books[market]
        return (
            {p: lv.size for p, lv in book.bids.levels.items()},
            {p: lv.size for p, lv in book.asks.levels.items()},
        )

    def __call__(self, records: Sequence[JournalRecord], events: Sequence[list[Event]]) -> None:
        hub, ex = self.hub, self.ex
        offset = str(records[-1].seq)
        touched: set[str] = set()
        trades: dict[str, list[dict[str, Any]]] = {}
        accounts: set[int] = set()
        fills: dict[int, list[OrderFilled]] = {}
        prices: set[str] = set()
        for rec, evs in zip(records, events, strict=True):
            for ev in evs:
                if isinstance(ev, OrderFilled):
                    touched.add(ev.market_id)
                    m = ex.config.markets[ev.market_id]
                    trades.setdefault(ev.market_id, []).append(trade_json(
                        {"side": ev.taker_side, "size": ev.size, "price": ev.price, "created_ns": rec.command.timestamp_ns}, m))
                    accounts.update((ev.taker_position_id, ev.maker_position_id))
                    fills.setdefault(ev.taker_position_id, []).append(ev)
                    fills.setdefault(ev.maker_position_id, []).append(ev)
                elif isinstance(ev, OrderAccepted | OrderCanceled):
                    touched.add(ev.market_id)
                    accounts.add(ev.position_id)
                elif isinstance(ev, OrderTriggered):
                    touched.add(ev.market_id)
                elif isinstance(ev, OraclePriceUpdated | FundingRateUpdated):
                    prices.add(ev.market_id)
            pid = getattr(rec.command, "position_id", None)
            if isinstance(pid, int):
                accounts.add(pid)
        for market in touched:
            if not hub.has("v3_orderbook", market):
                self.levels.pop(market, None)
                continue
            old = self.levels.get(market) or ({}, {})
            new = self.book_levels(market)
            self.levels[market] = new
            m = ex.config.markets[market]
            sides = []
            for before, after in zip(old, new, strict=True):
                changed = [p for p in after if before.get(p) != after[p]] + [p for p in before if p not in after]
                sides.append([[usd(p), size_text(after.get(p, 0), m)] for p in sorted(changed)])
            if sides[0] or sides[1]:
                hub.publish("v3_orderbook", market, {"offset": offset, "bids": sides[0], "asks": sides[1]})
        for market, items in trades.items():
            hub.publish("v3_trades", market, {"trades": items})
        if hub.has("v3_markets", "") and (prices or touched):
            state = ex.sequencer.state
            contents = {}
            for mid in sorted(prices | touched):
                st = market_status(state, ex.config.markets[mid])
                contents[mid] = {
                    "oraclePrice": st["oraclePrice"] or "0", "indexPrice": st["indexPrice"] or "0",
                    "openInterest": size_text(state.open_interest(mid), ex.config.markets[mid]),
                    "status": st["status"], "nextFundingRate": st["nextFundingRate"], "nextFundingAt": st["nextFundingAt"],
                }
            hub.publish("v3_markets", "", contents)
        for pid in accounts:
            row = ex.read.account_by_position(pid)
            if row is None or not hub.has("v3_accounts", str(row["account_id"])):
                continue
            self.publish_account(row, fills.get(pid, []))

    def publish_account(self, row: dict[str, Any], fills: list[OrderFilled]) -> None:
        ex = self.ex
        state = ex.sequencer.state
        acct = state.accounts[int(row["position_id"])]
        orders = ex.read.orders(acct.position_id, limit=20)
        fill_rows = ex.read.fills(acct.position_id, limit=len(fills)) if fills else []
        account = account_json(state, acct, row, ex.read.open_positions(acct.position_id))
        self.hub.publish("v3_accounts", str(row["account_id"]), {
            "accounts": [account],
            "orders": [order_json(o, ex.config.markets, row["account_id"]) for o in orders],
            "fills": [fill_json(f, ex.config.markets) for f in fill_rows],
            "positions": list(account["openPositions"].values()),
        })


def _error(conn: Connection, message: str) -> None:
    conn.send({"type": "error", "connection_id": conn.connection_id, "message": message})


def _subscribe_accounts(ex: Exchange, conn: Connection, msg: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    fields = ("apiKey", "passphrase", "timestamp", "signature")
    if any(not isinstance(msg.get(f), str) for f in fields):
        _error(conn, "v3_accounts needs apiKey, passphrase, timestamp and signature strings")
        return None
    key_row = ex.read.api_key(msg["apiKey"])
    if key_row is None:
        _error(conn, "apiKey: unknown API key")
        return None
    try:
        authenticate_request(
            ApiKeyCredentials(key_row["key"], key_row["secret"], key_row["passphrase"]),
            api_key=msg["apiKey"], passphrase=msg["passphrase"], timestamp=msg["timestamp"],
            signature=msg["signature"], method="GET", request_target="/ws/accounts", raw_body="",
            now_ms=time.time_ns() // 1_000_000,
        )
    except CryptoError as err:
        _error(conn, str(err))
        return None
    number = str(msg.get("accountNumber", "0"))
    row = ex.read.account(key_row["eth_address"], int(number)) if number.isdigit() and len(number) < 7 else None
    if row is None:
        _error(conn, "accountNumber: no such account")
        return None
    state = ex.sequencer.state
    acct = state.accounts[int(row["position_id"])]
    contents = {
        "account": account_json(state, acct, row, ex.read.open_positions(acct.position_id)),
        "orders": [order_json(o, ex.config.markets, row["account_id"])
                   for o in ex.read.orders(acct.position_id, statuses=["OPEN", "UNTRIGGERED"])],
        "transfers": [],
        "fundingPayments": [],
    }
    return str(row["account_id"]), contents


def _subscribe(ex: Exchange, publisher: Publisher, conn: Connection, msg: dict[str, Any]) -> None:
    channel = msg.get("channel")
    ident = msg.get("id", "")
    if not isinstance(ident, str) or len(ident) > 40:
        _error(conn, "id: must be a string")
        return
    contents: dict[str, Any]
    state = ex.sequencer.state
    if channel in ("v3_orderbook", "v3_trades"):
        m = ex.config.markets.get(ident)
        if m is None:
            _error(conn, f"id: unknown market {ident!r}")
            return
        if channel == "v3_orderbook":
            if not ex.hub.has("v3_orderbook", ident):
                publisher.levels[ident] = publisher.book_levels(ident)
            bids, asks = publisher.levels[ident]
            offset = str(ex.seq)
            contents = {
                "offset": offset,
                "bids": [{"price": usd(p), "size": size_text(s, m), "offset": offset} for p, s in sorted(bids.items(), reverse=True)],
                "asks": [{"price": usd(p), "size": size_text(s, m), "offset": offset} for p, s in sorted(asks.items())],
            }
        else:
            contents = {"trades": [trade_json(r, m) for r in ex.read.trades(ident, 100)]}
    elif channel == "v3_markets":
        ident = ""
        contents = {"markets": {mid: market_json(state, m) for mid, m in sorted(ex.config.markets.items())}}
    elif channel == "v3_accounts":
        answer = _subscribe_accounts(ex, conn, msg)
        if answer is None:
            return
        ident, contents = answer
    else:
        _error(conn, f"channel: unknown channel {str(channel)[:40]!r}")
        return
    ex.hub.subscribe(conn, str(channel), ident)
    conn.send({"type": "subscribed", "connection_id": conn.connection_id, "channel": channel, "id": ident,
               "contents": contents})


@router.websocket("/v3/ws")
async def websocket_endpoint(ws: WebSocket) -> None:
    ex: Exchange = ws.app.state.exchange
    publisher: Publisher = ws.app.state.publisher
    await ws.accept()
    conn = Connection(str(uuid.uuid4()))
    await ws.send_text(json.dumps({"type": "connected", "connection_id": conn.connection_id, "message_id": 0}))

    async def sender() -> None:
        while True:
            text = await conn.queue.get()
            if text is None:
                await ws.close()
                return
            await ws.send_text(text)

    task = asyncio.create_task(sender())
    try:
        while True:
            raw = await ws.receive_text()
            if len(raw) > MAX_MESSAGE_BYTES:
                _error(conn, "message too large")
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                _error(conn, "message is not JSON")
                continue
            if not isinstance(msg, dict):
                _error(conn, "message must be a JSON object")
                continue
            kind = msg.get("type")
            if kind == "subscribe":
                _subscribe(ex, publisher, conn, msg)
            elif kind == "unsubscribe":
                channel, ident = str(msg.get("channel")), msg.get("id", "")
                ident = "" if channel == "v3_markets" else str(ident)
                ex.hub.unsubscribe(conn, channel, ident)
                conn.send({"type": "unsubscribed", "connection_id": conn.connection_id, "channel": channel, "id": ident})
            elif kind == "ping":
                conn.send({"type": "pong", "connection_id": conn.connection_id, "time": iso(time.time_ns())})
            else:
                _error(conn, f"type: unknown message type {str(kind)[:40]!r}")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ex.hub.drop(conn)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
