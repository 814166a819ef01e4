"""Small builders for core tests: human units in, integer quantums out."""

from __future__ import annotations

from decimal import Decimal

from perpetua.core.commands import CreateAccount, DepositCollateral, PlaceOrder, SetOraclePrice
from perpetua.core.markets import ExchangeConfig, load_config
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
