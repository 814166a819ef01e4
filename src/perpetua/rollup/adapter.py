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
Not mapped yet: funding ticks (the core settles every position at each tick and credits floor
remainders to an insurance fund; StarkEx settles lazily, one floor per position update), oracle
ticks (the rollup needs the oracles' own signatures), liquidations and deleverages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from perpetua.core.events import (
    AccountCreated,
    CollateralDeposited,
    CollateralWithdrawn,
    Event,
    OrderAccepted,
    OrderFilled,
)
from perpetua.core.markets import ExchangeConfig
from perpetua.core.quantities import PPM
from perpetua.crypto.messages import LimitOrder, hash_withdrawal
from perpetua.crypto.messages import Withdrawal as WithdrawalMessage
from perpetua.crypto.signatures import Signature
from perpetua.rollup.orders import SignedOrder, limit_order_hash
from perpetua.rollup.transactions.deposit import Deposit
from perpetua.rollup.transactions.trade import Trade
from perpetua.rollup.transactions.withdrawal import Withdrawal

Signer = Callable[[int, int], Signature]
"""(position id, message hash) -> the position owner's signature."""
RollupTransaction = Deposit | Withdrawal | Trade


@dataclass
class ExchangeAdapter:
    exchange: ExchangeConfig
    collateral_asset_id: int
    signer: Signer
    expiration_hours: int
    """Expiration signed into orders and withdrawals (hours)."""
    fee_headroom_ppm: int = 1_000
    keys: dict[int, int] = field(default_factory=dict)
    orders: dict[int, SignedOrder] = field(default_factory=dict)
    nonce: int = 0

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
        for event in events:
            if isinstance(event, AccountCreated):
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
                self.orders[event.order_id] = self.limit_order(event)
            elif isinstance(event, OrderFilled):
                market = self.exchange.market(event.market_id)
                if event.taker_fee < 0 or event.maker_fee < 0:
                    raise ValueError("StarkEx fees are non-negative: rebates cannot settle as trades")
                out.append(Trade(self.orders[event.taker_order_id], self.orders[event.maker_order_id],
                                 event.size * event.price // market.resolution, event.size,
                                 event.taker_fee, event.maker_fee))
        return out
