"""Onboarding (Ethereum-key signature) and the API-key (HMAC) endpoints: accounts, positions, orders,
fills, transfers, withdrawals, funding payments and the testnet faucet.

A route parses, authenticates, checks signatures off the sequencer's path, submits one command and
maps the result; every rejection becomes a v3 error body through ``perpetua.api.errors``.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request

from perpetua.api.auth import Principal, authenticated, exchange_of, public_rate_limit, request_target
from perpetua.api.eip712 import SignatureRecoveryError, eth_private_digest, onboarding_digest, recover_address
from perpetua.api.errors import ERROR_RESPONSES, ApiError, bad_field, from_crypto, rejected
from perpetua.api.exchange import Exchange
from perpetua.api.routes_public import market_of, parse_time_ns
from perpetua.api.schemas import EmptyRequest, Limit, OnboardingRequest, OrderRequest, WithdrawalRequest
from perpetua.api.v3format import (
    account_id_of,
    account_json,
    fill_json,
    iso,
    order_json,
    position_json,
    positions_json,
    rate_text,
    size_text,
    usd,
    user_id_of,
)
from perpetua.core.commands import (
    CancelAllOrders,
    CancelOrder,
    CreateAccount,
    DepositCollateral,
    PlaceOrder,
    WithdrawCollateral,
)
from perpetua.core.events import CommandRejected, Event, OrderAccepted, OrderCanceled, OrderRejected
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, to_integer_units
from perpetua.crypto.api_auth import TIMESTAMP_WINDOW_MS, derive_default_api_credentials
from perpetua.crypto.dydx_v3 import build_limit_order, build_withdrawal, iso_to_epoch_ms
from perpetua.crypto.errors import CryptoError
from perpetua.crypto.keys import check_public_key_point, parse_hex_key
from perpetua.crypto.messages import hash_withdrawal
from perpetua.crypto.signatures import verify

router = APIRouter(prefix="/v3", tags=["private"], responses=ERROR_RESPONSES)
Auth = Annotated[Principal, Depends(authenticated)]
OrderIdPath = Annotated[str, Path(pattern=r"^[0-9]{1,19}$")]
MarketQuery = Annotated[str | None, Query(max_length=20)]
OPEN_STATUSES = ("PENDING", "OPEN", "UNTRIGGERED")


def _raise_rejection(events: list[Event]) -> None:
    for ev in events:
        if isinstance(ev, OrderRejected | CommandRejected):
            raise rejected(ev.code, ev.field, ev.message)


def _user_json(ex: Exchange, eth_address: str) -> dict[str, Any]:
    m = next(iter(ex.config.markets.values()))
    return {
        "ethereumAddress": eth_address, "isRegistered": True, "email": None, "username": None, "userData": {},
        "makerFeeRate": str(Decimal(m.maker_fee_ppm) / PPM), "takerFeeRate": str(Decimal(m.taker_fee_ppm) / PPM),
        "makerVolume30D": "0", "takerVolume30D": "0", "fees30D": "0", "referredByAffiliateLink": None,
        "isSharingUsername": None, "isSharingAddress": None, "dydxTokenBalance": "0", "stakedDydxTokenBalance": "0",
        "isEmailVerified": False, "country": None,
    }


def _account(ex: Exchange, row: dict[str, Any]) -> dict[str, Any]:
    state = ex.sequencer.state
    pid = int(row["position_id"])
    return account_json(state, state.accounts[pid], row, ex.read.open_positions(pid))


# -- onboarding ---------------------------------------------------------------------------------------


@router.post("/onboarding", status_code=201, dependencies=[Depends(public_rate_limit)])
async def onboard(
    request: Request,
    body: OnboardingRequest,
    signature: Annotated[str, Header(alias="DYDX-SIGNATURE", max_length=140)],
    ethereum_address: Annotated[str, Header(alias="DYDX-ETHEREUM-ADDRESS", pattern=r"^0x[0-9a-fA-F]{40}$")],
) -> dict[str, Any]:
    """Register a user and its account 0 from the EIP-712 onboarding signature; answer the default API
    key derived from that signature exactly as the client derives it."""
    ex = exchange_of(request)
    address = ethereum_address.lower()
    try:
        signer = recover_address(onboarding_digest(ex.cfg.network_id), signature)
    except SignatureRecoveryError as err:
        raise ApiError(401, "signature.invalid", str(err), "DYDX-SIGNATURE") from None
    if signer != address:
        raise ApiError(401, "signature.invalid", "the onboarding signature is not by DYDX-ETHEREUM-ADDRESS", "DYDX-SIGNATURE")
    try:
        stark_key = parse_hex_key(body.starkKey, "starkKey")
        stark_y = parse_hex_key(body.starkKeyYCoordinate, "starkKeyYCoordinate")
        check_public_key_point(stark_key, stark_y)
        credentials = derive_default_api_credentials(signature)
    except CryptoError as err:
        raise from_crypto(err) from None
    if ex.read.user(address) is not None or address in ex.onboarding:
        raise ApiError(409, "USER_EXISTS", "this Ethereum address is already onboarded", "DYDX-ETHEREUM-ADDRESS")
    if ex.read.stark_key_taken(f"{stark_key:064x}"):
        raise ApiError(409, "STARK_KEY_EXISTS", "starkKey: already registered", "starkKey")
    position_id = ex.allocate_position_id()
    meta = {
        "ethAddress": address, "userId": user_id_of(address), "accountId": account_id_of(address, 0),
        "accountNumber": 0, "starkKeyYCoordinate": f"{stark_y:064x}",
        "apiKey": {"key": credentials.key, "secret": credentials.secret, "passphrase": credentials.passphrase},
    }
    ex.onboarding.add(address)
    try:
        (events,) = await ex.submit([(CreateAccount(0, position_id, stark_key), meta)])
    finally:
        ex.onboarding.discard(address)
    _raise_rejection(events)
    row = ex.read.account(address, 0)
    assert row is not None
    return {
        "apiKey": {"key": credentials.key, "secret": credentials.secret, "passphrase": credentials.passphrase},
        "user": _user_json(ex, address),
        "account": _account(ex, row),
    }


# -- accounts, users, keys -----------------------------------------------------------------------------


@router.get("/users")
def get_user(request: Request, principal: Auth) -> dict[str, Any]:
    return {"user": _user_json(exchange_of(request), principal.eth_address)}


@router.get("/api-keys")
def get_api_keys(request: Request, principal: Auth) -> dict[str, Any]:
    return {"apiKeys": [r["key"] for r in exchange_of(request).read.api_keys_of(principal.eth_address)]}


async def eth_authenticated(
    request: Request,
    signature: Annotated[str, Header(alias="DYDX-SIGNATURE", max_length=140)],
    timestamp: Annotated[str, Header(alias="DYDX-TIMESTAMP", max_length=40)],
    ethereum_address: Annotated[str, Header(alias="DYDX-ETHEREUM-ADDRESS", pattern=r"^0x[0-9a-fA-F]{40}$")],
) -> str:
    """An Ethereum-key request (v3 ``SignEthPrivateAction``): the EIP-712 signature over method,
    path with query, body ("{}" when empty) and timestamp, by an onboarded address; its address."""
    ex = exchange_of(request)
    public_rate_limit(request)
    try:
        ts_ms = iso_to_epoch_ms(timestamp, "DYDX-TIMESTAMP")
    except CryptoError as err:
        raise from_crypto(err) from None
    if abs(ts_ms - time.time_ns() // 1_000_000) > TIMESTAMP_WINDOW_MS:
        raise ApiError(401, "DYDX-TIMESTAMP.expired", "DYDX-TIMESTAMP: more than 30 s from the server's clock",
                       "DYDX-TIMESTAMP")
    body = (await request.body()).decode("utf-8", "replace") or "{}"
    digest = eth_private_digest(ex.cfg.network_id, request.method, request_target(request), body, timestamp)
    try:
        signer = recover_address(digest, signature)
    except SignatureRecoveryError as err:
        raise ApiError(401, "signature.invalid", str(err), "DYDX-SIGNATURE") from None
    address = ethereum_address.lower()
    if signer != address:
        raise ApiError(401, "signature.invalid", "the signature is not by DYDX-ETHEREUM-ADDRESS", "DYDX-SIGNATURE")
    if ex.read.user(address) is None:
        raise ApiError(404, "UNKNOWN_USER", "this Ethereum address is not onboarded", "DYDX-ETHEREUM-ADDRESS")
    return address


EthAuth = Annotated[str, Depends(eth_authenticated)]


async def _journal_key_change(ex: Exchange, address: str, change: dict[str, Any]) -> None:
    # The core has no command for API keys: a zero deposit (refused by the core, changing nothing but
    # the clock) carries the change in its journal meta, so the key survives restarts and replays.
    row = ex.read.account(address, 0)
    assert row is not None
    await ex.submit([(DepositCollateral(0, int(row["position_id"]), 0), {"apiKeyChange": {**change, "ethAddress": address}})])


@router.post("/api-keys", status_code=201)
async def create_api_key(request: Request, address: EthAuth) -> dict[str, Any]:
    """A new random API key for the user (Ethereum-key signed)."""
    ex = exchange_of(request)
    key = {"key": str(uuid.uuid4()), "secret": base64.urlsafe_b64encode(secrets.token_bytes(30)).decode(),
           "passphrase": secrets.token_urlsafe(15)[:20]}
    await _journal_key_change(ex, address, {"action": "create", "apiKey": key})
    return {"apiKey": key}


@router.delete("/api-keys")
async def delete_api_key(
    request: Request, address: EthAuth, apiKey: Annotated[str, Query(max_length=64)],
) -> dict[str, Any]:
    ex = exchange_of(request)
    row = ex.read.api_key(apiKey)
    if row is None or row["eth_address"] != address:
        raise ApiError(404, "UNKNOWN_API_KEY", "no such API key for this user", "apiKey")
    await _journal_key_change(ex, address, {"action": "delete", "key": apiKey})
    return {}


@router.get("/recovery")
def get_recovery(request: Request, address: EthAuth) -> dict[str, Any]:
    """What a user needs to exit without the API keys: STARK key, position and balances of account 0."""
    ex = exchange_of(request)
    row = ex.read.account(address, 0)
    assert row is not None
    account = _account(ex, row)
    return {
        "starkKey": account["starkKey"], "positionId": account["positionId"], "equity": account["equity"],
        "freeCollateral": account["freeCollateral"], "quoteBalance": account["quoteBalance"],
        "positions": list(account["openPositions"].values()),
    }


@router.get("/accounts")
def get_accounts(request: Request, principal: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    return {"accounts": [_account(ex, row) for row in ex.read.accounts_of(principal.eth_address)]}


@router.get("/accounts/{account_id}")
def get_account(request: Request, principal: Auth, account_id: Annotated[str, Path(max_length=36)]) -> dict[str, Any]:
    ex = exchange_of(request)
    row = ex.read.account_by_id(account_id)
    if row is None or row["eth_address"] != principal.eth_address:
        raise ApiError(404, "UNKNOWN_ACCOUNT", f"account {account_id!r} not found", "id")
    return {"account": _account(ex, row)}


@router.get("/positions")
def get_positions(
    request: Request, principal: Auth, market: MarketQuery = None,
    status: Annotated[str | None, Query(max_length=12)] = None, limit: Limit = 100,
    createdBeforeOrAt: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """Open positions (sizes from the state) then closed ones (from the position history), newest
    first. ``status``: OPEN or CLOSED."""
    ex = exchange_of(request)
    state = ex.sequencer.state
    if market is not None:
        market_of(ex, market)
    if status not in (None, "OPEN", "CLOSED", "LIQUIDATED"):
        raise bad_field("status", "must be OPEN, CLOSED or LIQUIDATED")
    before = parse_time_ns("createdBeforeOrAt", createdBeforeOrAt)
    chosen: list[dict[str, Any]] = []
    if status in (None, "OPEN"):
        acct = state.accounts[principal.position_id]
        positions = positions_json(state, acct, ex.read.open_positions(principal.position_id))
        chosen.extend(p for mid, p in positions.items() if market in (None, mid))
    if status != "OPEN":
        for row in ex.read.positions(principal.position_id, market=market, status=status or "CLOSED", limit=limit):
            if row["status"] != "OPEN":
                chosen.append(position_json(ex.config.markets[row["market"]], row, 0, None))
    if before is not None:
        chosen = [p for p in chosen if p["createdAt"] is None or (parse_time_ns("createdAt", p["createdAt"]) or 0) <= before]
    return {"positions": chosen[:limit]}


# -- orders --------------------------------------------------------------------------------------------


def _limit_fee_floor_ppm(ex: Exchange, market: str, post_only: bool, tif: str) -> int:
    m = ex.config.markets[market]
    if post_only:
        return m.maker_fee_ppm
    if tif in ("FOK", "IOC"):
        return m.taker_fee_ppm
    return max(m.maker_fee_ppm, m.taker_fee_ppm)


async def _admit_signature(ex: Exchange, order: Any, public_key: int, r: int, s: int) -> int | None:
    return await ex.signatures.admit((order, public_key, r, s))


def _signature_parts(text: str) -> tuple[int, int]:
    digits = text[2:] if text[:2] == "0x" else text
    return int(digits[:64], 16), int(digits[64:], 16)


@router.post("/orders", status_code=201)
async def create_order(request: Request, principal: Auth, body: OrderRequest) -> dict[str, Any]:
    """Place an order. The STARK signature is checked against the order rebuilt from these fields and
    the account's own position id, before anything reaches the sequencer."""
    ex = exchange_of(request)
    market_of(ex, body.market)
    try:
        expiration_ms = iso_to_epoch_ms(body.expiration, "expiration")
        order = build_limit_order(
            market=body.market, side=body.side, position_id=principal.position_id, size=body.size,
            price=body.price, limit_fee=body.limitFee, client_id=body.clientId, expiration_ms=expiration_ms,
            network=ex.cfg.network,
        )
    except CryptoError as err:
        raise from_crypto(err) from None
    if expiration_ms <= time.time_ns() // 1_000_000:
        raise bad_field("expiration", "must be in the future", "EXPIRED")
    floor = _limit_fee_floor_ppm(ex, body.market, body.postOnly, body.timeInForce)
    if Decimal(body.limitFee) * PPM < floor:
        raise bad_field("limitFee", f"must be at least the applicable fee {Decimal(floor) / PPM}")
    try:
        price = to_integer_units(body.price, COLLATERAL_RESOLUTION, "price")
        trigger = (
            to_integer_units(body.triggerPrice, COLLATERAL_RESOLUTION, "triggerPrice")
            if body.triggerPrice is not None else None
        )
        trailing = (
            abs(to_integer_units(body.trailingPercent, PPM // 100, "trailingPercent"))
            if body.trailingPercent is not None else None
        )
    except ValueError as err:
        raise bad_field(str(err).split(":")[0], str(err)) from None
    r, s = _signature_parts(body.signature)
    acct = ex.sequencer.state.accounts[principal.position_id]
    order_hash = await _admit_signature(ex, order, acct.public_key, r, s)
    if order_hash is None:
        raise ApiError(400, "signature.invalid", "signature: the STARK signature does not verify for this order", "signature")
    hash_hex = f"{order_hash:064x}"
    if hash_hex in ex.order_hashes:
        raise ApiError(409, "DUPLICATE_ORDER", "signature: this signed order was already submitted", "signature")
    ex.order_hashes.add(hash_hex)
    if body.cancelId is not None:
        (events,) = await ex.submit([(CancelOrder(0, principal.position_id, int(body.cancelId)), None)])
        _raise_rejection(events)
    cmd = PlaceOrder(
        0, principal.position_id, body.market, 1 if body.side == "BUY" else -1, OrderType(body.type),
        TimeInForce(body.timeInForce), order.amount_synthetic, price, body.clientId,
        expires_at_ns=expiration_ms * 1_000_000, post_only=body.postOnly, reduce_only=bool(body.reduceOnly),
        trigger_price=trigger, trailing_ppm=trailing,
    )
    meta = {"limitFee": body.limitFee, "signature": body.signature, "hash": hash_hex,
            "trailingPercent": body.trailingPercent}
    (events,) = await ex.submit([(cmd, meta)])
    _raise_rejection(events)
    accepted = next(ev for ev in events if isinstance(ev, OrderAccepted))
    row = ex.read.order(accepted.order_id)
    assert row is not None
    return {"order": order_json(row, ex.config.markets, principal.account["account_id"])}


@router.get("/orders")
def get_orders(
    request: Request, principal: Auth, market: MarketQuery = None,
    status: Annotated[str | None, Query(max_length=12)] = None, side: Annotated[str | None, Query(max_length=4)] = None,
    type: Annotated[str | None, Query(max_length=20)] = None, limit: Limit = 100,
    createdBeforeOrAt: Annotated[str | None, Query(max_length=40)] = None,
    returnLatestOrders: Annotated[str | None, Query(max_length=5)] = None,
) -> dict[str, Any]:
    """PENDING, OPEN and UNTRIGGERED orders by default (``status`` picks one), newest first, at most 100."""
    ex = exchange_of(request)
    if market is not None:
        market_of(ex, market)
    statuses = [status] if status else list(OPEN_STATUSES)
    side_value = None if side is None else {"BUY": 1, "SELL": -1}.get(side)
    if side is not None and side_value is None:
        raise bad_field("side", "must be BUY or SELL")
    before = parse_time_ns("createdBeforeOrAt", createdBeforeOrAt)
    rows = ex.read.orders(principal.position_id, market=market, statuses=statuses, side=side_value,
                          order_type=type, limit=limit, before_ns=before + 1 if before is not None else None)
    return {"orders": [order_json(r, ex.config.markets, principal.account["account_id"]) for r in rows]}


def _own_order(ex: Exchange, principal: Principal, order_id: int) -> dict[str, Any]:
    row = ex.read.order(order_id)
    if row is None or row["position_id"] != principal.position_id:
        raise ApiError(404, "UNKNOWN_ORDER", f"order {order_id} not found", "id")
    return row


@router.get("/orders/client/{client_id}")
def get_order_by_client_id(request: Request, principal: Auth, client_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    ex = exchange_of(request)
    row = ex.read.order_by_client_id(principal.position_id, client_id)
    if row is None:
        raise ApiError(404, "UNKNOWN_ORDER", "no order with this clientId", "clientId")
    return {"order": order_json(row, ex.config.markets, principal.account["account_id"])}


@router.get("/orders/{order_id}")
def get_order(request: Request, principal: Auth, order_id: OrderIdPath) -> dict[str, Any]:
    ex = exchange_of(request)
    row = _own_order(ex, principal, int(order_id))
    return {"order": order_json(row, ex.config.markets, principal.account["account_id"])}


@router.delete("/orders/{order_id}")
async def cancel_order(request: Request, principal: Auth, order_id: OrderIdPath) -> dict[str, Any]:
    ex = exchange_of(request)
    _own_order(ex, principal, int(order_id))
    (events,) = await ex.submit([(CancelOrder(0, principal.position_id, int(order_id)), None)])
    _raise_rejection(events)
    row = _own_order(ex, principal, int(order_id))
    return {"cancelOrder": order_json(row, ex.config.markets, principal.account["account_id"])}


async def _cancel_all(ex: Exchange, principal: Principal, market: str | None) -> list[dict[str, Any]]:
    if market is not None:
        market_of(ex, market)
    (events,) = await ex.submit([(CancelAllOrders(0, principal.position_id, market), None)])
    _raise_rejection(events)
    out = []
    for ev in events:
        if isinstance(ev, OrderCanceled) and (row := ex.read.order(ev.order_id)) is not None:
            out.append(order_json(row, ex.config.markets, principal.account["account_id"]))
    return out


@router.delete("/orders")
async def cancel_all_orders(request: Request, principal: Auth, market: MarketQuery = None) -> dict[str, Any]:
    return {"cancelOrders": await _cancel_all(exchange_of(request), principal, market)}


@router.get("/active-orders")
def get_active_orders(
    request: Request, principal: Auth, market: Annotated[str, Query(max_length=20)],
    side: Annotated[str | None, Query(max_length=4)] = None, id: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
) -> dict[str, Any]:
    ex = exchange_of(request)
    m = market_of(ex, market)
    side_value = None if side is None else {"BUY": 1, "SELL": -1}.get(side)
    if side is not None and side_value is None:
        raise bad_field("side", "must be BUY or SELL")
    rows = ex.read.orders(principal.position_id, market=market, statuses=["OPEN"], side=side_value, limit=100)
    if id is not None:
        rows = [r for r in rows if r["order_id"] == int(id)]
    return {
        "orders": [
            {"id": str(r["order_id"]), "accountId": principal.account["account_id"], "market": market,
             "side": "BUY" if r["side"] > 0 else "SELL", "price": usd(r["price"]),
             "remainingSize": order_json(r, {market: m}, "")["remainingSize"]}
            for r in rows
        ]
    }


@router.delete("/active-orders")
async def cancel_active_orders(
    request: Request, principal: Auth, market: Annotated[str, Query(max_length=20)],
    side: Annotated[str | None, Query(max_length=4)] = None, id: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
) -> dict[str, Any]:
    ex = exchange_of(request)
    if side is None and id is None:
        return {"cancelOrders": await _cancel_all(ex, principal, market)}
    market_of(ex, market)
    side_value = None if side is None else {"BUY": 1, "SELL": -1}.get(side)
    if side is not None and side_value is None:
        raise bad_field("side", "must be BUY or SELL")
    rows = ex.read.orders(principal.position_id, market=market, statuses=["OPEN", "UNTRIGGERED"], side=side_value)
    ids = [r["order_id"] for r in rows if id is None or r["order_id"] == int(id)]
    if not ids:
        return {"cancelOrders": []}
    results = await ex.submit([(CancelOrder(0, principal.position_id, oid), None) for oid in ids])
    out = []
    for oid, events in zip(ids, results, strict=True):
        if any(isinstance(ev, OrderCanceled) for ev in events) and (row := ex.read.order(oid)) is not None:
            out.append(order_json(row, ex.config.markets, principal.account["account_id"]))
    return {"cancelOrders": out}


# -- fills, transfers, funding ---------------------------------------------------------------------------


@router.get("/fills")
def get_fills(
    request: Request, principal: Auth, market: MarketQuery = None,
    orderId: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None, limit: Limit = 100,
    createdBeforeOrAt: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    ex = exchange_of(request)
    if market is not None:
        market_of(ex, market)
    before = parse_time_ns("createdBeforeOrAt", createdBeforeOrAt)
    rows = ex.read.fills(principal.position_id, market=market, order_id=int(orderId) if orderId else None,
                         limit=limit, before_ns=before + 1 if before is not None else None)
    return {"fills": [fill_json(r, ex.config.markets) for r in rows]}


def _transfer_json(row: dict[str, Any]) -> dict[str, Any]:
    incoming = row["type"] != "WITHDRAWAL"
    return {
        "id": str(row["seq"]), "type": row["type"], "debitAsset": "USDC", "creditAsset": "USDC",
        "debitAmount": usd(row["amount"]) if not incoming else "0", "creditAmount": usd(row["amount"]) if incoming else "0",
        "transactionHash": None, "status": row["status"], "createdAt": iso(row["created_ns"]),
        "confirmedAt": iso(row["created_ns"]), "clientId": None, "fromAddress": None, "toAddress": None,
    }


@router.get("/transfers")
def get_transfers(request: Request, principal: Auth, limit: Limit = 100) -> dict[str, Any]:
    rows = exchange_of(request).read.transfers(principal.position_id, limit)
    return {"transfers": [_transfer_json(r) for r in rows]}


@router.get("/withdrawals")
def get_withdrawals(request: Request, principal: Auth, limit: Limit = 100) -> dict[str, Any]:
    rows = exchange_of(request).read.transfers(principal.position_id, 1000)
    return {"withdrawals": [_transfer_json(r) for r in rows if r["type"] == "WITHDRAWAL"][:limit]}


@router.post("/withdrawals", status_code=201)
async def create_withdrawal(request: Request, principal: Auth, body: WithdrawalRequest) -> dict[str, Any]:
    """A signed StarkEx withdrawal (type 6) of collateral, checked against the account's STARK key."""
    ex = exchange_of(request)
    try:
        expiration_ms = iso_to_epoch_ms(body.expiration, "expiration")
        message = build_withdrawal(position_id=principal.position_id, amount=body.amount, client_id=body.clientId,
                                   expiration_ms=expiration_ms, network=ex.cfg.network)
    except CryptoError as err:
        raise from_crypto(err) from None
    if expiration_ms <= time.time_ns() // 1_000_000:
        raise bad_field("expiration", "must be in the future", "EXPIRED")
    r, s = _signature_parts(body.signature)
    public_key = ex.sequencer.state.accounts[principal.position_id].public_key
    msg_hash = hash_withdrawal(message)
    if not await asyncio.to_thread(verify, public_key, msg_hash, r, s):
        raise ApiError(400, "signature.invalid", "signature: the STARK signature does not verify", "signature")
    hash_hex = f"w{msg_hash:064x}"
    if hash_hex in ex.order_hashes:
        raise ApiError(409, "DUPLICATE_WITHDRAWAL", "signature: this withdrawal was already submitted", "signature")
    ex.order_hashes.add(hash_hex)
    (events,) = await ex.submit([(WithdrawCollateral(0, principal.position_id, message.amount), {"hash": hash_hex})])
    _raise_rejection(events)
    rows = ex.read.transfers(principal.position_id, 1)
    return {"withdrawal": _transfer_json(rows[0])}


@router.get("/funding")
def get_funding(
    request: Request, principal: Auth, market: MarketQuery = None, limit: Limit = 100,
    effectiveBeforeOrAt: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The account's funding payments, newest first (negative: paid)."""
    ex = exchange_of(request)
    if market is not None:
        market_of(ex, market)
    before = parse_time_ns("effectiveBeforeOrAt", effectiveBeforeOrAt)
    rows = ex.read.funding_payments(principal.position_id, limit, market, before + 1 if before is not None else None)
    out = []
    for r in rows:
        m = ex.config.markets.get(r["market"])
        out.append({
            "market": r["market"] or None, "payment": usd(r["payment"]),
            "rate": rate_text(int(r["rate"])) if r["rate"] is not None else None,
            "positionSize": size_text(r["position_size"], m) if m is not None and r["position_size"] is not None else None,
            "price": usd(r["price"]) if r["price"] is not None else None, "effectiveAt": iso(r["created_ns"]),
        })
    return {"fundingPayments": out}


@router.post("/testnet/tokens", status_code=201)
async def request_testnet_tokens(request: Request, principal: Auth, body: EmptyRequest | None = None) -> dict[str, Any]:
    """The development network's faucet: credits ``faucet_amount`` USDC (Sepolia configuration only)."""
    ex = exchange_of(request)
    if not ex.cfg.faucet_enabled:
        raise ApiError(404, "NOT_FOUND", "the faucet exists only on the Sepolia configuration")
    amount = to_integer_units(ex.cfg.faucet_amount, COLLATERAL_RESOLUTION, "faucet_amount")
    (events,) = await ex.submit([(DepositCollateral(0, principal.position_id, amount), {"transferType": "FAUCET"})])
    _raise_rejection(events)
    rows = ex.read.transfers(principal.position_id, 1)
    return {"transfer": _transfer_json(rows[0])}
