"""Small builders for core tests: human units in, integer quantums out."""

from __future__ import annotations

from decimal import Decimal

from perpetua.core.commands import (
    CreateAccount,
    DepositCollateral,
    OraclePricesTick,
    PlaceOrder,
    SetOraclePrice,
)
from perpetua.core.markets import ExchangeConfig, dev_oracle_keys, load_config
from perpetua.core.oracle import sign_market_prices
from perpetua.core.orders import OrderType, TimeInForce, TriggerSource
from perpetua.core.sequencer import Sequencer

CONFIG: ExchangeConfig = load_config()
BTC = CONFIG.markets["BTC-USD"]
ETH = CONFIG.markets["ETH-USD"]


def usd(x: str | int) -> int:
    """USDC amount or price in collateral quantums."""
    return int(Decimal(str(x)) * 10**6)


def btc(x: str | int) -> int:
    return int(Decimal(str(x)) * BTC.resolution)


def eth(x: str | int) -> int:
    return int(Decimal(str(x)) * ETH.resolution)


class Clock:
    """A simulated clock: each call returns a later timestamp."""

    def __init__(self) -> None:
        self.ns = 1_700_000_000_000_000_000

    def __call__(self, advance_ns: int = 1_000) -> int:
        self.ns += advance_ns
        return self.ns


def exchange(
    accounts: dict[int, str] | None = None,
    prices: dict[str, str] | None = None,
    config: ExchangeConfig = CONFIG,
) -> tuple[Sequencer, Clock]:
    """A sequencer with funded accounts {position id: USDC} and oracle prices {market: USD}."""
    seq, clock = Sequencer(config), Clock()
    for mid, px in (prices or {"BTC-USD": "40000", "ETH-USD": "3000"}).items():
        seq.apply(SetOraclePrice(clock(), mid, usd(px)))
    for pid, amount in (accounts or {}).items():
        seq.apply(CreateAccount(clock(), pid, 0x1000 + pid))
        seq.apply(DepositCollateral(clock(), pid, usd(amount)))
    return seq, clock


_client_ids = iter(range(1, 10**9))


def order(
    clock: Clock,
    pid: int,
    side: int,
    size: int,
    price: int,
    market: str = "BTC-USD",
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTT,
    **kw: object,
) -> PlaceOrder:
    return PlaceOrder(
        clock(), pid, market, side, order_type, tif, size, price,
        client_id=str(kw.pop("client_id", f"c{next(_client_ids)}")),
        trigger_source=kw.pop("trigger_source", TriggerSource.MARK),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


# -- signed oracle ticks (the development signers of markets.toml) ----------------------------------

DEV_KEYS: dict[int, int] = dev_oracle_keys(CONFIG.dev_oracle_seeds)
"""Public key -> private key of the five development oracle signers, in key order."""
S = 1_000_000_000
"""Nanoseconds per second."""


def signed_tick(
    timestamp_ns: int,
    prices: dict[str, int],
    signers: int = 3,
    signed_at_s: int | None = None,
    config: ExchangeConfig = CONFIG,
) -> OraclePricesTick:
    """A tick signing each market's ``prices`` (collateral quantums) by the first ``signers`` dev
    oracles, all at ``signed_at_s`` (default: the command's second)."""
    ts = timestamp_ns // S if signed_at_s is None else signed_at_s
    return OraclePricesTick(
        timestamp_ns,
        tuple(
            sign_market_prices(DEV_KEYS, config.markets[mid], [price] * signers, ts)
            for mid, price in sorted(prices.items())
        ),
    )
