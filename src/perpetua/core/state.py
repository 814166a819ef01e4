"""The exchange's explicit state, and its canonical hash.

Everything the sequencer knows lives here; nothing lives in globals. The state hash covers every field
that defines the state (accounts, live orders, book queues, prices, indices, time, id counters), so two
sequencers that applied the same commands have the same hash, byte for byte.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass

from perpetua.core.accounts import Account
from perpetua.core.book import OrderBook
from perpetua.core.funding import MarketFunding
from perpetua.core.markets import ExchangeConfig, Market
from perpetua.core.oracle import is_stale
from perpetua.core.orders import Order
from perpetua.core.prices import index_price, mark_price
from perpetua.core.risk import account_totals
from perpetua.core.triggers import TriggerIndex


@dataclass(frozen=True, slots=True)
class MarketPriceStatus:
    """What the API and the dashboard show of a market's prices and funding (``ExchangeState.price_status``)."""

    market_id: str
    oracle_price: int | None
    oracle_timestamp_ns: int | None
    """When the oracle price was observed (oldest signed timestamp of its tick)."""
    oracle_age_ns: int | None
    stale: bool
    """Degraded mode: no oracle price or one older than ``oracle_max_age_ns``; no new risk, no
    liquidations, no funding ticks."""
    index_price: int | None
    mark_price: int | None
    funding_index: int
    funding_rate_ppb: int
    """The rate of the last funding interval."""
    premium_ppb: int
    """The latest premium sample."""
    next_funding_ns: int | None
    """Earliest time of the next funding tick (None before the first oracle price)."""


class ExchangeState:
    """All mutable state of the exchange core."""

    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config
        self.markets: dict[str, Market] = dict(config.markets)
        self.accounts: dict[int, Account] = {}
        self.orders: dict[int, Order] = {}
        """Live orders (OPEN or UNTRIGGERED) by id. Finished orders leave; their history is in events."""
        self.books: dict[str, OrderBook] = {mid: OrderBook(mid) for mid in self.markets}
        self.triggers: dict[str, TriggerIndex] = {mid: TriggerIndex() for mid in self.markets}
        self.oracle_prices: dict[str, int] = {}
        self.oracle_times_ns: dict[str, int] = {}
        """When each oracle price was observed (ns); set together with ``oracle_prices``."""
        self.funding_indices: dict[str, int] = dict.fromkeys(self.markets, 0)
        self.funding: dict[str, MarketFunding] = {mid: MarketFunding() for mid in self.markets}
        self.time_ns = 0
        self.next_order_id = 1
        self.next_fill_id = 1
        self.expiries: list[tuple[int, int]] = []
        """Heap of (expires_at_ns, order id); entries of finished orders are skipped when popped."""
        self.holders: dict[str, dict[int, Account]] = {mid: {} for mid in self.markets}
        """Market id -> {id: account} of the accounts holding a position there (insertion ordered). Maintained
        where a position opens or closes (matching, liquidation, deleveraging), O(1) each, so a price
        move checks only the accounts it touches. Derived from the accounts (``check`` compares)."""
        self.insurance_windows: dict[str, list[int]] = {mid: [0, 0] for mid in self.markets}
        """Market id -> [window number, quantums the fund paid in it] for ``insurance_loss_cap``."""
        self.keeper_orders: dict[int, int] = {}
        """Hash of a keeper's signed order -> synthetic quantums already used (StarkEx's orders tree)."""
        fee_id = config.fee_position_id
        self.accounts[fee_id] = Account(fee_id, public_key=0)
        insurance_id = config.insurance_fund_position_id
        self.accounts[insurance_id] = Account(insurance_id, public_key=0)

    @property
    def fee_account(self) -> Account:
        return self.accounts[self.config.fee_position_id]

    @property
    def insurance_fund(self) -> Account:
        """The insurance fund's account: funding rounding lands here."""
        return self.accounts[self.config.insurance_fund_position_id]

    def oracle_stale(self, market_id: str) -> bool:
        """Degraded mode at the current time (core/oracle.py): no price, or one older than its bound."""
        return is_stale(self.markets[market_id], self.oracle_times_ns.get(market_id), self.time_ns)

    def index_price(self, market_id: str) -> int | None:
        return index_price(self.oracle_prices.get(market_id))

    def price_status(self, market_id: str) -> MarketPriceStatus:
        """Prices, staleness and funding of one market, judged at the state's current time."""
        market = self.markets[market_id]
        oracle_time = self.oracle_times_ns.get(market_id)
        funding = self.funding[market_id]
        return MarketPriceStatus(
            market_id=market_id,
            oracle_price=self.oracle_prices.get(market_id),
            oracle_timestamp_ns=oracle_time,
            oracle_age_ns=None if oracle_time is None else self.time_ns - oracle_time,
            stale=self.oracle_stale(market_id),
            index_price=self.index_price(market_id),
            mark_price=self.mark_price(market_id),
            funding_index=self.funding_indices[market_id],
            funding_rate_ppb=funding.rate_ppb,
            premium_ppb=funding.premium_ppb,
            next_funding_ns=funding.last_tick_ns + market.funding_interval_ns if funding.started else None,
        )

    def mark_price(self, market_id: str) -> int | None:
        book = self.books[market_id]
        return mark_price(
            self.oracle_prices.get(market_id),
            book.best_bid(),
            book.best_ask(),
            self.markets[market_id].mark_price_band_ppm,
        )

    def push_expiry(self, order: Order) -> None:
        if order.expires_at_ns is not None:
            heapq.heappush(self.expiries, (order.expires_at_ns, order.order_id))

    def total_collateral(self) -> int:
        """Sum of every account's collateral (fees included): conserved by trading."""
        return sum(a.collateral for a in self.accounts.values())

    def open_interest(self, market_id: str) -> int:
        """Sum of long sizes in the market (equal to the sum of short sizes)."""
        return sum(
            p.size for a in self.accounts.values() if (p := a.positions.get(market_id)) is not None and p.size > 0
        )

    def liquidatable_accounts(self) -> list[int]:
        """Ids of the accounts liquidatable now (TV < MMR at oracle prices) whose markets are all fresh;
        a full scan (tests, the API). The sequencer leaves none behind while ``auto_liquidate`` is on."""
        stale = {mid for mid in self.markets if self.oracle_stale(mid)}
        out = []
        for pid, acct in sorted(self.accounts.items()):
            if not acct.positions or any(mid in stale for mid in acct.positions):
                continue
            tv, _, mmr = account_totals(acct, self.markets, self.oracle_prices, self.funding_indices)
            if tv < mmr:
                out.append(pid)
        return out

    def canonical(self) -> tuple[object, ...]:
        """Every field that defines the state, in a fixed order."""
        books = tuple(
            (
                mid,
                tuple(o.order_id for o in book.bids.live_orders()),
                tuple(o.order_id for o in book.asks.live_orders()),
            )
            for mid, book in sorted(self.books.items())
        )
        return (
            self.time_ns,
            self.next_order_id,
            self.next_fill_id,
            tuple(sorted(self.oracle_prices.items())),
            tuple(sorted(self.oracle_times_ns.items())),
            tuple(sorted(self.funding_indices.items())),
            tuple((mid, f.state_tuple()) for mid, f in sorted(self.funding.items())),
            tuple(a.state_tuple() for _, a in sorted(self.accounts.items())),
            tuple(o.state_tuple() for _, o in sorted(self.orders.items())),
            books,
            tuple((mid, w[0], w[1]) for mid, w in sorted(self.insurance_windows.items())),
            tuple(sorted(self.keeper_orders.items())),
        )

    def state_hash(self) -> str:
        """SHA-256 of the canonical state, hex."""
        return hashlib.sha256(repr(self.canonical()).encode()).hexdigest()

    def check(self) -> None:
        """Assert the cross-structure invariants (tests and stress runs call this after each step)."""
        for book in self.books.values():
            book.check()
        for mid in self.markets:
            assert sum(a.size(mid) for a in self.accounts.values()) == 0, f"{mid}: longs != shorts"
        for oid, o in self.orders.items():
            acct = self.accounts[o.account_id]
            assert oid in acct.open_orders, f"order {oid} missing from its account"
            assert acct.client_orders.get(o.client_id) == oid, f"client id of order {oid} not indexed"
            assert 0 < o.remaining <= o.size
        for acct in self.accounts.values():
            for oid in acct.open_orders:
                assert oid in self.orders, f"account {acct.position_id} lists finished order {oid}"
            for mid, (buy, sell) in acct.open_sizes.items():
                resting = [
                    o for oid in acct.open_orders if (o := self.orders[oid]).market_id == mid
                    and o.status.value == "OPEN"
                ]
                assert buy == sum(o.remaining for o in resting if o.side > 0), f"open buy size of {acct.position_id}"
                assert sell == sum(o.remaining for o in resting if o.side < 0), f"open sell size of {acct.position_id}"
            for mid, p in acct.positions.items():
                assert p.size != 0, f"zero position kept in {mid}"
                assert self.holders[mid].get(acct.position_id) is acct, f"{acct.position_id} missing from {mid} holders"
                # Funding ticks settle every position (core/funding.py), so no cached index lags.
                assert p.funding_index == self.funding_indices[mid], f"unsettled funding in {mid}"
        for mid, holders in self.holders.items():
            for pid in holders:
                assert mid in self.accounts[pid].positions, f"{pid} listed as a {mid} holder without a position"
        fund = self.insurance_fund
        assert fund.collateral >= 0, "the insurance fund is negative"
        assert not fund.positions, "the insurance fund holds a position"
