"""Prices, funding, insurance fund, open interest and liquidation prices: the endpoints that grow as
signed oracle ticks, funding and liquidations land in the core (issue 3). Kept in one module so
those features plug in here: today the insurance fund and funding history are read-model tables
(empty until their events exist) and the oracle price is the last SetOraclePrice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from perpetua.api.auth import Principal, authenticated, exchange_of, public_rate_limit
from perpetua.api.errors import ERROR_RESPONSES
from perpetua.api.routes_public import MarketPath, market_of
from perpetua.api.schemas import Limit
from perpetua.api.v3format import iso, size_text, usd
from perpetua.core.risk import liquidation_price

public = APIRouter(prefix="/v3", tags=["public"], responses=ERROR_RESPONSES, dependencies=[Depends(public_rate_limit)])
private = APIRouter(prefix="/v3", tags=["private"], responses=ERROR_RESPONSES)


def insurance_balance(request: Request) -> int:
    """The insurance fund in collateral quantums (0 until the core keeps one)."""
    ex = exchange_of(request)
    history = ex.read.insurance_history(1)
    return int(history[0]["balance"]) if history else 0


@public.get("/insurance-fund/balance")
def get_insurance_balance(request: Request) -> dict[str, Any]:
    return {"balance": usd(insurance_balance(request))}


@public.get("/insurance-fund/history")
def get_insurance_history(request: Request, limit: Limit = 100) -> dict[str, Any]:
    rows = exchange_of(request).read.insurance_history(limit)
    return {
        "history": [
            {"balance": usd(r["balance"]), "change": usd(r["change"]), "reason": r["reason"], "createdAt": iso(r["created_ns"])}
            for r in rows
        ]
    }


@public.get("/historical-funding/{market}")
def get_historical_funding(request: Request, market: MarketPath, limit: Limit = 100) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    rows = ex.read.historical_funding(m.market_id, limit)
    return {
        "historicalFunding": [
            {"market": m.market_id, "rate": r["rate"], "price": usd(r["price"]) if r["price"] is not None else None,
             "effectiveAt": iso(r["effective_ns"])}
            for r in rows
        ]
    }


@public.get("/open-interest")
def get_open_interest(request: Request) -> dict[str, Any]:
    state = exchange_of(request).sequencer.state
    return {"openInterest": {mid: size_text(state.open_interest(mid), m) for mid, m in sorted(state.markets.items())}}


@private.get("/liquidation-prices")
def get_liquidation_prices(request: Request, principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, Any]:
    """For each open position of the account: the oracle price at which it becomes liquidatable, the
    other prices held (null: no positive price liquidates it)."""
    state = exchange_of(request).sequencer.state
    acct = state.accounts[principal.position_id]
    out: dict[str, str | None] = {}
    for mid in sorted(acct.positions):
        liq = liquidation_price(acct, mid, state.markets, state.oracle_prices, state.funding_indices)
        out[mid] = usd(liq) if liq is not None else None
    return {"liquidationPrices": out}
