"""Typed errors of the crypto layer.

Every error names the offending field and the rule it broke; `code` is the stable "<field>.<rule>"
string that upper layers map to their own error tree (the exchange core wraps these; the API maps
codes to dYdX error bodies in one place). Rule names come from `Rule`, one vocabulary for the layer.
"""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    """The rules a value can break. Stable: codes built from these are part of the interface."""

    OUT_OF_RANGE = "out_of_range"
    """An integer is outside the bit width or bounds its message layout allows."""
    NOT_ON_CURVE = "not_on_curve"
    """A public key is not the x-coordinate of a point on the STARK curve."""
    INVALID = "invalid"
    """A signature or MAC does not verify."""
    MALFORMED = "malformed"
    """Text that should encode a number, signature, timestamp or JSON does not parse."""
    INEXACT = "inexact"
    """A decimal amount is not a whole number of quantums."""
    EXPIRED = "expired"
    """An expiration has passed."""
    OVERFILLED = "overfilled"
    """A fill would take an order beyond its signed amount."""
    REUSED = "reused"
    """A single-use nonce or message was already consumed."""
    OUTSIDE_WINDOW = "outside_window"
    """A request timestamp is too far from the server clock."""
    UNKNOWN = "unknown"
    """A referenced key or credential does not exist."""
    MISMATCH = "mismatch"
    """A value disagrees with the one it must equal (e.g. a passphrase)."""
    UNAVAILABLE = "unavailable"
    """An optional dependency this operation needs is not installed."""


class CryptoError(Exception):
    """Root of the crypto layer's errors.

    Attributes:
        field: the input that was rejected, e.g. "amount_synthetic" or "signature".
        rule: the rule it broke.
        code: "<field>.<rule>", stable.
        value: the offending value where it helps (never a secret).
    """

    def __init__(self, field: str, rule: Rule, message: str, value: object = None) -> None:
        super().__init__(f"{field}.{rule}: {message}")
        self.field = field
        self.rule = rule
        self.code = f"{field}.{rule}"
        self.value = value


class KeyValidationError(CryptoError):
    """A private or public STARK key is out of range or not on the curve."""


class MessageFieldError(CryptoError):
    """A field of a StarkEx message does not fit its layout (bit width, bounds)."""


class SignatureError(CryptoError):
    """A signature is malformed or does not verify."""


class AmountConversionError(CryptoError):
    """A decimal amount from the API edge cannot become quantums under dYdX's rules."""


class ExpiredError(CryptoError):
    """A signed message's expiration has passed."""


class ReplayError(CryptoError):
    """An order would be filled beyond its signed amount, or a single-use message reused."""


class AuthenticationError(CryptoError):
    """An API-key (HMAC) authenticated request is rejected."""


class DependencyError(CryptoError):
    """An optional dependency needed by this operation is missing."""
