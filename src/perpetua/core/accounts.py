"""Accounts (StarkEx positions): a STARK key, collateral, signed synthetic balances with their cached
funding index, and the bookkeeping of open orders the risk engine needs.

The rollup leaf (shared/research/starkex-perp-spec.md, State) is derived from
``public_key``, ``collateral`` and ``positions`` (asset, balance, cached funding index), sorted by asset.
"""

from __future__ import annotations


class Position:
    """A signed synthetic balance (quantums; long > 0) and the funding index it was last settled at."""

    __slots__ = ("funding_index", "size")

    def __init__(self, size: int = 0, funding_index: int = 0) -> None:
        self.size = size
        self.funding_index = funding_index

    def __repr__(self) -> str:
        return f"Position(size={self.size}, funding_index={self.funding_index})"


class Account:
    """One trading account, addressed by its StarkEx position id."""

    __slots__ = (
        "client_orders", "collateral", "net_deposits", "open_orders", "open_sizes", "position_id", "positions",
        "public_key",
    )

    def __init__(self, position_id: int, public_key: int, collateral: int = 0) -> None:
        self.position_id = position_id
        self.public_key = public_key
        self.collateral = collateral
        """Collateral balance in quantums; may be negative while long positions back it (as in StarkEx)."""
        self.positions: dict[str, Position] = {}
        """Market id -> position. A position whose size returns to zero is removed."""
        self.open_orders: dict[int, None] = {}
        """Ids of this account's OPEN and UNTRIGGERED orders, in placement order."""
        self.open_sizes: dict[str, list[int]] = {}
        """Market id -> [open buy size, open sell size] of resting (OPEN) orders, for the order-margin check."""
        self.client_orders: dict[str, int] = {}
        """Client id -> order id of this account's live orders (a client id is unique among them)."""
        self.net_deposits = 0
        """Deposits less withdrawals (quantums): equity - net deposits is the account's profit, which
        ranks it for deleveraging (core/liquidation.py)."""

    def size(self, market_id: str) -> int:
        pos = self.positions.get(market_id)
        return pos.size if pos is not None else 0

    def state_tuple(self) -> tuple[object, ...]:
        """Every field that defines this account, in a fixed order (for the state hash)."""
        return (
            self.position_id,
            self.public_key,
            self.collateral,
            tuple((m, p.size, p.funding_index) for m, p in sorted(self.positions.items())),
            tuple(sorted(self.open_orders)),
            tuple((m, s[0], s[1]) for m, s in sorted(self.open_sizes.items()) if s[0] or s[1]),
            self.net_deposits,
        )

    def __repr__(self) -> str:
        return f"Account(id={self.position_id}, collateral={self.collateral}, positions={self.positions})"
