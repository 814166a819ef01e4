"""Builders for rollup tests: a config over the packaged markets, keys, signed messages."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from perpetua.core.markets import load_config
from perpetua.crypto.assets import Network, collateral_asset_id
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import LimitOrder, hash_transfer, hash_withdrawal
from perpetua.crypto.messages import Transfer as TransferMessage
from perpetua.crypto.messages import Withdrawal as WithdrawalMessage
from perpetua.crypto.signatures import sign
from perpetua.rollup.apply import apply_all
from perpetua.rollup.config import GeneralConfig, config_from_exchange, internal_price
from perpetua.rollup.orders import SignedOrder, limit_order_hash
from perpetua.rollup.state import BatchContext, RollupState
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.transfer import Transfer
from perpetua.rollup.transactions.withdrawal import Withdrawal

COLLATERAL = collateral_asset_id(Network.SEPOLIA)
EXCHANGE = load_config()
BTC = EXCHANGE.market("BTC-USD")
ETH = EXCHANGE.market("ETH-USD")
FEE_POSITION = EXCHANGE.fee_position_id
NOW_H = 480_000
NOW_S = NOW_H * 3600


@cache
def private_key(n: int) -> int:
    return private_key_from_seed(f"rollup-test-{n}".encode())


@cache
def key(n: int) -> int:
    return public_key(private_key(n))


def make_config() -> GeneralConfig:
    return config_from_exchange(EXCHANGE, COLLATERAL, key(FEE_POSITION))


CONFIG = make_config()


def context(**kw: object) -> BatchContext:
    return BatchContext(config=CONFIG, min_expiration_hours=NOW_H, **kw)  # type: ignore[arg-type]


def base_state(btc_price: int = 40_000_000_000, eth_price: int = 3_000_000_000) -> RollupState:
    """Prices set (BTC 40k, ETH 3k), funding indices 0, system time NOW_S."""
    prices = {BTC.synthetic_asset_id: internal_price(btc_price, BTC.resolution),
              ETH.synthetic_asset_id: internal_price(eth_price, ETH.resolution)}
    return replace(RollupState(), oracle_prices=dict(sorted(prices.items())),
                   funding_indices=dict.fromkeys(sorted(prices), 0), funding_timestamp=NOW_S, system_time=NOW_S)


def funded_state(*deposits: tuple[int, int]) -> RollupState:
    state, _ = apply_all(base_state(), [Deposit(pid, key(pid), amount) for pid, amount in deposits], context())
    return state


def order(pid: int, buying: bool, synthetic: int, collateral: int, fee: int = 0, nonce: int = 1,
          expiration_hours: int = NOW_H + 10, market=BTC, signer: int | None = None) -> SignedOrder:
    o = LimitOrder(market.synthetic_asset_id, COLLATERAL, COLLATERAL, buying, synthetic, collateral, fee, nonce,
                   pid, expiration_hours)
    return SignedOrder(o, key(pid), sign(private_key(signer if signer is not None else pid), limit_order_hash(o)))


def trade(buyer: int, seller: int, synthetic: int, collateral: int, fee: int = 0, **kw: object) -> Trade:
    a = order(buyer, True, synthetic, collateral, fee, **kw)  # type: ignore[arg-type]
    b = order(seller, False, synthetic, collateral, fee, **kw)  # type: ignore[arg-type]
    return Trade(a, b, collateral, synthetic, fee, fee)


def withdrawal(pid: int, amount: int, nonce: int = 7, expiration_hours: int = NOW_H + 1,
               signer: int | None = None) -> Withdrawal:
    m = WithdrawalMessage(COLLATERAL, pid, nonce, amount, expiration_hours)
    return Withdrawal(m, key(pid), sign(private_key(signer if signer is not None else pid), hash_withdrawal(m)))


def transfer(sender: int, receiver: int, amount: int, nonce: int = 9, condition: int | None = None) -> TransferMessage:
    return TransferMessage(COLLATERAL, key(receiver), sender, receiver, nonce, amount, NOW_H + 1, sender,
                           condition=condition)


def signed_transfer(sender: int, receiver: int, amount: int, nonce: int = 9) -> Transfer:
    m = transfer(sender, receiver, amount, nonce)
    return Transfer(m, key(sender), sign(private_key(sender), hash_transfer(m)))
