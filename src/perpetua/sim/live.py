"""Paper trading: the same ``Strategy`` class, unchanged, against a running exchange's v3 API.

``LiveContext`` implements ``StrategyContext`` over REST (orders signed with the account's STARK key,
requests with its API key's HMAC, exactly as any dYdX v3 client does), and ``PaperTrader`` feeds the
strategy from the WebSocket channels:

- ``v3_trades`` -> ``on_trade`` (and one-minute ``on_bar`` candles built from the trades, emitted when a
  trade of a later minute arrives or the minute has passed on the wall clock);
- ``v3_orderbook`` -> ``on_book`` (the snapshot, then each delta level as a ``BookDelta``);
- ``v3_accounts`` -> ``on_fill`` (each new fill once, as an ``OrderFilled`` with the strategy's account
  on its own side and 0 for the unknown counterparty);
- ``GET /v3/funding`` (polled: the channel carries no funding payments) -> ``on_funding``.

The context keeps a ``Ledger`` from the fills, so the realised/unrealised PnL reads as in a backtest.
Nothing here imports the API package: it is a client over HTTP and WebSocket (httpx, websockets).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from perpetua.core.errors import RejectCode
from perpetua.core.events import FundingPaid, OrderFilled, OrderRejected
from perpetua.core.markets import Market
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, format_units, to_integer_units
from perpetua.core.risk import MarginSummary
from perpetua.core.state import MarketPriceStatus
from perpetua.crypto.api_auth import request_path_with_query, sign_request
from perpetua.crypto.dydx_v3 import build_limit_order
from perpetua.crypto.messages import hash_limit_order
from perpetua.crypto.signatures import sign
from perpetua.sim.ledger import Ledger
from perpetua.sim.marketdata import Bar, BookDelta, BookSnapshot, Trade
from perpetua.sim.playback import Strategy, StrategyContext

MINUTE_NS = 60 * 10**9


@dataclass(frozen=True, slots=True)
class LiveAccount:
    """What a v3 client holds after onboarding: the API key, the STARK key and the position id."""

    api_key: str
    api_secret: str
    api_passphrase: str
    stark_private_key: int
    position_id: int
    account_number: int = 0


def _iso_now() -> str:
    ms = time.time_ns() // 1_000_000
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _iso_ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000) * 10**6


class LiveContext(StrategyContext):
    """``StrategyContext`` over the v3 REST API. Amounts in and out are integer quantums, as in a
    backtest; the context converts them to the API's decimal strings."""

    def __init__(self, base_url: str, account: LiveAccount, market: Market, *, limit_fee: str = "0.001",
                 expiration_s: int = 3600, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.acct = account
        self._market = market
        self.limit_fee = limit_fee
        self.expiration_s = expiration_s
        self.http = client or httpx.Client(base_url=self.base_url, timeout=10.0)
        self._seq = 0
        self.order_ids: dict[str, str] = {}
        """client id -> the exchange's order id."""
        self.rejections: list[OrderRejected] = []
        self.ledger = Ledger(market.resolution)

    # -- transport -------------------------------------------------------------------------------

    def _headers(self, method: str, target: str, text: str) -> dict[str, str]:
        ts = _iso_now()
        return {"DYDX-API-KEY": self.acct.api_key, "DYDX-PASSPHRASE": self.acct.api_passphrase,
                "DYDX-TIMESTAMP": ts, "DYDX-SIGNATURE": sign_request(self.acct.api_secret, ts, method, target, text)}

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                params: list[tuple[str, Any]] | None = None, private: bool = True) -> httpx.Response:
        target = request_path_with_query(path, params or [])
        text = json.dumps(body, separators=(",", ":")) if body else ""
        headers = self._headers(method, target, text) if private else {}
        if text:
            headers["content-type"] = "application/json"
        return self.http.request(method, target, content=text or None, headers=headers)

    def _get(self, path: str, params: list[tuple[str, Any]] | None = None, private: bool = True) -> Any:
        resp = self.request("GET", path, params=params, private=private)
        resp.raise_for_status()
        return resp.json()

    # -- orders ----------------------------------------------------------------------------------

    def place(
        self,
        side: int,
        size: int,
        price: int,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTT,
        *,
        post_only: bool = False,
        reduce_only: bool = False,
        trigger_price: int | None = None,
        trailing_ppm: int | None = None,
    ) -> str:
        m = self._market
        self._seq += 1
        cid = f"paper-{self.acct.position_id}-{time.time_ns()}-{self._seq}"
        side_text = "BUY" if side > 0 else "SELL"
        size_text = format_units(size, m.resolution)
        price_text = format_units(price, COLLATERAL_RESOLUTION)
        expiration_ms = (int(time.time()) + self.expiration_s) * 1000
        msg = build_limit_order(market=m.market_id, side=side_text, position_id=self.acct.position_id,
                                size=size_text, price=price_text, limit_fee=self.limit_fee, client_id=cid,
                                expiration_ms=expiration_ms)
        body: dict[str, Any] = {
            "market": m.market_id, "side": side_text, "type": str(order_type), "timeInForce": str(time_in_force),
            "size": size_text, "price": price_text, "limitFee": self.limit_fee,
            "expiration": datetime.fromtimestamp(expiration_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "postOnly": post_only, "reduceOnly": reduce_only, "clientId": cid,
            "signature": sign(self.acct.stark_private_key, hash_limit_order(msg)).to_hex(),
        }
        if trigger_price is not None:
            body["triggerPrice"] = format_units(trigger_price, COLLATERAL_RESOLUTION)
        if trailing_ppm is not None:
            body["trailingPercent"] = format_units(trailing_ppm, PPM // 100)
        resp = self.request("POST", "/v3/orders", body)
        if resp.status_code == 201:
            self.order_ids[cid] = str(resp.json()["order"]["id"])
        else:
            self.rejections.append(OrderRejected(self.acct.position_id, m.market_id, cid, _reject_code(resp),
                                                 "", resp.text[:500]))
        return cid

    def cancel(self, client_id: str) -> None:
        oid = self.order_ids.get(client_id)
        if oid is not None:
            self.request("DELETE", f"/v3/orders/{oid}")

    def cancel_all(self) -> None:
        self.request("DELETE", "/v3/orders", params=[("market", self._market.market_id)])

    def amend(self, client_id: str, size: int, price: int) -> str:
        """Cancel and replace (loses queue priority, as on the exchange)."""
        oid = self.order_ids.get(client_id)
        if oid is None:
            return client_id
        resp = self.request("GET", f"/v3/orders/{oid}")
        self.cancel(client_id)
        if resp.status_code != 200:
            return client_id
        o = resp.json()["order"]
        if o["status"] not in ("OPEN", "UNTRIGGERED"):
            return client_id
        return self.place(1 if o["side"] == "BUY" else -1, size, price, OrderType(o["type"]),
                          TimeInForce(o["timeInForce"]), post_only=bool(o.get("postOnly")),
                          reduce_only=bool(o.get("reduceOnly")))

    # -- queries ---------------------------------------------------------------------------------

    @property
    def time_ns(self) -> int:
        return time.time_ns()

    @property
    def market(self) -> Market:
        return self._market

    def _account_json(self) -> dict[str, Any]:
        return dict(self._get(f"/v3/accounts/{self._account_id()}")["account"])

    def _account_id(self) -> str:
        if not hasattr(self, "_acct_id"):
            accounts = self._get("/v3/accounts")["accounts"]
            mine = [a for a in accounts if int(a["positionId"]) == self.acct.position_id]
            self._acct_id = str((mine or accounts)[0]["id"])
        return self._acct_id

    def position(self) -> int:
        pos = self._account_json()["openPositions"].get(self._market.market_id)
        return 0 if pos is None else to_integer_units(pos["size"], self._market.resolution, "size")

    def account(self) -> MarginSummary:
        a = self._account_json()
        usd = COLLATERAL_RESOLUTION
        equity = to_integer_units(a["equity"], usd, "equity")
        free = to_integer_units(a["freeCollateral"], usd, "freeCollateral")
        notional = mmr = 0
        oracle = self.oracle_price()
        for mid, pos in a["openPositions"].items():
            if mid == self._market.market_id:
                size = abs(to_integer_units(pos["size"], self._market.resolution, "size"))
                notional += size * oracle // self._market.resolution
                mmr += -(-notional * self._market.maintenance_margin_ppm // PPM)
        ratio = None if a.get("marginRatio") is None else to_integer_units(a["marginRatio"], PPM, "marginRatio")
        leverage = None if a.get("leverage") is None else to_integer_units(a["leverage"], PPM, "leverage")
        return MarginSummary(equity, notional, equity - free, mmr, free, ratio, leverage,
                             ratio is not None and ratio >= PPM)

    def liquidation_price(self) -> int | None:
        pos = self._account_json()["openPositions"].get(self._market.market_id)
        if pos is None or pos.get("liquidationPrice") is None:
            return None
        return to_integer_units(pos["liquidationPrice"], COLLATERAL_RESOLUTION, "liquidationPrice")

    def _market_json(self) -> dict[str, Any]:
        return dict(self._get("/v3/markets", [("market", self._market.market_id)], private=False)
                    ["markets"][self._market.market_id])

    def price_status(self) -> MarketPriceStatus:
        raise NotImplementedError("price_status: read oracle_price() / the v3_markets channel when trading live")

    def oracle_price(self) -> int:
        return to_integer_units(self._market_json()["oraclePrice"], COLLATERAL_RESOLUTION, "oraclePrice")

    def _book(self) -> dict[str, Any]:
        return dict(self._get(f"/v3/orderbook/{self._market.market_id}", private=False))

    def best_bid(self) -> int | None:
        bids = self._book()["bids"]
        return to_integer_units(bids[0]["price"], COLLATERAL_RESOLUTION, "price") if bids else None

    def best_ask(self) -> int | None:
        asks = self._book()["asks"]
        return to_integer_units(asks[0]["price"], COLLATERAL_RESOLUTION, "price") if asks else None

    def open_order_ids(self) -> list[int]:
        orders = self._get("/v3/orders", [("market", self._market.market_id), ("status", "OPEN")])["orders"]
        return [int(o["id"]) for o in orders]


def _reject_code(resp: httpx.Response) -> RejectCode:
    """The API error's code when it is one of the core's, else ``INVALID_FIELD``."""
    try:
        return RejectCode(resp.json()["errors"][0].get("code"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return RejectCode.INVALID_FIELD


class PaperTrader:
    """Runs a ``Strategy`` on a ``LiveContext``, fed from the exchange's WebSocket (see the module)."""

    def __init__(self, strategy: Strategy, ctx: LiveContext, *, funding_poll_s: float = 5.0) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self.funding_poll_s = funding_poll_s
        self._seen_fills: set[str] = set()
        self._seen_funding: set[str] = set()
        self._bar: list[int] | None = None  # minute, open, high, low, close, volume
        self.messages = 0

    def _ws_url(self) -> str:
        return self.ctx.base_url.replace("http://", "ws://").replace("https://", "wss://") + "/v3/ws"

    def _accounts_subscription(self) -> dict[str, Any]:
        ts = _iso_now()
        a = self.ctx.acct
        return {"type": "subscribe", "channel": "v3_accounts", "accountNumber": str(a.account_number),
                "apiKey": a.api_key, "passphrase": a.api_passphrase, "timestamp": ts,
                "signature": sign_request(a.api_secret, ts, "GET", "/ws/accounts", "")}

    def run(self, duration_s: float) -> None:
        """Trade for ``duration_s`` seconds of wall time, then return (open orders stay open)."""
        from websockets.sync.client import connect

        mid = self.ctx.market.market_id
        deadline = time.monotonic() + duration_s
        next_poll = 0.0
        with connect(self._ws_url(), open_timeout=10) as ws:
            for sub in ({"type": "subscribe", "channel": "v3_orderbook", "id": mid},
                        {"type": "subscribe", "channel": "v3_trades", "id": mid}, self._accounts_subscription()):
                ws.send(json.dumps(sub))
            self.strategy.on_start(self.ctx)
            while (left := deadline - time.monotonic()) > 0:
                try:
                    raw = ws.recv(timeout=min(left, 0.2))
                except TimeoutError:
                    raw = None
                if raw is not None:
                    self.messages += 1
                    self._dispatch(json.loads(raw))
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.funding_poll_s
                    self._poll_funding()
                self._close_bar(time.time_ns() // MINUTE_NS)

    # -- dispatch --------------------------------------------------------------------------------

    def _dispatch(self, msg: dict[str, Any]) -> None:
        channel, contents = msg.get("channel"), msg.get("contents") or {}
        kind = msg.get("type")
        if kind not in ("subscribed", "channel_data"):
            return
        if channel == "v3_trades":
            for t in contents.get("trades", []) if kind == "channel_data" else []:
                self._trade(t)
        elif channel == "v3_orderbook":
            self._book(contents, snapshot=kind == "subscribed")
        elif channel == "v3_accounts":
            for f in contents.get("fills", []):
                self._fill(f)

    def _trade(self, t: dict[str, Any]) -> None:
        m = self.ctx.market
        ts = _iso_ns(t["createdAt"])
        trade = Trade(ts, to_integer_units(t["price"], COLLATERAL_RESOLUTION, "price"),
                      to_integer_units(t["size"], m.resolution, "size"), 1 if t["side"] == "BUY" else -1)
        minute = ts // MINUTE_NS
        self._close_bar(minute)
        if self._bar is None:
            self._bar = [minute, trade.price, trade.price, trade.price, trade.price, 0]
        b = self._bar
        b[2], b[3], b[4], b[5] = max(b[2], trade.price), min(b[3], trade.price), trade.price, b[5] + trade.size
        self.strategy.on_trade(self.ctx, trade)

    def _close_bar(self, minute: int) -> None:
        b = self._bar
        if b is not None and b[0] < minute:
            self._bar = None
            self.strategy.on_bar(self.ctx, Bar(b[0] * MINUTE_NS, b[1], b[2], b[3], b[4], volume=b[5]))

    def _book(self, contents: dict[str, Any], snapshot: bool) -> None:
        m = self.ctx.market
        now = time.time_ns()

        def level(x: Any) -> tuple[int, int]:
            price, size = (x["price"], x["size"]) if isinstance(x, dict) else (x[0], x[1])
            return (to_integer_units(price, COLLATERAL_RESOLUTION, "price"), to_integer_units(size, m.resolution, "size"))

        bids = [level(x) for x in contents.get("bids", [])]
        asks = [level(x) for x in contents.get("asks", [])]
        if snapshot:
            self.strategy.on_book(self.ctx, BookSnapshot(now, tuple(bids), tuple(asks)))
            return
        for side, levels in ((1, bids), (-1, asks)):
            for price, size in levels:
                self.strategy.on_book(self.ctx, BookDelta(now, side, price, size))

    def _fill(self, f: dict[str, Any]) -> None:
        if f["id"] in self._seen_fills:
            return
        self._seen_fills.add(f["id"])
        m, me = self.ctx.market, self.ctx.acct.position_id
        side = 1 if f["side"] == "BUY" else -1
        price = to_integer_units(f["price"], COLLATERAL_RESOLUTION, "price")
        size = to_integer_units(f["size"], m.resolution, "size")
        fee = to_integer_units(f["fee"], COLLATERAL_RESOLUTION, "fee")
        oid = int(f["orderId"])
        fill_id = int(str(f["id"]).split("-")[0])
        if f["liquidity"] == "TAKER":
            event = OrderFilled(fill_id, m.market_id, price, size, oid, me, side, fee, 0, 0, 0, 0, 0)
        else:
            event = OrderFilled(fill_id, m.market_id, price, size, 0, 0, -side, 0, oid, me, fee, 0, 0)
        self.ctx.ledger.trade(_iso_ns(f["createdAt"]), side, size, price, fee)
        self.strategy.on_fill(self.ctx, event)

    def _poll_funding(self) -> None:
        resp = self.ctx.request("GET", "/v3/funding", params=[("market", self.ctx.market.market_id)])
        if resp.status_code != 200:
            return
        m, usd = self.ctx.market, COLLATERAL_RESOLUTION
        for p in reversed(resp.json().get("fundingPayments", [])):
            key = f"{p.get('market')}-{p.get('effectiveAt')}"
            if key in self._seen_funding:
                continue
            self._seen_funding.add(key)
            amount = to_integer_units(p["payment"], usd, "payment")
            self.ctx.ledger.funding(amount)
            rate_ppb = int(Decimal(p.get("rate") or "0") * 10**9)
            self.strategy.on_funding(self.ctx, FundingPaid(
                self.ctx.acct.position_id, m.market_id, _iso_ns(p["effectiveAt"]), amount,
                to_integer_units(p.get("positionSize") or "0", m.resolution, "positionSize"), rate_ppb,
                to_integer_units(p.get("price") or "0", usd, "price"), 0))
