"""The main job's routes for the dashboard: a snapshot of the market and the demo account, the
"after this order" preview (core risk functions on a hypothetical fill), and the demo account's
orders (built and signed here, then placed through the API's own order route).

Public market data stays on the v3 endpoints and the WebSocket; these routes cover what v3 has no
endpoint for (mark price, staleness, funding countdown, entry prices, the preview) and the demo
account, whose key the server holds.
"""

from __future__ import annotations

import copy
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

from perpetua.api import routes_private
from perpetua.api.auth import Principal, exchange_of
from perpetua.api.errors import ERROR_RESPONSES, ApiError, bad_field
from perpetua.api.exchange import Exchange
from perpetua.api.schemas import DecimalText, OrderRequest, SignedDecimalText
from perpetua.api.v3format import iso, order_json, size_text, usd
from perpetua.core.accounts import Account, Position
from perpetua.core.markets import Market
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, format_units, to_integer_units
from perpetua.core.risk import liquidation_price, margin_summary
from perpetua.core.state import ExchangeState
from perpetua.mainjob.demo_account import DemoIdentity, sign_order
from perpetua.mainjob.live import LiveMarket

router = APIRouter(prefix="/mainjob", tags=["dashboard"], responses=ERROR_RESPONSES)

NEAR_LIQUIDATION_PPM = 800_000
"""Warn when the margin ratio (maintenance requirement / equity) reaches 80%."""
MARKET_SLIPPAGE_PPM = 20_000
"""Worst price of a market order the dashboard sends: 2% through the oracle / trigger price."""


def live_of(request: Request) -> LiveMarket:
    live: LiveMarket = request.app.state.live_market
    return live


def identity_of(request: Request) -> DemoIdentity:
    ident: DemoIdentity = request.app.state.demo_identity
    return ident


def _market(ex: Exchange, market: str) -> Market:
    m = ex.config.markets.get(market)
    if m is None:
        raise bad_field("market", f"unknown market {market[:20]!r}", "UNKNOWN_MARKET")
    return m


def _ratio(ppm: int | None) -> str | None:
    return None if ppm is None else format_units(ppm, PPM)


def _account_json(state: ExchangeState, acct: Account, entries: dict[str, int]) -> dict[str, Any]:
    s = margin_summary(acct, state.markets, state.oracle_prices, state.funding_indices)
    positions = []
    for mid, pos in sorted(acct.positions.items()):
        m = state.markets[mid]
        mark = state.mark_price(mid) or state.oracle_prices[mid]
        entry = entries.get(mid)
        liq = liquidation_price(acct, mid, state.markets, state.oracle_prices, state.funding_indices)
        positions.append({
            "market": mid, "side": "LONG" if pos.size > 0 else "SHORT", "size": size_text(pos.size, m),
            "entryPrice": usd(entry) if entry is not None else None, "markPrice": usd(mark),
            "unrealizedPnl": usd(pos.size * (mark - entry) // m.resolution) if entry is not None else None,
            "liquidationPrice": usd(liq) if liq is not None else None,
            "notional": usd(abs(pos.size) * mark // m.resolution),
        })
    return {
        "positionId": str(acct.position_id), "starkKey": f"0x{acct.public_key:064x}",
        "collateral": usd(acct.collateral), "equity": usd(s.equity), "freeCollateral": usd(s.free_collateral),
        "initialRequirement": usd(s.initial_requirement), "maintenanceRequirement": usd(s.maintenance_requirement),
        "marginRatio": _ratio(s.margin_ratio_ppm), "leverage": _ratio(s.leverage_ppm), "liquidatable": s.liquidatable,
        "nearLiquidation": s.liquidatable or (s.margin_ratio_ppm is not None and s.margin_ratio_ppm >= NEAR_LIQUIDATION_PPM),
        "positions": positions,
    }


@router.get("/state")
def get_state(request: Request, market: str = "BTC-USD") -> dict[str, Any]:
    """Everything the dashboard's panels show beyond the v3 public endpoints, in one read."""
    ex, live, ident = exchange_of(request), live_of(request), identity_of(request)
    m = _market(ex, market)
    state = ex.sequencer.state
    st = state.price_status(m.market_id)
    now = time.time_ns()
    oracle_age = None if st.oracle_timestamp_ns is None else now - st.oracle_timestamp_ns
    stale = st.oracle_price is None or (oracle_age is not None and oracle_age > m.oracle_max_age_ns)
    acct = state.accounts.get(ident.position_id)
    orders = ex.read.orders(ident.position_id, statuses=["OPEN", "UNTRIGGERED"], limit=50) if acct else []
    act = live.activity
    candle = live.candle
    return {
        "serverTimeMs": now // 1_000_000,
        "market": {
            "market": m.market_id, "tickSize": usd(m.tick_size), "stepSize": size_text(m.step_size, m),
            "minOrderSize": size_text(m.min_order_size, m),
            "initialMarginFraction": format_units(m.initial_margin_ppm, PPM),
            "maintenanceMarginFraction": format_units(m.maintenance_margin_ppm, PPM),
            "oraclePrice": usd(st.oracle_price) if st.oracle_price is not None else None,
            "indexPrice": usd(st.index_price) if st.index_price is not None else None,
            "markPrice": usd(st.mark_price) if st.mark_price is not None else None,
            "oracleTimeMs": None if st.oracle_timestamp_ns is None else st.oracle_timestamp_ns // 1_000_000,
            "oracleAgeS": None if oracle_age is None else oracle_age / 1e9,
            "oracleMaxAgeS": m.oracle_max_age_ns / 1e9, "stale": stale,
            "fundingRate": format_units(st.funding_rate_ppb, 10**9), "premium": format_units(st.premium_ppb, 10**9),
            "fundingIntervalS": m.funding_interval_ns / 1e9,
            "nextFundingMs": None if st.next_funding_ns is None else st.next_funding_ns // 1_000_000,
            "openInterest": size_text(state.open_interest(m.market_id), m),
            "insuranceFund": usd(state.insurance_fund.collateral), "fees": usd(state.fee_account.collateral),
        },
        "account": None if acct is None else {
            **_account_json(state, acct, act.entries.entries),
            "ethereumAddress": ident.eth_address, "accountId": ident.account_id, "apiKey": ident.api_key,
            "orders": [order_json(o, ex.config.markets, ident.account_id) for o in orders],
            "fundingPayments": [{"market": r["market"], "payment": usd(r["amount"]), "rate": format_units(r["rate_ppb"], 10**9),
                                 "positionSize": size_text(r["size"], ex.config.markets[r["market"]]),
                                 "effectiveAt": iso(r["time_ns"])} for r in act.funding_payments[:20]],
        },
        "fundingRates": [{"market": r["market"], "rate": format_units(r["rate_ppb"], 10**9), "price": usd(r["price"]),
                          "effectiveAt": iso(r["time_ns"])} for r in act.funding_rates[:20] if r["market"] == m.market_id],
        "liquidations": [{**r, "time": iso(r["time_ns"])} for r in act.liquidations[:20]],
        "replay": {
            "speed": live.speed, "candle": live.demo.position, "candles": len(live.demo.candles),
            "simulatedTime": iso(candle.timestamp_ns) if candle else None, "finished": live.finished,
            "fills": act.fills,
        },
    }


@router.get("/chart")
def get_chart(request: Request, market: str = "BTC-USD") -> dict[str, Any]:
    """Trade candles (five wall-clock seconds each) and mark / index / oracle samples (twice a second)
    since the main job started, for the dashboard's chart."""
    ex, live = exchange_of(request), live_of(request)
    m = _market(ex, market)
    candles = live.activity.candles.get(m.market_id, [])
    prices = live.activity.prices.get(m.market_id, [])

    def col(i: int) -> list[str | None]:
        return [None if (v := p[i]) is None else usd(v) for p in prices]

    return {
        "candles": [{"t": iso(c[0]), "open": usd(c[1]), "high": usd(c[2]), "low": usd(c[3]), "close": usd(c[4])}
                    for c in candles],
        "prices": {"t": [iso(p[0]) for p in prices], "mark": col(1), "index": col(2), "oracle": col(3)},
    }


# -- settlement on L1 -------------------------------------------------------------------------------


@router.get("/settlement")
def get_settlement(request: Request) -> dict[str, Any]:
    """The L1 settlement view (``perpetua.chain.view.settlement_view`` plus the loop's status), as
    the settlement thread last published it (the route never touches the EVM)."""
    settlement = getattr(request.app.state, "settlement", None)
    if settlement is None:
        return {"enabled": False, "status": "off", "stoppedReason": "the L1 is off (perpetua up --no-l1)",
                "rollup": None, "l1": None}
    snapshot: dict[str, Any] = settlement.snapshot
    return snapshot


# -- the demo account's orders -----------------------------------------------------------------------


class DemoOrder(BaseModel):
    """An order of the demo account as the dashboard sends it; prices of market-type orders are
    optional (the worst price is then 2% through the oracle or trigger price)."""

    model_config = ConfigDict(extra="forbid")
    market: Annotated[str, StringConstraints(max_length=20)] = "BTC-USD"
    side: Literal["BUY", "SELL"]
    type: Literal["MARKET", "LIMIT", "STOP_LIMIT", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP"]
    size: DecimalText
    price: DecimalText | None = None
    triggerPrice: DecimalText | None = None
    trailingPercent: SignedDecimalText | None = None
    timeInForce: Literal["GTT", "FOK", "IOC"] | None = None
    postOnly: StrictBool = False
    reduceOnly: StrictBool = False


def _worst_price(state: ExchangeState, m: Market, body: DemoOrder) -> int:
    """The worst acceptable price of a market-type order (what v3 clients send as ``price``)."""
    if body.triggerPrice is not None:
        ref = to_integer_units(body.triggerPrice, COLLATERAL_RESOLUTION, "triggerPrice")
    else:
        ref = state.oracle_prices.get(m.market_id) or 0
        book = state.books[m.market_id]
        best = book.best_ask() if body.side == "BUY" else book.best_bid()
        ref = best if best is not None else ref
    if ref <= 0:
        raise bad_field("price", "no reference price for a market order yet")
    side = 1 if body.side == "BUY" else -1
    raw = ref * (PPM + side * MARKET_SLIPPAGE_PPM) // PPM
    return max(m.tick_size, raw // m.tick_size * m.tick_size if side < 0 else -(-raw // m.tick_size) * m.tick_size)


def _demo_principal(ex: Exchange, ident: DemoIdentity) -> Principal:
    row = ex.read.account_by_position(ident.position_id)
    if row is None:
        raise ApiError(503, "NOT_READY", "the demo account is not created yet")
    return Principal(ident.eth_address, row)


@router.post("/demo/orders", status_code=201)
async def place_demo_order(request: Request, body: DemoOrder) -> dict[str, Any]:
    """Build the v3 order, sign it with the demo account's STARK key (the server holds it: development
    only) and place it through the API's POST /v3/orders handler (signature verified again there)."""
    ex, ident = exchange_of(request), identity_of(request)
    m = _market(ex, body.market)
    state = ex.sequencer.state
    market_type = body.type in ("MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP")
    if body.price is None and not market_type:
        raise bad_field("price", f"a {body.type} order needs a price")
    price = body.price if body.price is not None else format_units(_worst_price(state, m, body), COLLATERAL_RESOLUTION)
    tif = body.timeInForce or ("IOC" if market_type else "GTT")
    signed = sign_order(ident, m, body.side, body.size, price, ex.cfg.network)
    order = OrderRequest(
        market=m.market_id, side=body.side, type=body.type, timeInForce=tif, size=body.size, price=price,
        limitFee=signed.limit_fee, expiration=signed.expiration, postOnly=body.postOnly, clientId=signed.client_id,
        signature=signed.signature, triggerPrice=body.triggerPrice, trailingPercent=body.trailingPercent,
        reduceOnly=body.reduceOnly or None,
    )
    return await routes_private.create_order(request, _demo_principal(ex, ident), order)


@router.delete("/demo/orders/{order_id}")
async def cancel_demo_order(request: Request, order_id: Annotated[str, Path(pattern=r"^[0-9]{1,19}$")]) -> dict[str, Any]:
    """Cancel one of the demo account's orders through the API's DELETE /v3/orders/{id} handler."""
    ex, ident = exchange_of(request), identity_of(request)
    return await routes_private.cancel_order(request, _demo_principal(ex, ident), order_id)


# -- "after this order" -----------------------------------------------------------------------------


class Preview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    market: Annotated[str, StringConstraints(max_length=20)] = "BTC-USD"
    side: Literal["BUY", "SELL"]
    size: DecimalText
    price: DecimalText | None = None
    """Limit price; None: walk the book as a market order would."""


def _fill_estimate(state: ExchangeState, m: Market, side: int, size: int, limit: int | None) -> tuple[int, int]:
    """(size, collateral quantums) of a hypothetical fill of ``size`` at ``limit`` (or by walking the
    book, the rest at the oracle price when the book is thin)."""
    if limit is not None:
        return size, size * limit // m.resolution
    levels = state.books[m.market_id].asks.depth(500) if side > 0 else state.books[m.market_id].bids.depth(500)
    left, cost = size, 0
    for price, available in levels:
        take = min(left, available)
        cost += take * price // m.resolution
        left -= take
        if not left:
            break
    if left:
        cost += left * state.oracle_prices[m.market_id] // m.resolution
    return size, cost


@router.post("/demo/preview")
def preview_demo_order(request: Request, body: Preview) -> dict[str, Any]:
    """The demo account's margin and liquidation price as if this order filled entirely (at its limit
    price, or by walking the book), computed with the core's risk functions on a copy of the account."""
    ex, ident = exchange_of(request), identity_of(request)
    m = _market(ex, body.market)
    state = ex.sequencer.state
    acct = state.accounts.get(ident.position_id)
    if acct is None or m.market_id not in state.oracle_prices:
        raise ApiError(503, "NOT_READY", "the demo account or the oracle price is not there yet")
    side = 1 if body.side == "BUY" else -1
    try:
        size = to_integer_units(body.size, m.resolution, "size")
        limit = to_integer_units(body.price, COLLATERAL_RESOLUTION, "price") if body.price is not None else None
    except ValueError as err:
        raise bad_field(str(err).split(":")[0], str(err)) from None
    size, cost = _fill_estimate(state, m, side, size, limit)
    fee = -(-cost * max(m.maker_fee_ppm, m.taker_fee_ppm) // PPM)
    after = copy.deepcopy(acct)
    pos = after.positions.get(m.market_id)
    if pos is None:
        pos = after.positions[m.market_id] = Position(0, state.funding_indices[m.market_id])
    pos.size += side * size
    if pos.size == 0:
        del after.positions[m.market_id]
    after.collateral -= side * cost + fee
    before_liq = liquidation_price(acct, m.market_id, state.markets, state.oracle_prices, state.funding_indices)
    liq = liquidation_price(after, m.market_id, state.markets, state.oracle_prices, state.funding_indices)
    s = margin_summary(after, state.markets, state.oracle_prices, state.funding_indices)
    return {
        "market": m.market_id, "side": body.side, "size": size_text(size, m),
        "averagePrice": usd(cost * m.resolution // size) if size else None, "fee": usd(fee),
        "positionAfter": size_text(after.size(m.market_id), m),
        "liquidationPriceBefore": usd(before_liq) if before_liq is not None else None,
        "liquidationPriceAfter": usd(liq) if liq is not None else None,
        "equityAfter": usd(s.equity), "freeCollateralAfter": usd(s.free_collateral),
        "marginRatioAfter": _ratio(s.margin_ratio_ppm), "leverageAfter": _ratio(s.leverage_ppm),
        "meetsInitialMargin": s.free_collateral >= 0 or after.size(m.market_id) == 0,
        "priceNote": "at the limit price" if limit is not None else "walking the current book",
    }
