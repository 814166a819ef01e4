"""The stress lab: scenarios (data files) run through the real exchange core, and sweeps over them.

A scenario (TOML, see ``src/perpetua/sim/scenarios/``) names a market, a price path, oracle faults,
liquidity changes and a population of agents. ``run_scenario`` replays it minute by minute with
signed oracle ticks every 15 s (development signers), and returns metrics:

- conservation: total collateral (accounts + insurance fund + fees) checked after every command;
- liquidations and deleverages (counted from the core's events, whichever the engine emits),
  their notional where the event carries it;
- the insurance fund's path: start, minimum, end;
- bad debt: the negative equity left on accounts at the end;
- time from the first maintenance breach of an account (TV < MMR at the oracle) to its first
  liquidation event, in seconds (mean and max);
- accounts still liquidatable at the end.

Price paths: ``recorded`` (a minute-candle file, e.g. the January 2022 crash) or ``gap`` (a move of
``gap_pct`` over ``gap_minutes`` — or ``gap_ticks`` 15 s ticks — after ``pre_minutes``). Oracle faults: ``stale`` (no ticks for a
while: the market degrades, nothing is liquidated on a stale price) and ``rogue_signer`` (one signer
pushes its price far away: the quorum median must hold). Liquidity: makers' depth cut by a fraction
from a given minute; makers also widen (``widen_factor``) when the last minute moved more than
``vol_threshold_bps``, and stop adding to inventory beyond ``inventory_limit``.

Correlated markets: ``[path.companions]`` lists other markets with their starting prices; each
moves ``beta`` times the main market's relative move, traders split their leverage over all of
them (cross margin), makers quote each, and one signed tick carries every market. Funding runs on each
market's cadence (premium samples, funding ticks); a ``funding_spike`` fault leans every maker's
quotes ``premium_bps`` above the index for a while, so the premium and the funding rate spike.

Deterministic: a scenario, its overrides and its seed give identical metrics.
"""

from __future__ import annotations

import dataclasses
import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpetua.core.commands import (
    CancelAllOrders,
    Command,
    CreateAccount,
    DepositCollateral,
    FundingTick,
    Liquidate,
    OraclePricesTick,
    PlaceOrder,
    SampleFundingPremium,
)
from perpetua.core.events import Event, LiquidationFilled
from perpetua.core.liquidation import bankruptcy_collateral
from perpetua.core.markets import ExchangeConfig, Market, dev_oracle_keys, load_config
from perpetua.core.oracle import sign_market_prices
from perpetua.core.orders import OrderType, TimeInForce
from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, to_integer_units
from perpetua.core.risk import account_totals
from perpetua.core.sequencer import Sequencer
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import LimitOrder, hash_limit_order
from perpetua.crypto.signatures import sign
from perpetua.sim.marketdata import Bar, Scale, load

S = 10**9
TICK_NS = 15 * S
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
TRADER_IDS_FROM = 10_000
OPENING_TICKS = 8
MAKER_IDS_FROM = 5_000
KEEPER_IDS_FROM = 7_000
BACKSTOP_ID = 7_999
KEEPER_EXPIRATION_HOURS = 10**6


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    market_id: str = "BTC-USD"
    seed: int = 1
    path: dict[str, Any] = field(default_factory=dict)
    faults: tuple[dict[str, Any], ...] = ()
    liquidity: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, Any] = field(default_factory=dict)
    market: dict[str, str] = field(default_factory=dict)
    """Market overrides in the config file's own names and units (e.g. initial_margin_fraction = "0.05")."""
    insurance_fund_usd: int = 0
    """Collateral deposited into the insurance fund before the run."""
    exchange: dict[str, Any] = field(default_factory=dict)
    """Exchange-wide overrides by ``ExchangeConfig`` field (e.g. ``socialized_loss = true``)."""
    settlement: dict[str, Any] = field(default_factory=dict)
    """``mode = "auto"`` (the exchange liquidates on every price move, the default) or ``"keepers"``
    (``auto_liquidate`` off: keeper agents liquidate with signed ``Liquidate`` commands, only at batch
    boundaries every ``batch_interval_s`` seconds; 0 = at every oracle tick)."""


def load_scenario(path: str | Path) -> Scenario:
    """A scenario from TOML: a path, or the name of a packaged scenario (``gap-30``)."""
    p = Path(path)
    if not p.exists():
        p = SCENARIO_DIR / f"{path}.toml"
    doc = tomllib.loads(p.read_text())
    return Scenario(
        name=doc.get("name", p.stem),
        market_id=doc.get("market_id", "BTC-USD"),
        seed=int(doc.get("seed", 1)),
        path=doc["path"],
        faults=tuple(doc.get("faults", [])),
        liquidity=doc.get("liquidity", {}),
        agents=doc.get("agents", {}),
        market=doc.get("market", {}),
        insurance_fund_usd=int(doc.get("insurance_fund_usd", 0)),
        exchange=doc.get("exchange", {}),
        settlement=doc.get("settlement", {}),
    )


_GRID_KEYS = {
    "margin.imf": "initial_margin_fraction",
    "margin.mmf": "maintenance_margin_fraction",
    "imf": "initial_margin_fraction",
    "mmf": "maintenance_margin_fraction",
}


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """Apply sweep parameters: ``margin.imf`` / ``margin.mmf`` / any market field name (as in the
    config file), ``fund`` (insurance fund USDC), ``agents.<name>``, ``liquidity.<name>``,
    ``exchange.<ExchangeConfig field>`` (e.g. ``exchange.socialized_loss``), ``seed``,
    ``batch_interval`` (seconds; turns on keeper settlement) and ``settlement.<name>``."""
    s = scenario
    for key, value in overrides.items():
        if key == "fund":
            s = dataclasses.replace(s, insurance_fund_usd=int(value))
        elif key == "seed":
            s = dataclasses.replace(s, seed=int(value))
        elif key.startswith("agents."):
            s = dataclasses.replace(s, agents={**s.agents, key[7:]: value})
        elif key.startswith("liquidity."):
            s = dataclasses.replace(s, liquidity={**s.liquidity, key[10:]: value})
        elif key in ("batch_interval", "batch_interval_s"):
            s = dataclasses.replace(s, settlement={"mode": "keepers", **s.settlement, "batch_interval_s": int(value)})
        elif key.startswith("settlement."):
            s = dataclasses.replace(s, settlement={**s.settlement, key[11:]: value})
        elif key.startswith("exchange."):
            s = dataclasses.replace(s, exchange={**s.exchange, key[9:]: value})
        else:
            name = _GRID_KEYS.get(key, key.removeprefix("market."))
            s = dataclasses.replace(s, market={**s.market, name: str(value)})
    return s


def _exchange_overrides(base: ExchangeConfig, scenario: Scenario) -> ExchangeConfig:
    changes: dict[str, Any] = {}
    for name, value in scenario.exchange.items():
        if name not in {f.name for f in dataclasses.fields(base)} or name == "markets":
            raise ValueError(f"exchange override {name!r}: no such exchange setting")
        current = getattr(base, name)
        if isinstance(current, bool):
            changes[name] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        else:
            changes[name] = type(current)(value)
    return dataclasses.replace(base, **changes) if changes else base


def _market_config(base: ExchangeConfig, scenario: Scenario) -> ExchangeConfig:
    """The base configuration with the scenario's overrides (same validation as the loader)."""
    base = _exchange_overrides(base, scenario)
    mode = scenario.settlement.get("mode", "auto")
    if mode not in ("auto", "keepers"):
        raise ValueError(f"settlement.mode {mode!r}: expected 'auto' or 'keepers'")
    if mode == "keepers":
        base = dataclasses.replace(base, auto_liquidate=False)
    if not scenario.market:
        return base
    from perpetua.core.markets import check_market

    m = base.markets[scenario.market_id]
    changes: dict[str, int] = {}
    units = {
        "initial_margin_fraction": ("initial_margin_ppm", PPM),
        "maintenance_margin_fraction": ("maintenance_margin_ppm", PPM),
        "incremental_initial_margin_fraction": ("incremental_initial_margin_ppm", PPM),
        "maker_fee": ("maker_fee_ppm", PPM),
        "taker_fee": ("taker_fee_ppm", PPM),
    }
    for name, text in scenario.market.items():
        if name in units:
            attr, scale = units[name]
            changes[attr] = to_integer_units(text, scale, name)
        elif hasattr(m, name):
            changes[name] = int(text)
        else:
            raise ValueError(f"market override {name!r}: no such market setting")
    market = dataclasses.replace(m, **changes)
    check_market(market)
    return dataclasses.replace(base, markets={**base.markets, scenario.market_id: market})


def price_path(scenario: Scenario, market: Market) -> list[int]:
    """Oracle prices every 15 s (collateral quantums, on the tick grid)."""
    spec = scenario.path
    tick = market.tick_size
    kind = spec.get("kind", "gap")
    prices: list[int] = []
    if kind == "recorded":
        file = Path(spec["file"])
        if not file.is_absolute():
            shipped = Path(__file__).resolve().parents[1] / "data" / file
            shared = Path(__file__).resolve().parents[3].parent / "shared" / "data" / file
            file = shipped if shipped.exists() else shared
        start = spec.get("start", "")
        minutes = int(spec.get("minutes", 60))
        from perpetua.sim.marketdata.formats import parse_time_ns

        start_ns = parse_time_ns(start) if start else 0
        bars = [e for e in load(file, Scale(size=market.resolution)) if isinstance(e, Bar) and e.timestamp_ns >= start_ns]
        for bar in bars[:minutes]:
            near, far = (bar.high, bar.low) if abs(bar.high - bar.open) <= abs(bar.open - bar.low) else (bar.low, bar.high)
            prices += [bar.open, near, far, bar.close]
    else:
        start = to_integer_units(str(spec.get("start_price", "40000")), COLLATERAL_RESOLUTION, "start_price")
        pre, gap_min, post = int(spec.get("pre_minutes", 10)), int(spec.get("gap_minutes", 1)), int(spec.get("post_minutes", 20))
        gap_ppm = to_integer_units(str(spec.get("gap_pct", "-30")), PPM // 100, "gap_pct")
        rng = random.Random(scenario.seed)
        price = start
        for _ in range(pre * 4):
            price += price * rng.randint(-5, 5) // 10_000  # a few basis points of noise
            prices.append(price)
        target = price + price * gap_ppm // PPM
        steps = int(spec.get("gap_ticks", gap_min * 4))  # a single tick is a true gap: no price in between
        base = price
        for i in range(1, steps + 1):
            prices.append(base + (target - base) * i // steps)
        price = target
        for _ in range(post * 4):
            price += price * rng.randint(-10, 10) // 10_000
            prices.append(price)
    return [max(tick, p // tick * tick) for p in prices]


@dataclass(slots=True)
class _Metrics:
    commands: int = 0
    conservation_violations: int = 0
    liquidation_events: int = 0
    liquidated_notional: int = 0
    deleverage_events: int = 0
    fund: list[int] = field(default_factory=list)
    breach_ns: dict[int, int] = field(default_factory=dict)
    liquidated_ns: dict[int, int] = field(default_factory=dict)
    rejected: int = 0
    keeper_liquidations: int = 0
    keeper_attempts_lost: int = 0
    """Keeper ``Liquidate`` commands refused because another keeper got there first (or the account
    was no longer liquidatable)."""
    backstop_liquidations: int = 0
    keeper_wins: dict[int, int] = field(default_factory=dict)
    boundaries: int = 0
    max_funding_rate_ppb: int = 0
    funding_paid_by_traders: int = 0


class StressRun:
    """One scenario through a fresh sequencer."""

    def __init__(self, scenario: Scenario, base: ExchangeConfig | None = None) -> None:
        self.scenario = scenario
        self.config = _market_config(base or load_config(), scenario)
        self.market = self.config.markets[scenario.market_id]
        self.seq = Sequencer(self.config)
        self.rng = random.Random(scenario.seed)
        self.metrics = _Metrics()
        self.keys = dev_oracle_keys(self.config.dev_oracle_seeds)
        self._t = 1_700_000_000 * S
        self._cid = 0
        self._total = 0
        a = scenario.agents
        self.n_traders = int(a.get("traders", 200))
        self.n_makers = int(a.get("makers", 3))
        self.leverage_mean = float(a.get("leverage_mean", 10))
        self.leverage_sigma = float(a.get("leverage_sigma", 0.4))
        self.long_share = float(a.get("long_share", 0.7))
        self.trader_usd = int(a.get("trader_collateral_usd", 10_000))
        liq = scenario.liquidity
        self.levels = int(liq.get("levels", 8))
        self.spread_bps = int(liq.get("spread_bps", 5))
        self.level_size = to_integer_units(str(liq.get("level_size", "2")), self.market.resolution, "level_size")
        self.inventory_limit = to_integer_units(str(liq.get("inventory_limit", "100")), self.market.resolution, "inventory_limit")
        self.vol_threshold_bps = int(liq.get("vol_threshold_bps", 100))
        self.widen_factor = int(liq.get("widen_factor", 3))
        self.withdraw_at_minute = int(liq.get("withdraw_at_minute", -1))
        self.withdraw_pct = int(liq.get("withdraw_pct", 0))
        st = scenario.settlement
        self.keepers_mode = st.get("mode", "auto") == "keepers"
        self.batch_interval_ns = int(st.get("batch_interval_s", 0)) * S
        self.n_keepers = int(a.get("keepers", 3))
        discounts = a.get("keeper_discount_bps", [20, 50, 100])
        self.keeper_discount_bps = [int(discounts[k % len(discounts)]) for k in range(self.n_keepers)]
        self.keeper_usd = int(a.get("keeper_collateral_usd", 5_000_000))
        self._keeper_keys = {KEEPER_IDS_FROM + k: private_key_from_seed(f"keeper-{k}".encode())
                             for k in range(self.n_keepers)}
        self._keeper_keys[BACKSTOP_ID] = private_key_from_seed(b"backstop")
        self._nonce = 0
        self._last_boundary = -1
        spec = scenario.path
        self.companions: dict[str, int] = {
            mid: to_integer_units(str(start), COLLATERAL_RESOLUTION, f"companions.{mid}")
            for mid, start in sorted(spec.get("companions", {}).items())
        }
        """Markets that move with the main one (a correlated crash): market id -> starting price."""
        self.beta_ppm = to_integer_units(str(spec.get("beta", "1")), PPM, "beta")
        """Each companion's relative move as a multiple of the main market's."""
        self.market_start = 0
        self.starts: dict[str, int] = dict(self.companions)

    # -- plumbing --------------------------------------------------------------------------------

    def _now(self) -> int:
        self._t += 1_000
        return self._t

    def submit(self, cmd: Command) -> list[Event]:
        events = self.seq.apply(cmd)
        m = self.metrics
        m.commands += 1
        for e in events:
            name = type(e).__name__
            if name.endswith("Rejected"):
                m.rejected += 1
            elif "Liquidat" in name:
                m.liquidation_events += 1
                size, price = getattr(e, "size", 0), getattr(e, "price", 0)
                if isinstance(size, int) and isinstance(price, int):
                    m.liquidated_notional += abs(size) * price // self.market.resolution
                pid = getattr(e, "position_id", getattr(e, "liquidated_position_id", None))
                if isinstance(pid, int) and pid not in m.liquidated_ns:
                    m.liquidated_ns[pid] = self._t
            elif "Deleverag" in name:
                m.deleverage_events += 1
            elif name == "FundingPaid" and getattr(e, "position_id", 0) >= TRADER_IDS_FROM:
                m.funding_paid_by_traders -= int(getattr(e, "amount", 0))
        if self.seq.state.total_collateral() != self._total:
            m.conservation_violations += 1
        return events

    def _order(self, pid: int, side: int, size: int, price: int, otype: OrderType, tif: TimeInForce,
               post_only: bool = False, market: Market | None = None) -> PlaceOrder:
        self._cid += 1
        return PlaceOrder(self._now(), pid, (market or self.market).market_id, side, otype, tif, size, price,
                          f"x{self._cid}", post_only=post_only)

    # -- the run ---------------------------------------------------------------------------------

    def _tick(self, price: int, rogue_push_ppm: int = 0, companions: dict[str, int] | None = None) -> None:
        """One signed tick for the main market and every companion market (correlated paths)."""
        ts = self._t // S + 1
        self._t = max(self._t, ts * S)
        signed = []
        for market, p in sorted([(self.market, price)] + [(self.config.markets[c], q) for c, q in (companions or {}).items()],
                                key=lambda mp: mp[0].market_id):
            # Every development signer signs, so a large move has the stronger quorum it needs.
            prices = [p] * min(len(self.keys), max(market.oracle_quorum, market.oracle_strong_quorum))
            if rogue_push_ppm:
                prices[0] = p + p * rogue_push_ppm // PPM  # one signer far off: the median holds
            signed.append(sign_market_prices(self.keys, market, prices, ts))
        self.submit(OraclePricesTick(self._now(), tuple(signed)))
        for market, _ in [(self.market, price)] + [(self.config.markets[c], q) for c, q in (companions or {}).items()]:
            self._run_funding(market)

    def _run_funding(self, market: Market) -> None:
        """Premium samples and funding ticks when the market's cadence makes them due."""
        funding = self.seq.state.funding[market.market_id]
        if not funding.started:
            return
        now = self._t
        if not funding.last_sample_ns or now - funding.last_sample_ns >= market.premium_sample_interval_ns:
            self.submit(SampleFundingPremium(self._now(), market.market_id))
        if now - funding.last_tick_ns >= market.funding_interval_ns:
            for e in self.submit(FundingTick(self._now(), market.market_id)):
                rate = getattr(e, "rate_ppb", None)
                if type(e).__name__ == "FundingRateUpdated" and isinstance(rate, int):
                    self.metrics.max_funding_rate_ppb = max(self.metrics.max_funding_rate_ppb, abs(rate))

    def _quote(self, price: int, minute: int, moved_bps: int, market: Market | None = None,
               skew_bps: int = 0) -> None:
        """Makers requote a ladder around ``price`` (shifted by ``skew_bps``: a funding spike when the
        whole book leans above the index)."""
        m = market or self.market
        mid = m.market_id
        depth = self.level_size if m is self.market else self.level_size * self.market_start // self.starts[mid] \
            * m.resolution // self.market.resolution // m.step_size * m.step_size
        price = (price + price * skew_bps // 10_000) // m.tick_size * m.tick_size
        if 0 <= self.withdraw_at_minute <= minute:
            depth = depth * (100 - self.withdraw_pct) // 100 // m.step_size * m.step_size
        spread = self.spread_bps * (self.widen_factor if moved_bps > self.vol_threshold_bps else 1)
        for k in range(self.n_makers):
            self.submit(CancelAllOrders(self._now(), MAKER_IDS_FROM + k, mid))
        if depth < m.min_order_size:
            return
        for k in range(self.n_makers):
            pid = MAKER_IDS_FROM + k
            inventory = self.seq.state.accounts[pid].size(mid)
            for level in range(1, self.levels + 1):
                step = max(m.tick_size, price * spread * level // 10_000 // m.tick_size * m.tick_size)
                for side in (1, -1):
                    if side * inventory >= self.inventory_limit:
                        continue  # at the limit: only quote the side that reduces inventory
                    self.submit(self._order(pid, side, depth, price - side * step, OrderType.LIMIT, TimeInForce.GTT, True, m))

    def _open_traders(self, prices: dict[str, int], batch: int, batches: int) -> None:
        """Traders open their positions over the first ticks (batch ``batch`` of ``batches``), so the
        makers' ladder refills between them; with companion markets the leverage is split evenly
        over the markets, on the same side (a correlated book of longs, or of shorts)."""
        markets = [self.market] + [self.config.markets[c] for c in sorted(self.companions)]
        max_leverage = min(PPM / m.initial_margin_ppm for m in markets) * 0.95
        for i in range(batch, self.n_traders, batches):
            pid = TRADER_IDS_FROM + i
            lev = min(max_leverage, max(1.0, self.rng.lognormvariate(math.log(self.leverage_mean), self.leverage_sigma)))
            side = 1 if self.rng.random() < self.long_share else -1
            notional = self.trader_usd * COLLATERAL_RESOLUTION * int(lev * 1000) // 1000 // len(markets)
            for m in markets:
                price = prices[m.market_id]
                size = notional * m.resolution // price // m.step_size * m.step_size
                if size < m.min_order_size:
                    continue
                worst = price * (PPM + side * 20_000) // PPM // m.tick_size * m.tick_size
                self.submit(self._order(pid, side, size, worst, OrderType.MARKET, TimeInForce.IOC, market=m))

    # -- keepers ---------------------------------------------------------------------------------

    def _liquidate_order(self, keeper: int, target: int, size: int, amount_collateral: int, buying: bool) -> Liquidate:
        """A keeper's signed StarkEx limit order for ``size`` of ``target``'s position, as a command."""
        m = self.market
        self._nonce += 1
        msg = LimitOrder(m.synthetic_asset_id, self.config.collateral_asset_id, self.config.collateral_asset_id, buying,
                         size, amount_collateral, 0, self._nonce, keeper, KEEPER_EXPIRATION_HOURS)
        sig = sign(self._keeper_keys[keeper], hash_limit_order(msg))
        return Liquidate(self._now(), keeper, target, m.market_id, buying, size, amount_collateral, 0, self._nonce,
                         KEEPER_EXPIRATION_HOURS, sig.r, sig.s, size)

    def _keeper_price(self, keeper: int, target: int) -> tuple[int, int, bool] | None:
        """(size, collateral, buying) the keeper offers for the whole position, or None when it would
        lose money (only the backstop takes an account past bankruptcy, at its bankruptcy price)."""
        state, m = self.seq.state, self.market
        held = state.accounts[target].size(m.market_id)
        if held == 0:
            return None
        size, buying = abs(held), held > 0  # the keeper takes the position over: buys a long
        oracle = state.oracle_prices[m.market_id]
        fair = size * oracle // m.resolution
        bankrupt = bankruptcy_collateral(state, state.accounts[target], m.market_id, -held)
        if keeper == BACKSTOP_ID:
            discount = 0
        else:
            discount = self.keeper_discount_bps[keeper - KEEPER_IDS_FROM]
        if buying:  # pays ``amount`` for the long: at least the bankruptcy amount
            amount = max(fair * (10_000 - discount) // 10_000, bankrupt)
            if amount > fair and keeper != BACKSTOP_ID:
                return None
        else:  # receives ``amount`` for taking the short: at most minus the bankruptcy amount
            amount = min(fair * (10_000 + discount) // 10_000, -bankrupt)
            if amount < fair and keeper != BACKSTOP_ID:
                return None
        return (size, amount, buying) if amount > 0 else None

    def _keepers_act(self) -> None:
        """A batch boundary: every liquidatable account is contested by the keepers in a seeded random
        order (who sees the batch first); the first valid ``Liquidate`` wins, later ones are refused.
        An account no keeper will take (past bankruptcy) goes to the backstop. Each winner then
        unwinds its new position on the book with a reduce-only IOC."""
        state, m = self.seq.state, self.market
        self.metrics.boundaries += 1
        for target in state.liquidatable_accounts():
            if target in self._keeper_keys:
                continue
            order = [KEEPER_IDS_FROM + k for k in range(self.n_keepers)]
            self.rng.shuffle(order)
            # Every keeper prices the account from the same state and sends its order; the sequencer
            # takes them in arrival order, so the first wins and the rest are refused.
            offers = [(k, o) for k in order if (o := self._keeper_price(k, target)) is not None]
            if not offers:
                offer = self._keeper_price(BACKSTOP_ID, target)
                offers = [(BACKSTOP_ID, offer)] if offer is not None else []
            won = None
            for keeper, offer in offers:
                events = self.submit(self._liquidate_order(keeper, target, *offer))
                if any(isinstance(e, LiquidationFilled) for e in events):
                    won = keeper if won is None else won
                else:
                    self.metrics.keeper_attempts_lost += 1
            if won is None:
                continue
            if won == BACKSTOP_ID:
                self.metrics.backstop_liquidations += 1
            else:
                self.metrics.keeper_liquidations += 1
                self.metrics.keeper_wins[won] = self.metrics.keeper_wins.get(won, 0) + 1
            held = state.accounts[won].size(m.market_id)
            if held:
                oracle = state.oracle_prices[m.market_id]
                side = -1 if held > 0 else 1
                worst = oracle * (PPM + side * 50_000) // PPM // m.tick_size * m.tick_size
                self._cid += 1
                self.submit(PlaceOrder(self._now(), won, m.market_id, side, OrderType.MARKET, TimeInForce.IOC,
                                       abs(held), max(m.tick_size, worst), f"k{self._cid}", reduce_only=True))

    def _boundary_due(self) -> bool:
        if self._last_boundary < 0 or self._t - self._last_boundary >= self.batch_interval_ns:
            self._last_boundary = self._t
            return True
        return False

    def _observe(self, next_prices: dict[str, int]) -> None:
        """Record the fund, and each trader's first maintenance breach at the prices about to be
        published (before the tick, so a liquidation in the same command still counts the breach)."""
        state = self.seq.state
        self.metrics.fund.append(state.insurance_fund.collateral)
        prices = {**state.oracle_prices, **next_prices}
        for i in range(self.n_traders):
            pid = TRADER_IDS_FROM + i
            if pid in self.metrics.breach_ns:
                continue
            acct = state.accounts[pid]
            if not acct.positions:
                continue
            tv, _, mmr = account_totals(acct, state.markets, prices, state.funding_indices)
            if tv < mmr:
                self.metrics.breach_ns[pid] = self._t

    def run(self) -> dict[str, Any]:
        usd = COLLATERAL_RESOLUTION
        prices = price_path(self.scenario, self.market)
        state = self.seq.state
        setup: list[Command] = []
        for k in range(self.n_makers):
            setup += [CreateAccount(self._now(), MAKER_IDS_FROM + k, 0x7000 + k),
                      DepositCollateral(self._now(), MAKER_IDS_FROM + k, 50_000_000 * usd)]
        if self.keepers_mode:
            for pid, key in self._keeper_keys.items():
                setup += [CreateAccount(self._now(), pid, public_key(key)),
                          DepositCollateral(self._now(), pid, self.keeper_usd * usd)]
        for i in range(self.n_traders):
            setup += [CreateAccount(self._now(), TRADER_IDS_FROM + i, 0x9000 + i),
                      DepositCollateral(self._now(), TRADER_IDS_FROM + i, self.trader_usd * usd)]
        if self.scenario.insurance_fund_usd:
            setup.append(DepositCollateral(self._now(), self.config.insurance_fund_position_id,
                                           self.scenario.insurance_fund_usd * usd))
        for cmd in setup:
            self.seq.apply(cmd)
        self._total = state.total_collateral()
        fund_start = state.insurance_fund.collateral
        faults = self.scenario.faults
        opened = 0
        self.market_start = prices[0]
        self.starts[self.market.market_id] = prices[0]

        def companion_prices(j: int) -> dict[str, int]:
            """Each companion moves beta times the main market's relative move since the start."""
            out = {}
            for mid, start in self.companions.items():
                tick = self.config.markets[mid].tick_size
                move_ppm = (prices[j] - prices[0]) * PPM // prices[0] * self.beta_ppm // PPM
                out[mid] = max(tick, start * (PPM + move_ppm) // PPM // tick * tick)
            return out

        def active(kind: str, minute: int) -> dict[str, Any] | None:
            return next((f for f in faults if f.get("kind") == kind
                         and f["at_minute"] <= minute < f["at_minute"] + f["minutes"]), None)

        for j, price in enumerate(prices):
            minute = j // 4
            self._t = max(self._t, 1_700_000_000 * S + j * TICK_NS)
            stale = active("stale", minute) is not None
            rogue_fault = active("rogue_signer", minute)
            rogue = to_integer_units(str(rogue_fault.get("push_pct", "50")), PPM // 100, "push_pct") if rogue_fault else 0
            spike = active("funding_spike", minute)
            skew = int(spike.get("premium_bps", 50)) if spike else 0
            back = prices[max(0, j - 4)]
            moved_bps = abs(price - back) * 10_000 // back
            others = companion_prices(j)
            # Makers see the market move before the oracle's signed tick arrives: they requote first,
            # so liquidations triggered by the tick trade against the new book, not stale quotes.
            if j > 0:
                self._quote(price, minute, moved_bps, skew_bps=skew)
                for mid, p in others.items():
                    self._quote(p, minute, moved_bps, self.config.markets[mid], skew)
            if not stale:
                self._observe({self.market.market_id: price, **others})
                self._tick(price, rogue, others)
                if self.keepers_mode and j >= OPENING_TICKS and self._boundary_due():
                    self._keepers_act()
            if j == 0:
                self._quote(price, minute, moved_bps)
                for mid, p in others.items():
                    self._quote(p, minute, moved_bps, self.config.markets[mid])
            if j < OPENING_TICKS:
                self._open_traders({self.market.market_id: price, **others}, j, OPENING_TICKS)
            if j == OPENING_TICKS - 1:
                opened = sum(1 for i in range(self.n_traders) if state.accounts[TRADER_IDS_FROM + i].positions)
        m = self.metrics
        delays = [m.liquidated_ns[p] - t for p, t in m.breach_ns.items() if p in m.liquidated_ns]
        bad_debt = 0
        still_liquidatable = 0
        for i in range(self.n_traders):
            acct = state.accounts[TRADER_IDS_FROM + i]
            tv, _, mmr = account_totals(acct, state.markets, state.oracle_prices, state.funding_indices)
            bad_debt += max(0, -tv)
            still_liquidatable += acct.positions != {} and tv < mmr
        return {
            "scenario": self.scenario.name,
            "markets": ",".join(sorted([self.market.market_id, *self.companions])),
            "max_funding_rate_ppb": m.max_funding_rate_ppb,
            "funding_paid_by_traders": m.funding_paid_by_traders,
            "traders_opened": opened,
            "traders_with_positions": sum(
                1 for i in range(self.n_traders) if state.accounts[TRADER_IDS_FROM + i].positions),
            "seed": self.scenario.seed,
            "initial_margin_ppm": self.market.initial_margin_ppm,
            "maintenance_margin_ppm": self.market.maintenance_margin_ppm,
            "insurance_fund_start": fund_start,
            "insurance_fund_min": min(m.fund) if m.fund else fund_start,
            "insurance_fund_end": state.insurance_fund.collateral,
            "liquidation_events": m.liquidation_events,
            "liquidated_notional": m.liquidated_notional,
            "deleverage_events": m.deleverage_events,
            "accounts_breached": len(m.breach_ns),
            "still_liquidatable": still_liquidatable,
            "bad_debt": bad_debt,
            "breach_to_liquidation_mean_s": (sum(delays) / len(delays) / S) if delays else None,
            "breach_to_liquidation_max_s": (max(delays) / S) if delays else None,
            "settlement": "keepers" if self.keepers_mode else "auto",
            "batch_interval_s": self.batch_interval_ns // S if self.keepers_mode else None,
            "keeper_liquidations": m.keeper_liquidations,
            "backstop_liquidations": m.backstop_liquidations,
            "keeper_attempts_lost": m.keeper_attempts_lost,
            "keeper_wins": {str(k): v for k, v in sorted(m.keeper_wins.items())},
            "conservation_violations": m.conservation_violations,
            "commands": m.commands,
            "rejected": m.rejected,
            "state_hash": self.seq.state_hash(),
        }


def run_scenario(scenario: Scenario | str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one scenario (optionally with sweep overrides) and return its metrics."""
    s = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if overrides:
        s = with_overrides(s, overrides)
    metrics = StressRun(s).run()
    metrics.update({f"param.{k}": v for k, v in (overrides or {}).items()})
    return metrics
