"""The interface through which the exchange emits rollup transactions: an adapter over core events.

The sequencer's events say what happened; `ExchangeAdapter.transactions(events)` says the same in
rollup transactions, so applying them to the rollup state gives the balances the exchange shows:

| core event | rollup transaction |
|---|---|
| `AccountCreated` | none (a position is claimed by its first deposit or fill) |
| `CollateralDeposited` | `Deposit` |
| `CollateralWithdrawn` | `Withdrawal`, signed through `signer` |
| `OrderAccepted` | none; the order's StarkEx `LimitOrder` is built and signed through `signer` |
| `OrderFilled` | `Trade`: party A the taker's signed order, party B the maker's, at the fill's amounts and fees |

Orders are converted as dYdX v3 does: amount_synthetic = size; amount_collateral = size * price /
resolution, rounded up for a buy and down for a sell; max fee = ceil(limit_fee * amount_collateral)
where limit_fee = taker fee + `fee_headroom_ppm` (the exchange's fees round up per fill, so an
exact-rate limit could fail StarkEx's proportional fee check on a small fill). The `signer` stands
for the traders' wallets (in production the client signs and the API checks it).

| `OraclePriceUpdated` (one command's) | one `OraclePricesTick`: internal price = round(price * 2^32 / resolution), backed by the prices `oracle_signer` signs |
| `FundingRateUpdated` (one command's) | one `FundingTick` carrying every asset's current index (StarkEx: a tick covers all assets) |
| `FundingPaid`, `FundingSettled` | none: the rollup's FundingTick settles every position itself, with the exchange's arithmetic (eager mode, `transactions/funding_tick.py`) |

Times: a tick's timestamp is the event's second, never before the last one emitted (the rollup's
system time only moves forward). Oracle prices: the core's events carry the median price, not the
signatures behind it, so `oracle_signer` stands for the oracles here as `signer` stands for the
wallets (`dev_oracle_signer`: the development oracles, all signing the same price, so the claimed
price is the median). Production would carry the tick's own signed prices (a core event change).

Liquidations (docs/rollup.md, "Liquidations"; the events of one liquidation step, in order):

| core events | rollup transaction |
|---|---|
| `OrderAccepted` of a liquidation order (client id `liquidation-<order id>`) | starts a close: nothing is signed (the liquidated position signs nothing) |
| its `OrderFilled`s, each with the `LiquidationFilled` of the same fill id | `LiquidationFill`s: the maker's signed order at the fill's amounts and maker fee, `fund_delta` the fill's fund delta |
| `PositionDeleveraged` | a `DeleverageFill` of the current close (deleverager, size, collateral amount) |
| the next liquidation order, `LossSocialized`, `AccountLiquidated`, the end of the events | ends the close: one `LiquidationClose` |
| `LiquidationFilled` with `maker_order_id` 0 (a keeper's) | one `LiquidationClose` with one fill: the keeper's signed order from the event; the keeper's share of the penalty is paid through the price (a buying keeper pays cash - reward, a selling keeper receives cash + reward, which its limit admits), the fund's share is `fund_delta` |
| `LossSocialized` | `SocializedLoss`: the side that pays is the one the liquidated position's last close traded with |
| `AccountLiquidated`, `InsuranceFundChanged` | none (the fund's movements are the fills' `fund_delta`) |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from perpetua.core.events import (
    AccountCreated,
    AccountLiquidated,
    CollateralDeposited,
    CollateralWithdrawn,
    Event,
    FundingRateUpdated,
    LiquidationFilled,
    LossSocialized,
    OraclePriceUpdated,
    OrderAccepted,
    OrderFilled,
    PositionDeleveraged,
)
from perpetua.core.markets import ExchangeConfig, dev_oracle_keys
from perpetua.core.quantities import PPM, ceil_div
from perpetua.crypto.messages import LimitOrder, OraclePrice, hash_oracle_price, hash_withdrawal
from perpetua.crypto.messages import Withdrawal as WithdrawalMessage
from perpetua.crypto.signatures import Signature, sign
from perpetua.rollup.config import internal_price
from perpetua.rollup.constants import EXTERNAL_PRICE_ONE
from perpetua.rollup.orders import SignedOrder, limit_order_hash
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.funding_tick import FundingTick
from perpetua.rollup.transactions.liquidation_close import DeleverageFill, LiquidationClose, LiquidationFill
from perpetua.rollup.transactions.oracle_prices_tick import (
    AssetOraclePrice,
    OraclePricesTick,
    SignedOraclePrice,
)
from perpetua.rollup.transactions.socialized_loss import SocializedLoss
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.withdrawal import Withdrawal

Signer = Callable[[int, int], Signature]
"""(position id, message hash) -> the position owner's signature."""
OracleSigner = Callable[[str, int, int], tuple[SignedOraclePrice, ...]]
"""(market id, external price (10^18 = 1.0), timestamp s) -> signed prices, signer keys increasing."""
RollupTransaction = (Deposit | Withdrawal | Trade | OraclePricesTick | FundingTick | LiquidationClose
                     | SocializedLoss)
NS_PER_S = 10**9


class UnmappedEvent(ValueError):
    """A core event the rollup cannot express (a keeper fill without its signed order)."""


@dataclass
class _Close:
    """A liquidation close being collected (becomes one `LiquidationClose`)."""

    position_id: int
    asset_id: int
    buying: bool
    fills: list[LiquidationFill] = field(default_factory=list)
    deleverages: list[DeleverageFill] = field(default_factory=list)

    def transaction(self) -> LiquidationClose:
        return LiquidationClose(self.position_id, self.asset_id, self.buying, tuple(self.fills),
                                tuple(self.deleverages))


def dev_oracle_signer(exchange: ExchangeConfig) -> OracleSigner:
    """The development oracles (core.markets.dev_oracle_keys) of each market, `oracle_quorum` of
    them, signing the given price under the market's first accepted signed asset id."""
    keys = dev_oracle_keys(exchange.dev_oracle_seeds)

    def signer(market_id: str, external_price: int, timestamp_s: int) -> tuple[SignedOraclePrice, ...]:
        market = exchange.market(market_id)
        signed_id = market.oracle_signed_asset_ids[0]
        message = OraclePrice(signed_id & (1 << 40) - 1, signed_id >> 40, external_price, timestamp_s)
        signers = sorted(k for k in market.oracle_signers if k in keys)[:market.oracle_quorum]
        return tuple(SignedOraclePrice(k, message, sign(keys[k], hash_oracle_price(message))) for k in signers)

    return signer


@dataclass
class ExchangeAdapter:
    exchange: ExchangeConfig
    collateral_asset_id: int
    signer: Signer
    expiration_hours: int
    """Expiration signed into orders and withdrawals (hours)."""
    fee_headroom_ppm: int = 1_000
    oracle_signer: OracleSigner | None = None
    """Required once an oracle price moves (`dev_oracle_signer` in development and tests)."""
    collateral_resolution: int = 10**6
    keys: dict[int, int] = field(default_factory=dict)
    orders: dict[int, SignedOrder] = field(default_factory=dict)
    nonce: int = 0
    funding_indices: dict[int, int] = field(default_factory=dict)
    """asset id -> the current global index, as the exchange moved it: start it with the rollup
    genesis state's indices (empty: every market at 0)."""
    time_s: int = 0
    """The last tick time emitted (the rollup's system time never moves back)."""
    last_close_buying: dict[int, bool] = field(default_factory=dict)
    """Position id -> the side of its last liquidation close (which side a socialized loss charges)."""

    def tick_time(self, timestamp_ns: int) -> int:
        self.time_s = max(self.time_s, timestamp_ns // NS_PER_S)
        return self.time_s

    def oracle_tick(self, updates: list[OraclePriceUpdated]) -> OraclePricesTick:
        if self.oracle_signer is None:
            raise ValueError("an oracle price moved but the adapter has no oracle_signer")
        now = self.tick_time(max(u.timestamp_ns for u in updates))
        prices: dict[int, AssetOraclePrice] = {}
        for update in updates:
            market = self.exchange.market(update.market_id)
            external = update.price * EXTERNAL_PRICE_ONE // self.collateral_resolution
            signed = self.oracle_signer(update.market_id, external, min(now, update.timestamp_ns // NS_PER_S))
            prices[market.synthetic_asset_id] = AssetOraclePrice(
                market.synthetic_asset_id, internal_price(update.price, market.resolution), signed)
        return OraclePricesTick(now, tuple(prices[a] for a in sorted(prices)))

    def funding_tick(self, updates: list[FundingRateUpdated]) -> FundingTick:
        if not self.funding_indices:
            self.funding_indices = dict.fromkeys((m.synthetic_asset_id for m in self.exchange.markets.values()), 0)
        for update in updates:
            self.funding_indices[self.exchange.market(update.market_id).synthetic_asset_id] = update.funding_index
        now = self.tick_time(max(u.timestamp_ns for u in updates))
        return FundingTick(now, tuple(sorted(self.funding_indices.items())))

    def limit_order(self, event: OrderAccepted) -> SignedOrder:
        market = self.exchange.market(event.market_id)
        notional = event.size * event.price
        buying = event.side > 0
        collateral = -(-notional // market.resolution) if buying else notional // market.resolution
        limit_fee = max(market.taker_fee_ppm, market.maker_fee_ppm) + self.fee_headroom_ppm
        order = LimitOrder(market.synthetic_asset_id, self.collateral_asset_id, self.collateral_asset_id, buying,
                           event.size, collateral, -(-collateral * limit_fee // PPM), event.order_id % 2**32,
                           event.position_id, self.expiration_hours)
        return SignedOrder(order, self.keys[event.position_id],
                           self.signer(event.position_id, limit_order_hash(order)))

    def transactions(self, events: Iterable[Event]) -> list[RollupTransaction]:
        out: list[RollupTransaction] = []
        events = list(events)
        # A run of price updates is one tick; the funding updates of one time (one FundingTick
        # command, every due market, FundingPaid events between them) are one tick at the first.
        funding_at: dict[int, list[FundingRateUpdated]] = {}
        for event in events:
            if isinstance(event, FundingRateUpdated):
                funding_at.setdefault(event.timestamp_ns, []).append(event)
        run: list[OraclePriceUpdated] = []
        book_liquidations = {e.fill_id: e for e in events if isinstance(e, LiquidationFilled) and e.maker_order_id}
        close: _Close | None = None

        def end_close() -> None:
            nonlocal close
            if close is not None and (close.fills or close.deleverages):
                out.append(close.transaction())
            close = None

        for event in events:
            if run and not isinstance(event, OraclePriceUpdated):
                out.append(self.oracle_tick(run))
                run = []
            if isinstance(event, OraclePriceUpdated):
                run.append(event)
            elif isinstance(event, FundingRateUpdated):
                group = funding_at[event.timestamp_ns]
                if event is group[0]:
                    out.append(self.funding_tick(group))
            elif isinstance(event, AccountCreated):
                self.keys[event.position_id] = event.public_key
            elif isinstance(event, CollateralDeposited):
                out.append(Deposit(event.position_id, self.keys[event.position_id], event.amount))
            elif isinstance(event, CollateralWithdrawn):
                self.nonce += 1
                msg = WithdrawalMessage(self.collateral_asset_id, event.position_id, self.nonce % 2**32,
                                        event.amount, self.expiration_hours)
                out.append(Withdrawal(msg, self.keys[event.position_id],
                                      self.signer(event.position_id, hash_withdrawal(msg))))
            elif isinstance(event, OrderAccepted):
                if event.client_id == f"liquidation-{event.order_id}":
                    end_close()
                    asset = self.exchange.market(event.market_id).synthetic_asset_id
                    close = _Close(event.position_id, asset, event.side > 0)
                    self.last_close_buying[event.position_id] = event.side > 0
                else:
                    self.orders[event.order_id] = self.limit_order(event)
            elif isinstance(event, OrderFilled) and event.fill_id in book_liquidations:
                market = self.exchange.market(event.market_id)
                if close is None or event.maker_fee < 0:
                    raise UnmappedEvent(f"liquidation fill {event.fill_id} outside a close, or with a rebate")
                close.fills.append(LiquidationFill(self.orders[event.maker_order_id],
                                                   event.size * event.price // market.resolution, event.size,
                                                   event.maker_fee, book_liquidations[event.fill_id].fund_delta))
            elif isinstance(event, LiquidationFilled) and not event.maker_order_id:
                end_close()
                out.append(self.keeper_close(event))
            elif isinstance(event, PositionDeleveraged):
                if close is None or close.position_id != event.deleveraged_position_id:
                    end_close()
                    asset = self.exchange.market(event.market_id).synthetic_asset_id
                    close = _Close(event.deleveraged_position_id, asset, event.deleveraged_side > 0)
                close.deleverages.append(DeleverageFill(event.deleverager_position_id, event.size,
                                                        event.collateral_amount))
            elif isinstance(event, LossSocialized):
                end_close()
                asset = self.exchange.market(event.market_id).synthetic_asset_id
                # The liquidated position bought (closed a short): the longs pay.
                out.append(SocializedLoss(event.position_id, asset, self.last_close_buying[event.position_id],
                                          event.amount))
            elif isinstance(event, AccountLiquidated):
                end_close()
            elif isinstance(event, OrderFilled):
                market = self.exchange.market(event.market_id)
                if event.taker_fee < 0 or event.maker_fee < 0:
                    raise ValueError("StarkEx fees are non-negative: rebates cannot settle as trades")
                out.append(Trade(self.orders[event.taker_order_id], self.orders[event.maker_order_id],
                                 event.size * event.price // market.resolution, event.size,
                                 event.taker_fee, event.maker_fee))
        end_close()
        if run:
            out.append(self.oracle_tick(run))
        return out

    def keeper_close(self, event: LiquidationFilled) -> LiquidationClose:
        """A keeper's fill: its signed order from the event, the reward paid through the price."""
        if not event.order_amount_synthetic:
            raise UnmappedEvent(f"keeper fill {event.fill_id} carries no signed order")
        market = self.exchange.market(event.market_id)
        keeper_buying = event.liquidated_side < 0
        order = LimitOrder(market.synthetic_asset_id, self.collateral_asset_id, self.collateral_asset_id, keeper_buying,
                           event.order_amount_synthetic, event.order_amount_collateral, event.order_max_fee,
                           event.order_nonce, event.counterparty_position_id, event.order_expiration_hours)
        signed = SignedOrder(order, self.keys[event.counterparty_position_id],
                             Signature(event.order_signature_r, event.order_signature_s))
        # The exchange's cash for the fill (StarkEx fairness, toward the keeper's limit).
        if keeper_buying:
            collateral = event.size * event.order_amount_collateral // event.order_amount_synthetic - event.keeper_reward
        else:
            collateral = ceil_div(event.size * event.order_amount_collateral, event.order_amount_synthetic) + event.keeper_reward
        fill = LiquidationFill(signed, collateral, event.size, 0, event.fund_delta)
        self.last_close_buying[event.liquidated_position_id] = not keeper_buying
        return LiquidationClose(event.liquidated_position_id, market.synthetic_asset_id, not keeper_buying, (fill,))
