"""Errors of the proof system: one root, each leaf says when it occurs."""

from __future__ import annotations


class StarkError(Exception):
    """Root of all proof-system errors."""


class ProverError(StarkError):
    """The prover cannot produce a proof: the trace violates the AIR or the AIR is malformed."""


class DeserializationError(StarkError):
    """Proof bytes are malformed: bad magic/version, truncated, trailing or non-canonical data."""


class VerificationError(StarkError):
    """The proof is not accepted; the message names the failed check."""
