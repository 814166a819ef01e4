"""What a transaction reports to L1 besides the new state (stark-perpetual `output/*.cairo`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Modification:
    """A deposit (delta > 0) or withdrawal (delta < 0) the L1 contract must settle."""

    position_id: int
    public_key: int
    delta: int


@dataclass(frozen=True, slots=True)
class ForcedActionResult:
    """A forced request served by the batch (executed, or included as failed)."""

    kind: str
    position_id: int
    executed: bool


@dataclass(frozen=True, slots=True)
class ConditionUsed:
    """A conditional transfer's condition, which L1 checks is registered."""

    condition: int


@dataclass(frozen=True, slots=True)
class FundingIndicesPosted:
    """A funding tick's indices (the L1 escape verifier needs them)."""

    timestamp: int
    indices: tuple[tuple[int, int], ...]


Output = Modification | ForcedActionResult | ConditionUsed | FundingIndicesPosted
