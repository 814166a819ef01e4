"""Formatting state and read-model rows in dYdX v3's JSON shapes (decimal strings, ISO times).

Money and sizes leave the exchange here as exact decimal strings; nothing in this module does
arithmetic other than unit conversion and the explicitly named derived figures.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from perpetua.core.accounts import Account
from perpetua.core.markets import Market
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, format_units
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


def market_json(state: ExchangeState, m: Market, volume24h: int = 0, trades24h: int = 0) -> dict[str, Any]:
    oracle = state.oracle_prices.get(m.market_id)
    return {
        "market": m.market_id,
        "status": "ONLINE",
        "baseAsset": m.synthetic,
        "quoteAsset": "USD",
        "stepSize": size_text(m.step_size, m),
        "tickSize": usd(m.tick_size),
        "indexPrice": usd(oracle) if oracle is not None else "0",
        "oraclePrice": usd(oracle) if oracle is not None else "0",
        "priceChange24H": "0",
        "nextFundingRate": "0",
        "nextFundingAt": iso(((state.time_ns // 3_600_000_000_000) + 1) * 3_600_000_000_000),
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


def positions_json(state: ExchangeState, acct: Account) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for mid, pos in sorted(acct.positions.items()):
        m = state.markets[mid]
        liq = liquidation_price(acct, mid, state.markets, state.oracle_prices, state.funding_indices)
        out[mid] = {
            "market": mid,
            "status": "OPEN",
            "side": "LONG" if pos.size > 0 else "SHORT",
            "size": size_text(pos.size, m),
            "maxSize": size_text(pos.size, m),
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
    return out


def account_json(state: ExchangeState, acct: Account, row: dict[str, Any]) -> dict[str, Any]:
    summary = margin_summary(acct, state.markets, state.oracle_prices, state.funding_indices)
    return {
        "starkKey": row["stark_key"],
        "positionId": str(acct.position_id),
        "equity": usd(summary.equity),
        "freeCollateral": usd(summary.free_collateral),
        "pendingDeposits": "0",
        "pendingWithdrawals": "0",
        "openPositions": positions_json(state, acct),
        "accountNumber": str(row["account_number"]),
        "id": row["account_id"],
        "quoteBalance": usd(acct.collateral),
        "createdAt": iso(row["created_ns"]),
        "marginRatio": ppm_text(summary.margin_ratio_ppm) if summary.margin_ratio_ppm is not None else None,
        "leverage": ppm_text(summary.leverage_ppm) if summary.leverage_ppm is not None else None,
    }
