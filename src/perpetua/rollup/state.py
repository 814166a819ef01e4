"""The rollup state and the context a batch gives its transactions.

State (stark-perpetual v1 `state/state.cairo`, `CarriedState`):

- `positions`: position id -> `Position` (the positions tree; absent means empty),
- `orders`: order id -> amount already fulfilled (the orders tree; absent means 0),
- `funding_indices` with `funding_timestamp`: the global funding index (32.32) per asset,
- `oracle_prices`: the current internal price (32.32) per asset,
- `system_time`: seconds, advanced by funding and oracle ticks.

States are immutable: `apply` returns a new one and shares everything it did not change (the
maps are copy-on-write `PMap`s; `funding_indices` and `oracle_prices` are small dicts that are
replaced, never mutated). Roots are not kept here: they are a function of the state, computed per
batch by `tree.StateTree` from the changed leaves (as StarkEx squashes its dicts once per batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from perpetua.crypto.errors import CryptoError
from perpetua.crypto.signatures import Signature, check_signature
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.errors import ErrorCode, InvalidSignature
from perpetua.rollup.pmap import PMap
from perpetua.rollup.position import EMPTY_POSITION, Position


@dataclass(frozen=True, slots=True)
class RollupState:
    positions: PMap[Position] = field(default_factory=PMap)
    orders: PMap[int] = field(default_factory=PMap)
    funding_indices: dict[int, int] = field(default_factory=dict)
    """asset id -> global funding index (32.32). Never mutated."""
    funding_timestamp: int = 0
    oracle_prices: dict[int, int] = field(default_factory=dict)
    """asset id -> internal price (32.32). Never mutated."""
    system_time: int = 0

    def position(self, position_id: int) -> Position:
        return self.positions.get(position_id, EMPTY_POSITION)

    def fulfilled(self, order_id: int) -> int:
        return self.orders.get(order_id, 0)

    def with_changes(self, positions: dict[int, Position] | None = None,
                     orders: dict[int, int] | None = None) -> RollupState:
        """A new state with some positions (empty ones dropped) and order records replaced."""
        new_positions = self.positions
        if positions:
            new_positions = new_positions.updated(
                {pid: (None if p.is_empty else p) for pid, p in positions.items()})
        new_orders = self.orders.updated(orders) if orders else self.orders
        return replace(self, positions=new_positions, orders=new_orders)


class SignatureMemo:
    """Signatures already verified, (public key, hash, r, s) -> True. Verification is a pure
    function, so remembering it changes no result; the exchange's verifier pool fills it at order
    admission, and an order filled many times is verified once."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[tuple[int, int, int, int]] = set()

    def add(self, public_key: int, msg_hash: int, signature: Signature) -> None:
        self._seen.add((public_key, msg_hash, signature.r, signature.s))

    def check(self, public_key: int, msg_hash: int, signature: Signature, what: str) -> None:
        """Raise InvalidSignature unless the signature verifies (memoised)."""
        key = (public_key, msg_hash, signature.r, signature.s)
        if key in self._seen:
            return
        try:
            check_signature(public_key, msg_hash, signature)
        except CryptoError as error:
            raise InvalidSignature(ErrorCode.INVALID_SIGNATURE, f"{what}: {error.code}",
                                   public_key=hex(public_key), message_hash=hex(msg_hash)) from None
        self._seen.add(key)


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What the batch gives every transaction (StarkEx `BatchConfig`)."""

    config: GeneralConfig
    min_expiration_hours: int = 0
    """The batch's minimum expiration timestamp, in hours (an operator input)."""
    registered_conditions: frozenset[int] = frozenset()
    """Conditions (fact hashes) registered on L1 for conditional transfers."""
    signatures: SignatureMemo = field(default_factory=SignatureMemo)
    batch_start_system_time: int = 0
    """System time when the batch began (the oracle timestamp window's lower edge)."""
