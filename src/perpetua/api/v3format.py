"""Formatting state and read-model rows in dYdX v3's JSON shapes (decimal strings, ISO times).

Money and sizes leave the exchange here as exact decimal strings; nothing in this module does
arithmetic other than unit conversion and the explicitly named derived figures.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from perpetua.core.accounts import Account
from perpetua.core.funding import interval_rate_ppb
from perpetua.core.markets import Market
from perpetua.core.oracle import is_stale
from perpetua.core.quantities import COLLATERAL_RESOLUTION, NS_PER_S, PPB, PPM, format_units
from perpetua.core.risk import liquidation_price, margin_summary
from perpetua.core.state import ExchangeState

DYDX_NAMESPACE = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")
"""dydx3/helpers/db.py: user id = uuid5(NS, lower(address)); account id = uuid5(NS, user id + number)."""


def user_id_of(eth_address: str) -> str:
    return str(uuid.uuid5(DYDX_NAMESPACE, eth_address.lower()))


def account_id_of(eth_address: str, account_number: int = 0) -> str:
    return str(uuid.uuid5(DYDX_NAMESPACE, user_id_of(eth_address) + str(account_number)))


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    ms = ns // 1_000_000
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def usd(quantums: int) -> str:
    return format_units(quantums, COLLATERAL_RESOLUTION)


def size_text(quantums: int, market: Market) -> str:
    return format_units(quantums, market.resolution)


def ppm_text(value: int) -> str:
    return format_units(value, PPM)


def side_text(side: int) -> str:
    return "BUY" if side > 0 else "SELL"


def rate_text(rate_ppb: int) -> str:
    return format_units(rate_ppb, PPB)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def predicted_rate_ppb(state: ExchangeState, m: Market, now_ns: int) -> int:
    """The rate the running interval would get if it closed now, scaled to a full interval (v3's
    ``nextFundingRate``): the time-weighted premium so far, plus interest, capped."""
    funding = state.funding[m.market_id]
    if not funding.started:
        return 0
    elapsed = now_ns - funding.last_tick_ns
    weighted = funding.weighted_premium + funding.premium_ppb * max(0, now_ns - funding.weighted_since_ns)
    twap = _trunc_div(weighted, elapsed) if elapsed > 0 else funding.premium_ppb
    return interval_rate_ppb(m, twap, m.funding_interval_ns)


def market_status(state: ExchangeState, m: Market, now_ns: int | None = None) -> dict[str, Any]:
    """A market's prices, funding and degraded mode, judged at ``now_ns`` (default: wall time).

    ``status``: INITIALIZING before the first oracle price, DEGRADED while the oracle price is older
    than the market's bound (no new risk, no funding ticks, no liquidations), else ONLINE."""
    now = max(time.time_ns(), state.time_ns) if now_ns is None else now_ns
    ps = state.price_status(m.market_id)
    stale = is_stale(m, ps.oracle_timestamp_ns, now)
    status = "INITIALIZING" if ps.oracle_price is None else "DEGRADED" if stale else "ONLINE"
    age = None if ps.oracle_timestamp_ns is None else now - ps.oracle_timestamp_ns
    return {
        "market": m.market_id,
        "status": status,
        "degraded": stale,
        "oraclePrice": usd(ps.oracle_price) if ps.oracle_price is not None else None,
        "oracleTimestamp": iso(ps.oracle_timestamp_ns),
        "oracleAgeSeconds": format_units(age, NS_PER_S) if age is not None else None,
        "oracleMaxAgeSeconds": format_units(m.oracle_max_age_ns, NS_PER_S),
        "indexPrice": usd(ps.index_price) if ps.index_price is not None else None,
        "markPrice": usd(ps.mark_price) if ps.mark_price is not None else None,
        "fundingRate": rate_text(ps.funding_rate_ppb),
        "premium": rate_text(ps.premium_ppb),
        "nextFundingRate": rate_text(predicted_rate_ppb(state, m, now)),
        "nextFundingAt": iso(ps.next_funding_ns),
        "fundingIntervalSeconds": format_units(m.funding_interval_ns, NS_PER_S),
    }


def market_json(state: ExchangeState, m: Market, volume24h: int = 0, trades24h: int = 0) -> dict[str, Any]:
    st = market_status(state, m)
    return {
        "market": m.market_id,
        "status": st["status"],
        "degraded": st["degraded"],
        "oracleTimestamp": st["oracleTimestamp"],
        "markPrice": st["markPrice"] or "0",
        "baseAsset": m.synthetic,
        "quoteAsset": "USD",
        "stepSize": size_text(m.step_size, m),
        "tickSize": usd(m.tick_size),
        "indexPrice": st["indexPrice"] or "0",
        "oraclePrice": st["oraclePrice"] or "0",
        "priceChange24H": "0",
        "nextFundingRate": st["nextFundingRate"],
        "nextFundingAt": st["nextFundingAt"],
        "minOrderSize": size_text(m.min_order_size, m),
        "type": "PERPETUAL",
        "initialMarginFraction": ppm_text(m.initial_margin_ppm),
        "maintenanceMarginFraction": ppm_text(m.maintenance_margin_ppm),
        "transferMarginFraction": "0",
        "volume24H": usd(volume24h),
        "trades24H": str(trades24h),
        "openInterest": size_text(state.open_interest(m.market_id), m),
        "incrementalInitialMarginFraction": ppm_text(m.incremental_initial_margin_ppm),
        "incrementalPositionSize": size_text(m.incremental_position_size, m),
        "maxPositionSize": size_text(m.max_position_size, m),
        "baselinePositionSize": size_text(m.baseline_position_size, m),
        "assetResolution": str(m.resolution),
        "syntheticAssetId": hex(m.synthetic_asset_id),
    }


def order_json(row: dict[str, Any], markets: dict[str, Market], account_id: str) -> dict[str, Any]:
    m = markets[row["market"]]
    return {
        "id": str(row["order_id"]),
        "clientId": row["client_id"],
        "accountId": account_id,
        "market": row["market"],
        "side": side_text(row["side"]),
        "price": usd(row["price"]),
        "triggerPrice": usd(row["trigger_price"]) if row["trigger_price"] is not None else None,
        "trailingPercent": row["trailing_percent"],
        "size": size_text(row["size"], m),
        "remainingSize": size_text(row["remaining"], m),
        "type": row["type"],
        "createdAt": iso(row["created_ns"]),
        "unfillableAt": None,
        "expiresAt": iso(row["expires_ns"]),
        "status": row["status"],
        "timeInForce": row["time_in_force"],
        "postOnly": bool(row["post_only"]),
        "reduceOnly": bool(row["reduce_only"]),
        "cancelReason": row["cancel_reason"],
        "limitFee": row["limit_fee"],
        "signature": row["signature"],
    }


def fill_json(row: dict[str, Any], markets: dict[str, Market]) -> dict[str, Any]:
    m = markets[row["market"]]
    return {
        "id": f"{row['fill_id']}-{row['liquidity'][0]}",
        "side": side_text(row["side"]),
        "liquidity": row["liquidity"],
        "type": row["type"],
        "market": row["market"],
        "orderId": str(row["order_id"]),
        "price": usd(row["price"]),
        "size": size_text(row["size"], m),
        "fee": usd(row["fee"]),
        "createdAt": iso(row["created_ns"]),
    }


def trade_json(row: dict[str, Any], m: Market) -> dict[str, Any]:
    return {
        "side": side_text(row["side"]),
        "size": size_text(row["size"], m),
        "price": usd(row["price"]),
        "createdAt": iso(row["created_ns"]),
        "liquidation": False,
    }


def _div(a: int, b: int) -> int:
    """Integer division truncating toward zero (money shown never rounds away from zero)."""
    return _trunc_div(a, b) if b else 0


def position_json(
    m: Market, row: dict[str, Any] | None, size: int, oracle: int | None, liq: int | None = None,
) -> dict[str, Any]:
    """A v3 position: ``size`` from the state (open) or the row (closed); entry/exit prices, PnL and
    funding from the read model's position history (``row``; None when it has none yet)."""
    status = row["status"] if row is not None else "OPEN"
    out: dict[str, Any] = {
        "market": m.market_id,
        "status": status,
        "side": "LONG" if size > 0 else "SHORT",
        "size": size_text(size, m),
        "maxSize": size_text(abs(size), m),
        "entryPrice": None,
        "exitPrice": None,
        "unrealizedPnl": None,
        "realizedPnl": None,
        "createdAt": None,
        "closedAt": None,
        "sumOpen": None,
        "sumClose": None,
        "netFunding": None,
        "liquidationPrice": usd(liq) if liq is not None else None,
    }
    if row is None:
        return out
    open_size = abs(row["size"])
    entry = _div(row["entry_notional"], open_size) if open_size else _div(row["close_notional"], row["sum_close"])
    if status == "OPEN" and open_size:
        out["entryPrice"] = usd(entry)
        if oracle is not None:
            sign = 1 if row["size"] > 0 else -1
            out["unrealizedPnl"] = usd(_div(row["size"] * oracle - sign * row["entry_notional"], m.resolution))
    elif row["sum_open"]:
        # A closed position: the average open price over its life.
        entry = _div(row["entry_notional"] + _closed_cost(row), row["sum_open"])
        out["entryPrice"] = usd(entry)
        out["side"] = "LONG" if row["side"] > 0 else "SHORT"
        out["size"] = "0"
        out["unrealizedPnl"] = "0"
    out.update({
        "maxSize": size_text(row["max_size"], m),
        "exitPrice": usd(_div(row["close_notional"], row["sum_close"])) if row["sum_close"] else None,
        "realizedPnl": usd(_div(row["realized_notional"], m.resolution)),
        "createdAt": iso(row["created_ns"]),
        "closedAt": iso(row["closed_ns"]),
        "sumOpen": size_text(row["sum_open"], m),
        "sumClose": size_text(row["sum_close"], m),
        "netFunding": usd(row["net_funding"]),
    })
    return out


def _closed_cost(row: dict[str, Any]) -> int:
    """The entry notional of the closed part: close notional minus (long) or plus (short) realized."""
    return int(row["close_notional"] - row["side"] * row["realized_notional"])


def positions_json(
    state: ExchangeState, acct: Account, rows: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The account's open positions (sizes from the state; the rest from ``rows``, the read model's
    open position history by market)."""
    out: dict[str, dict[str, Any]] = {}
    for mid, pos in sorted(acct.positions.items()):
        m = state.markets[mid]
        liq = liquidation_price(acct, mid, state.markets, state.oracle_prices, state.funding_indices)
        row = (rows or {}).get(mid)
        if row is not None and row["size"] != pos.size:
            row = None  # the history lags the state (an event it does not map yet): show sizes only
        out[mid] = position_json(m, row, pos.size, state.oracle_prices.get(mid), liq)
    return out


def account_json(
    state: ExchangeState, acct: Account, row: dict[str, Any], positions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    summary = margin_summary(acct, state.markets, state.oracle_prices, state.funding_indices)
    return {
        "starkKey": row["stark_key"],
        "positionId": str(acct.position_id),
        "equity": usd(summary.equity),
        "freeCollateral": usd(summary.free_collateral),
        "pendingDeposits": "0",
        "pendingWithdrawals": "0",
        "openPositions": positions_json(state, acct, positions),
        "accountNumber": str(row["account_number"]),
        "id": row["account_id"],
        "quoteBalance": usd(acct.collateral),
        "createdAt": iso(row["created_ns"]),
        "marginRatio": ppm_text(summary.margin_ratio_ppm) if summary.margin_ratio_ppm is not None else None,
        "leverage": ppm_text(summary.leverage_ppm) if summary.leverage_ppm is not None else None,
    }
