"""A live simulated market on the real exchange core: the main job's traffic.

The oracle follows recorded one-minute candles (open, nearer extreme, other extreme, close). Around
it, the participants send their commands through a **submit callable** (a batch of commands in, the
events of each out), so the same participants drive an in-process ``Sequencer`` (tests, the default)
or the API server's serial exchange (``perpetua.mainjob``):

- the oracle moves by signed ``OraclePricesTick``s from the development signers
  (``markets.dev_oracle_keys``), or by whatever ``oracle`` callable the caller supplies;
- market makers requote a ladder of bids and asks at every price point (cancel all, then post-only
  limits at growing distances and sizes, in one batch);
- takers send IOC market orders of random side and size (seeded);
- leveraged traders hold positions near a target leverage, adding on a random side when flat;
- one demo account, whose keys ``perpetua up`` prints, starts flat with collateral.

Each candle is a generator of command batches (``batches``): it yields a batch, receives the
batch's events, and reads the exchange state (``state``) only between batches. ``step`` drives it
with a synchronous submit, ``step_async`` with an awaitable one.

Deterministic with the default sequencer: the same candles and seed give the same commands, events
and state hash.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field

from perpetua.core.commands import (
    CancelAllOrders,
    Command,
    CreateAccount,
    DepositCollateral,
    OraclePricesTick,
    PlaceOrder,
)
from perpetua.core.events import Event, OrderFilled
from perpetua.core.markets import ExchangeConfig, Market, dev_oracle_keys
from perpetua.core.oracle import sign_market_prices
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, NS_PER_S, PPM
from perpetua.core.risk import margin_summary
from perpetua.core.sequencer import Sequencer
from perpetua.core.state import ExchangeState
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.sim.candles import Candle

MAKERS = (100, 101, 102)
TAKERS = (200, 201, 202, 203, 204)
LEVERAGED = (300, 301, 302)
DEMO_ACCOUNT = 1000
POINT_SPACING_NS = 15 * NS_PER_S
"""Simulated time between the four price points of a one-minute candle."""

Submit = Callable[[Sequence[Command]], list[list[Event]]]
"""Apply a batch of commands back to back; the events of each command."""
AsyncSubmit = Callable[[Sequence[Command]], Awaitable[list[list[Event]]]]
OracleFeed = Callable[[Market, int, int], Command | None]
"""(market, price in quantums per unit, simulated time ns) -> the command that moves the oracle there,
or None to skip this point."""
Batches = Generator[list[Command], list[list[Event]], None]


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
    demo_collateral_usd: int = 10_000


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


def signed_oracle_feed(config: ExchangeConfig) -> OracleFeed:
    """An oracle feed that signs each point with every development signer at the simulated time
    (whole seconds; a point in the same second as the previous one is skipped)."""
    keys = dev_oracle_keys(config.dev_oracle_seeds)
    last_s = [-1]

    def feed(market: Market, price: int, t_ns: int) -> Command | None:
        ts = t_ns // NS_PER_S
        if ts <= last_s[0]:
            return None
        last_s[0] = ts
        signed = sign_market_prices(keys, market, [price] * len(market.oracle_signers), ts)
        return OraclePricesTick(t_ns, (signed,))

    return feed


class DemoMarket:
    """Simulated participants around a recorded price path, submitting through ``submit``.

    With no ``submit`` the market runs its own ``Sequencer`` (``self.sequencer``). Otherwise the
    caller passes ``state`` (the exchange state the participants read between batches) and a
    ``submit`` that applies commands there (the caller may restamp their times).
    """

    def __init__(
        self,
        config: ExchangeConfig,
        candles: list[Candle],
        settings: DemoSettings | None = None,
        *,
        submit: Submit | None = None,
        state: ExchangeState | None = None,
        oracle: OracleFeed | None = None,
    ) -> None:
        self.settings = settings or DemoSettings()
        self.sequencer: Sequencer | None = None
        if submit is None:
            seq = Sequencer(config)
            self.sequencer = seq
            submit = lambda cmds: [seq.apply(c) for c in cmds]  # noqa: E731
            state = seq.state
        elif state is None:
            raise ValueError("a DemoMarket with its own submit needs the exchange state it submits to")
        self.submit: Submit = submit
        self.state: ExchangeState = state
        self.oracle: OracleFeed = oracle or signed_oracle_feed(config)
        self.market: Market = config.markets[self.settings.market_id]
        self.candles = candles
        self.rng = random.Random(self.settings.seed)
        self.stats = DemoStats()
        self.position = 0
        self._cid = 0
        self._t = candles[0].timestamp_ns - 10**9 if candles else 0
        self.started = False

    # -- the drive -------------------------------------------------------------------------------

    def run(self) -> Iterator[tuple[Candle, list[Event]]]:
        """Replay every candle (synchronous submit); yields each candle with the events it caused."""
        while self.position < len(self.candles):
            yield self.step()

    def step(self) -> tuple[Candle, list[Event]]:
        """The next candle through the synchronous ``submit`` (the genesis first, once)."""
        candle, gen = self._next()
        events: list[Event] = []
        try:
            batch = next(gen)
            while True:
                answer = self.submit(batch)
                events += self._count(answer)
                batch = gen.send(answer)
        except StopIteration:
            pass
        return candle, events

    async def step_async(self, submit: AsyncSubmit) -> tuple[Candle, list[Event]]:
        """The next candle through an awaitable ``submit`` (e.g. ``perpetua.api``'s exchange)."""
        candle, gen = self._next()
        events: list[Event] = []
        try:
            batch = next(gen)
            while True:
                answer = await submit(batch)
                events += self._count(answer)
                batch = gen.send(answer)
        except StopIteration:
            pass
        return candle, events

    def _next(self) -> tuple[Candle, Batches]:
        candle = self.candles[self.position]
        self.position += 1
        if not self.started:
            self.started = True
            return candle, self._with_genesis(candle)
        return candle, self.batches(candle)

    def _with_genesis(self, candle: Candle) -> Batches:
        yield self.genesis()
        yield from self.batches(candle)

    def batches(self, candle: Candle) -> Batches:
        """The command batches of one candle: at each of its four price points the oracle, each
        maker's requote, the takers, one leveraged trader. State is read lazily, between batches."""
        s = self.settings
        for i, price in enumerate(candle.path()):
            self._t = max(self._t + 1, candle.timestamp_ns + i * POINT_SPACING_NS)
            tick = self.oracle(self.market, price, self._now())
            if tick is not None:
                yield [tick]
            for maker in MAKERS:
                yield self._quote(maker, price)
            for _ in range(s.taker_orders_per_point):
                yield [self._take(self.rng.choice(TAKERS), price)]
            lever = self._lever(self.rng.choice(LEVERAGED), price)
            if lever:
                yield lever

    # -- participants ----------------------------------------------------------------------------

    def genesis(self) -> list[Command]:
        """Accounts and deposits of every participant and of the demo account."""
        usd = COLLATERAL_RESOLUTION
        funded = [(m, 5_000_000) for m in MAKERS] + [(t, 200_000) for t in TAKERS]
        funded += [(lv, 20_000) for lv in LEVERAGED] + [(DEMO_ACCOUNT, self.settings.demo_collateral_usd)]
        cmds: list[Command] = []
        for pid, amount in funded:
            if pid in self.state.accounts:
                continue
            cmds.append(CreateAccount(self._now(), pid, public_key(demo_private_key(pid))))
            cmds.append(DepositCollateral(self._now(), pid, amount * usd))
        return cmds

    def _quote(self, maker: int, oracle: int) -> list[Command]:
        s, m = self.settings, self.market
        cmds: list[Command] = [CancelAllOrders(self._now(), maker, s.market_id)]
        skew = self.rng.randint(-1, 1)
        for level in range(s.levels):
            # (level + 1 + skew / 2) spreads from the oracle, in integers
            distance = oracle * s.spread_bps * (2 * level + 2 + skew) // 20_000
            step = max(m.tick_size, distance // m.tick_size * m.tick_size)
            size = m.min_order_size * 100 * s.maker_size_units[level % len(s.maker_size_units)]
            for side, price in ((1, oracle - step), (-1, oracle + step)):
                cmds.append(self._order(maker, side, size, price, OrderType.LIMIT, TimeInForce.GTT, post_only=True))
        return cmds

    def _take(self, taker: int, oracle: int) -> PlaceOrder:
        m = self.market
        side = self.rng.choice((1, -1))
        size = m.min_order_size * self.rng.randint(1, 500)
        worst = oracle * (100 + side) // 100 // m.tick_size * m.tick_size  # 1% slippage bound
        return self._order(taker, side, size, worst, OrderType.MARKET, TimeInForce.IOC)

    def _lever(self, trader: int, oracle: int) -> list[Command]:
        """Keep a leveraged position open: when flat, open one at the target leverage."""
        state, m = self.state, self.market
        acct = state.accounts.get(trader)
        if acct is None or acct.size(m.market_id) != 0 or m.market_id not in state.oracle_prices:
            return []
        equity = margin_summary(acct, state.markets, state.oracle_prices, state.funding_indices).equity
        notional = equity * self.settings.leverage_target_ppm // PPM
        size = notional * m.resolution // oracle // m.step_size * m.step_size
        if size < m.min_order_size:
            return []
        side = self.rng.choice((1, -1))
        worst = oracle * (100 + side) // 100 // m.tick_size * m.tick_size
        return [self._order(trader, side, size, worst, OrderType.MARKET, TimeInForce.IOC)]

    # -- plumbing --------------------------------------------------------------------------------

    def _order(self, pid: int, side: int, size: int, price: int, otype: OrderType, tif: TimeInForce,
               post_only: bool = False) -> PlaceOrder:
        self._cid += 1
        return PlaceOrder(self._now(), pid, self.settings.market_id, side, otype, tif, size, price,
                          f"demo-{self._cid}", post_only=post_only)

    def _now(self) -> int:
        self._t += 1_000
        return self._t

    def _count(self, answer: list[list[Event]]) -> list[Event]:
        out: list[Event] = []
        for events in answer:
            for e in events:
                if isinstance(e, OrderFilled):
                    self.stats.fills += 1
                    self.stats.volume_quote += e.size * e.price // self.market.resolution
                    self.stats.last_price = e.price
                elif type(e).__name__ in ("OrderRejected", "CommandRejected"):
                    self.stats.rejected += 1
            out += events
        return out
