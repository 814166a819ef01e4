"""Prices, funding, insurance fund, open interest and liquidation prices.

Funding history is the read model of ``FundingRateUpdated`` events; the insurance fund's balance is
the state's (its account, ``config.insurance_fund_position_id``), its history the read model of the
events that move it (funding rounding; liquidation penalties as they land). A market's degraded mode
(stale oracle) is judged at wall time, so it shows even while no command arrives.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from perpetua.api.auth import Principal, authenticated, exchange_of, public_rate_limit
from perpetua.api.errors import ERROR_RESPONSES
from perpetua.api.routes_public import MarketPath, market_of, parse_time_ns
from perpetua.api.schemas import Limit
from perpetua.api.v3format import iso, market_status, rate_text, size_text, usd
from perpetua.core.risk import liquidation_price

public = APIRouter(prefix="/v3", tags=["public"], responses=ERROR_RESPONSES, dependencies=[Depends(public_rate_limit)])
private = APIRouter(prefix="/v3", tags=["private"], responses=ERROR_RESPONSES)


def insurance_balance(request: Request) -> int:
    """The insurance fund's collateral, in quantums (the state's, not a read model's)."""
    return exchange_of(request).sequencer.state.insurance_fund.collateral


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
def get_historical_funding(
    request: Request, market: MarketPath, limit: Limit = 100,
    effectiveBeforeOrAt: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The market's funding ticks, newest first: the rate of each interval and the index price."""
    ex = exchange_of(request)
    m = market_of(ex, market)
    before = parse_time_ns("effectiveBeforeOrAt", effectiveBeforeOrAt)
    rows = ex.read.historical_funding(m.market_id, limit, before + 1 if before is not None else None)
    return {
        "historicalFunding": [
            {"market": m.market_id, "rate": rate_text(int(r["rate"])),
             "price": usd(r["price"]) if r["price"] is not None else None, "effectiveAt": iso(r["effective_ns"])}
            for r in rows
        ]
    }


@public.get("/market-status")
def get_market_status(request: Request) -> dict[str, Any]:
    """Every market's prices, funding and degraded mode (beyond v3)."""
    ex = exchange_of(request)
    state = ex.sequencer.state
    return {"markets": {mid: market_status(state, m) for mid, m in sorted(state.markets.items())}}


@public.get("/market-status/{market}")
def get_one_market_status(request: Request, market: MarketPath) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    return {"market": market_status(ex.sequencer.state, m)}


@public.get("/oracle-prices/{market}")
def get_oracle_prices(request: Request, market: MarketPath, limit: Limit = 100) -> dict[str, Any]:
    """The market's accepted oracle prices, newest first (beyond v3)."""
    ex = exchange_of(request)
    m = market_of(ex, market)
    rows = ex.read.oracle_prices(m.market_id, limit)
    return {"oraclePrices": [{"market": m.market_id, "price": usd(r["price"]), "createdAt": iso(r["created_ns"])}
                             for r in rows]}


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
