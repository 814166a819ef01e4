"""A strategy's own books: average-entry PnL, fees, funding and liquidations, from its fills.

Used by the backtest (``sim.playback``) and by paper trading (``sim.live``), so both report the same
way. All amounts are collateral quantums; prices are collateral quantums per synthetic unit (the
exchange's integer convention: a fill of ``size`` at ``price`` moves ``size * price // resolution``).

Average-entry accounting. ``cost`` is the signed collateral paid for the open position (a long's cost
is positive, a short's negative: what it received). A fill that adds to the position adds its cash to
``cost``; a fill that reduces it releases ``cost * closed // |position|`` and realises

    realised += -(cash paid for the closed part) - (cost released)

(a fill that flips the position is split: the closing part first, the rest opens at the fill's
cash). Unrealised PnL is ``position * oracle // resolution - cost``. Hence, exactly,

    realised + unrealised = -sum(cash paid) + position * oracle // resolution

and the account's equity moves by ``realised + unrealised - fees + funding - penalties`` (every term
an integer: nothing is lost to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Ledger:
    """The running books of one account in one market."""

    resolution: int
    position: int = 0
    cost: int = 0
    realised: int = 0
    fees: int = 0
    funding_paid: int = 0
    """Funding paid, a positive number."""
    funding_received: int = 0
    penalties: int = 0
    """Liquidation penalties charged to the account (a positive number)."""
    trades: list[dict[str, int | str]] = field(default_factory=list)
    """Every change of the position: time, side, size, price, fee, ``entry``/``exit``/``flip`` and the
    source (``order``, ``liquidation``, ``deleverage``)."""
    liquidations: list[dict[str, int | str]] = field(default_factory=list)
    """Every liquidation step, liquidation fill, deleverage (either side) and socialized loss."""

    def trade(self, time_ns: int, side: int, size: int, price: int, fee: int = 0, source: str = "order",
              cash: int | None = None) -> None:
        """A change of ``side * size`` at ``price``; ``cash`` is the collateral paid (default
        ``side * (size * price // resolution)``, the exchange's rounding)."""
        if size <= 0:
            return
        paid = side * (size * price // self.resolution) if cash is None else cash
        self.fees += fee
        pos = self.position
        delta = side * size
        kind = "entry"
        if pos and (pos > 0) != (delta > 0):  # reduces (and perhaps flips)
            closed = min(size, abs(pos))
            paid_closed = paid * closed // size if closed < size else paid
            released = self.cost * closed // abs(pos) if closed < abs(pos) else self.cost
            self.realised += -paid_closed - released
            self.cost -= released
            self.position += side * closed
            paid -= paid_closed
            kind = "exit" if closed == size else "flip"
            delta -= side * closed
        if delta:
            self.cost += paid
            self.position += delta
        self.trades.append({"time_ns": time_ns, "side": side, "size": size, "price": price, "fee": fee,
                            "kind": kind, "source": source})

    def funding(self, amount: int) -> None:
        if amount < 0:
            self.funding_paid += -amount
        else:
            self.funding_received += amount

    def liquidation(self, row: dict[str, int | str]) -> None:
        self.liquidations.append(row)

    def unrealised(self, oracle: int | None) -> int:
        if not self.position or oracle is None:
            return 0
        return self.position * oracle // self.resolution - self.cost

    def average_entry(self) -> int | None:
        """The open position's average entry price (floored), or None when flat."""
        if not self.position:
            return None
        return self.cost * self.resolution // self.position
