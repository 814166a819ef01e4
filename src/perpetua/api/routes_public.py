"""Public v3 endpoints: markets, order book, trades, candles, stats, time, config."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from perpetua.api.auth import exchange_of, public_rate_limit
from perpetua.api.errors import ERROR_RESPONSES, bad_field
from perpetua.api.exchange import Exchange
from perpetua.api.schemas import Limit
from perpetua.api.v3format import iso, market_json, ppm_text, size_text, trade_json, usd
from perpetua.core.markets import Market
from perpetua.crypto.assets import collateral_asset_id
from perpetua.crypto.dydx_v3 import iso_to_epoch_ms
from perpetua.crypto.errors import CryptoError
from perpetua.store.readmodels import CANDLE_RESOLUTIONS_S

router = APIRouter(prefix="/v3", tags=["public"], responses=ERROR_RESPONSES, dependencies=[Depends(public_rate_limit)])

MarketPath = Annotated[str, Path(max_length=20, description="e.g. BTC-USD")]
DAY_NS = 86_400 * 10**9


def market_of(ex: Exchange, market: str) -> Market:
    m = ex.config.markets.get(market)
    if m is None:
        raise bad_field("market", f"unknown market {market[:20]!r}", "UNKNOWN_MARKET")
    return m


def parse_time_ns(field: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return iso_to_epoch_ms(text, field) * 1_000_000
    except CryptoError:
        raise bad_field(field, "expected an ISO-8601 time") from None


def _day_stats(ex: Exchange, market: str) -> tuple[int, int]:
    trades = ex.read.trades_since(market, time.time_ns() - DAY_NS)
    m = ex.config.markets[market]
    return sum(t["size"] * t["price"] // m.resolution for t in trades), len(trades)


@router.get("/markets")
def get_markets(request: Request, market: Annotated[str | None, Query(max_length=20)] = None) -> dict[str, Any]:
    ex = exchange_of(request)
    chosen = [market_of(ex, market)] if market else list(ex.config.markets.values())
    return {"markets": {m.market_id: market_json(ex.sequencer.state, m, *_day_stats(ex, m.market_id)) for m in chosen}}


@router.get("/orderbook/{market}")
def get_orderbook(request: Request, market: MarketPath) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    book = ex.sequencer.state.books[m.market_id]
    return {
        "asks": [{"price": usd(p), "size": size_text(s, m)} for p, s in book.asks.depth(500)],
        "bids": [{"price": usd(p), "size": size_text(s, m)} for p, s in book.bids.depth(500)],
    }


@router.get("/trades/{market}")
def get_trades(
    request: Request, market: MarketPath, startingBeforeOrAt: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    before = parse_time_ns("startingBeforeOrAt", startingBeforeOrAt)
    rows = ex.read.trades(m.market_id, limit, before + 1 if before is not None else None)
    return {"trades": [trade_json(r, m) for r in rows]}


@router.get("/candles/{market}")
def get_candles(
    request: Request, market: MarketPath, resolution: Annotated[str, Query(max_length=10)] = "1DAY",
    limit: Limit = 100,
) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    if resolution not in CANDLE_RESOLUTIONS_S:
        raise bad_field("resolution", f"must be one of {', '.join(CANDLE_RESOLUTIONS_S)}")
    rows = ex.read.candles(m.market_id, resolution, limit)
    return {
        "candles": [
            {
                "startedAt": iso(r["started_ns"]), "updatedAt": iso(r["updated_ns"]), "market": m.market_id,
                "resolution": resolution, "low": usd(r["low"]), "high": usd(r["high"]), "open": usd(r["open"]),
                "close": usd(r["close"]), "baseTokenVolume": size_text(r["base_volume"], m),
                "trades": str(r["trades"]), "usdVolume": usd(r["quote_volume"]), "startingOpenInterest": "0",
            }
            for r in rows
        ]
    }


@router.get("/stats/{market}")
def get_stats(request: Request, market: MarketPath, days: Annotated[int, Query(ge=1, le=30)] = 1) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    trades = ex.read.trades_since(m.market_id, time.time_ns() - days * DAY_NS)
    prices = [t["price"] for t in sorted(trades, key=lambda t: t["fill_id"])]
    base = sum(t["size"] for t in trades)
    return {
        "markets": {
            m.market_id: {
                "market": m.market_id,
                "open": usd(prices[0]) if prices else "0",
                "high": usd(max(prices)) if prices else "0",
                "low": usd(min(prices)) if prices else "0",
                "close": usd(prices[-1]) if prices else "0",
                "baseVolume": size_text(base, m),
                "quoteVolume": usd(sum(t["size"] * t["price"] // m.resolution for t in trades)),
                "type": "PERPETUAL",
                "fees": "0",
            }
        }
    }


@router.get("/time")
def get_time() -> dict[str, Any]:
    ns = time.time_ns()
    return {"iso": iso(ns), "epoch": ns / 1e9}


@router.get("/config")
def get_config(request: Request) -> dict[str, Any]:
    ex = exchange_of(request)
    markets = list(ex.config.markets.values())
    return {
        "networkId": str(ex.cfg.network_id),
        "collateralAsset": "USDC",
        "collateralAssetId": hex(collateral_asset_id(ex.cfg.network)),
        "collateralTokenDecimals": 6,
        "defaultMakerFee": ppm_text(markets[0].maker_fee_ppm) if markets else "0",
        "defaultTakerFee": ppm_text(markets[0].taker_fee_ppm) if markets else "0",
        "faucet": ex.cfg.faucet_enabled,
        "maxExpectedBatchLengthMinutes": "0",
        "cancelOrderRateLimiting": {"rate": ex.cfg.rate_limit_per_s, "burst": ex.cfg.rate_limit_burst},
        "placeOrderRateLimiting": {"rate": ex.cfg.rate_limit_per_s, "burst": ex.cfg.rate_limit_burst},
    }
