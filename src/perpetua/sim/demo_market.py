"""A live simulated market on the real exchange core: the main job's traffic.

The oracle follows recorded one-minute candles (open, nearer extreme, other extreme, close). Around
it, through the same ``Sequencer`` the exchange runs:

- market makers requote a ladder of bids and asks at every price point (cancel all, then post-only
  limits at growing distances and sizes);
- takers send IOC market orders of random side and size (seeded);
- leveraged traders hold positions near a target leverage, adding on a random side when flat;
- one demo account, whose keys ``perpetua up`` prints, starts flat with collateral.

Deterministic: the same candles and seed give the same commands, events and state hash.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from perpetua.core.commands import (
    CancelAllOrders,
    Command,
    CreateAccount,
    DepositCollateral,
    PlaceOrder,
    SetOraclePrice,
)
from perpetua.core.events import Event, OrderFilled
from perpetua.core.markets import ExchangeConfig, Market
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM
from perpetua.core.risk import margin_summary
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.sim.candles import Candle

MAKERS = (100, 101, 102)
TAKERS = (200, 201, 202, 203, 204)
LEVERAGED = (300, 301, 302)
DEMO_ACCOUNT = 1000


@dataclass(frozen=True, slots=True)
class DemoSettings:
    market_id: str = "BTC-USD"
    seed: int = 1
    levels: int = 5
    """Price levels each maker quotes per side."""
    spread_bps: int = 2
    """Distance of a maker's best quote from the oracle, in basis points; further levels step by it."""
    maker_size_units: tuple[int, ...] = (1, 2, 3, 5, 8)
    """Quote size per level, in minimum order sizes x 100 (BTC: 0.1 to 0.8)."""
    taker_orders_per_point: int = 2
    leverage_target_ppm: int = 8 * PPM


@dataclass(slots=True)
class DemoStats:
    fills: int = 0
    volume_quote: int = 0
    rejected: int = 0
    last_price: int | None = None
    fills_by_account: dict[int, int] = field(default_factory=dict)


def demo_private_key(position_id: int) -> int:
    """The STARK private key of a demo account: derived from a fixed seed (development only)."""
    return private_key_from_seed(f"perpetua-demo-account-{position_id}".encode())


class DemoMarket:
    """Drives a ``Sequencer`` with a recorded price path and simulated participants."""

    def __init__(self, config: ExchangeConfig, candles: list[Candle], settings: DemoSettings | None = None) -> None:
        self.settings = settings or DemoSettings()
        self.sequencer = Sequencer(config)
        self.market: Market = config.markets[self.settings.market_id]
        self.candles = candles
        self.rng = random.Random(self.settings.seed)
        self.stats = DemoStats()
        self.position = 0
        self._cid = 0
        self._t = candles[0].timestamp_ns - 10**9 if candles else 0
        for cmd in self._genesis():
            self._apply(cmd)

    # -- the drive -------------------------------------------------------------------------------

    def run(self) -> Iterator[tuple[Candle, list[Event]]]:
        """Replay every candle; yields each candle with the events it caused."""
        while self.position < len(self.candles):
            yield self.step()

    def step(self) -> tuple[Candle, list[Event]]:
        candle = self.candles[self.position]
        self.position += 1
        events: list[Event] = []
        for i, price in enumerate(candle.path()):
            self._t = max(self._t + 1, candle.timestamp_ns + i * 15 * 10**9)
            events += self._apply(SetOraclePrice(self._now(), self.settings.market_id, price))
            for maker in MAKERS:
                events += self._quote(maker, price)
            for _ in range(self.settings.taker_orders_per_point):
                events += self._take(self.rng.choice(TAKERS), price)
            events += self._lever(self.rng.choice(LEVERAGED), price)
        return candle, events

    # -- participants ----------------------------------------------------------------------------

    def _genesis(self) -> list[Command]:
        usd = COLLATERAL_RESOLUTION
        funded = [(m, 5_000_000) for m in MAKERS] + [(t, 200_000) for t in TAKERS]
        funded += [(lv, 20_000) for lv in LEVERAGED] + [(DEMO_ACCOUNT, 10_000)]
        cmds: list[Command] = []
        for pid, amount in funded:
            cmds.append(CreateAccount(self._now(), pid, public_key(demo_private_key(pid))))
            cmds.append(DepositCollateral(self._now(), pid, amount * usd))
        return cmds

    def _quote(self, maker: int, oracle: int) -> list[Event]:
        s, m = self.settings, self.market
        events = self._apply(CancelAllOrders(self._now(), maker, s.market_id))
        skew = self.rng.randint(-1, 1)
        for level in range(s.levels):
            # (level + 1 + skew / 2) spreads from the oracle, in integers
            distance = oracle * s.spread_bps * (2 * level + 2 + skew) // 20_000
            step = max(m.tick_size, distance // m.tick_size * m.tick_size)
            size = m.min_order_size * 100 * s.maker_size_units[level % len(s.maker_size_units)]
            for side, price in ((1, oracle - step), (-1, oracle + step)):
                events += self._apply(self._order(maker, side, size, price, OrderType.LIMIT, TimeInForce.GTT, post_only=True))
        return events

    def _take(self, taker: int, oracle: int) -> list[Event]:
        m = self.market
        side = self.rng.choice((1, -1))
        size = m.min_order_size * self.rng.randint(1, 500)
        worst = oracle * (100 + side) // 100 // m.tick_size * m.tick_size  # 1% slippage bound
        return self._apply(self._order(taker, side, size, worst, OrderType.MARKET, TimeInForce.IOC))

    def _lever(self, trader: int, oracle: int) -> list[Event]:
        """Keep a leveraged position open: when flat, open one at the target leverage."""
        seq, m = self.sequencer, self.market
        acct = seq.state.accounts[trader]
        if acct.size(m.market_id) != 0:
            return []
        equity = margin_summary(acct, seq.state.markets, seq.state.oracle_prices, seq.state.funding_indices).equity
        notional = equity * self.settings.leverage_target_ppm // PPM
        size = notional * m.resolution // oracle // m.step_size * m.step_size
        if size < m.min_order_size:
            return []
        side = self.rng.choice((1, -1))
        worst = oracle * (100 + side) // 100 // m.tick_size * m.tick_size
        return self._apply(self._order(trader, side, size, worst, OrderType.MARKET, TimeInForce.IOC))

    # -- plumbing --------------------------------------------------------------------------------

    def _order(self, pid: int, side: int, size: int, price: int, otype: OrderType, tif: TimeInForce,
               post_only: bool = False) -> PlaceOrder:
        self._cid += 1
        return PlaceOrder(self._now(), pid, self.settings.market_id, side, otype, tif, size, price,
                          f"demo-{self._cid}", post_only=post_only)

    def _now(self) -> int:
        self._t += 1_000
        return self._t

    def _apply(self, cmd: Command) -> list[Event]:
        events = self.sequencer.apply(cmd)
        for e in events:
            if isinstance(e, OrderFilled):
                self.stats.fills += 1
                self.stats.volume_quote += e.size * e.price // self.market.resolution
                self.stats.last_price = e.price
            elif type(e).__name__ in ("OrderRejected", "CommandRejected"):
                self.stats.rejected += 1
        return events
