"""STARK-curve ECDSA: sign, verify, and the r || s serialisation dYdX v3 uses.

Signing and verification run in fast-stark-crypto (Rust, RFC 6979 deterministic nonces; its
signatures are byte-identical to the dYdX v3 client's and StarkWare's reference). That library
panics (a BaseException, not an Exception) on out-of-range inputs and prints a Rust backtrace, so
every input is range-checked here first, and a panic that still escapes becomes `False` or a typed
error.

Ranges (StarkWare `signature.py`, `verify`): 0 <= msg_hash < 2^251, 1 <= r < 2^251,
1 <= s < EC_ORDER with w = s^-1 mod EC_ORDER in [1, 2^251); fast-stark-crypto is stricter on s
(s < 2^251), which only excludes s in [2^251, EC_ORDER) — a 2^-55 sliver no honest signer hits.
"""

from __future__ import annotations

from dataclasses import dataclass

from fast_stark_crypto.fast_stark_crypto import rs_sign_message, rs_verify_signature

from perpetua.crypto.errors import KeyValidationError, Rule, SignatureError
from perpetua.crypto.keys import (
    EC_ORDER,
    ECDSA_BOUND,
    check_private_key,
    check_public_key,
    is_valid_public_key,
)

SIGNATURE_HEX_DIGITS = 128
"""dYdX v3 serialises a signature as r || s, each 64 lowercase hex digits, no 0x."""
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Signature:
    """A STARK ECDSA signature (r, s)."""

    r: int
    s: int

    def to_hex(self) -> str:
        """r || s as 128 lowercase hex digits, no 0x (dYdX v3's `serialize_signature`)."""
        if not (0 <= self.r < 2**256 and 0 <= self.s < 2**256):
            raise SignatureError("signature", Rule.OUT_OF_RANGE, "r and s must fit in 32 bytes each")
        return f"{self.r:064x}{self.s:064x}"

    @classmethod
    def from_hex(cls, text: str) -> Signature:
        """Parse r || s (128 hex digits, no 0x).

        Raises:
            SignatureError: signature.malformed.
        """
        if len(text) != SIGNATURE_HEX_DIGITS or not _HEX_DIGITS.issuperset(text):
            raise SignatureError(
                "signature", Rule.MALFORMED, "expected 128 hex digits: r || s, 64 each, no 0x", text
            )
        return cls(int(text[:64], 16), int(text[64:], 16))


def _is_panic(error: BaseException) -> bool:
    """True for pyo3's PanicException (it derives from BaseException and cannot be imported)."""
    return type(error).__name__ == "PanicException"


def _check_message_hash(msg_hash: int) -> None:
    if not 0 <= msg_hash < ECDSA_BOUND:
        raise SignatureError("msg_hash", Rule.OUT_OF_RANGE, "a signed hash must be in [0, 2^251)", msg_hash)


def sign(private_key: int, msg_hash: int) -> Signature:
    """Sign `msg_hash` (deterministic: RFC 6979 nonce).

    Raises:
        KeyValidationError: private_key.out_of_range.
        SignatureError: msg_hash.out_of_range.
    """
    check_private_key(private_key)
    _check_message_hash(msg_hash)
    try:
        r, s = rs_sign_message(hex(private_key), hex(msg_hash))
    except BaseException as error:  # the Rust side panics as a BaseException
        if _is_panic(error):
            raise KeyValidationError("private_key", Rule.INVALID, "the signer rejected this key") from None
        raise
    return Signature(int(r), int(s))


def verify(public_key: int, msg_hash: int, r: int, s: int) -> bool:
    """True when (r, s) is a valid signature of msg_hash by public_key; False for anything else,
    including out-of-range values and keys that are not on the curve. Never raises on ints.

    This is the hot path of order admission (~2,000/s on one core): the checks before the Rust call
    are a few comparisons and one cached dictionary lookup.
    """
    if not (
        0 <= msg_hash < ECDSA_BOUND
        and 0 < r < ECDSA_BOUND
        and 0 < s < ECDSA_BOUND
        and is_valid_public_key(public_key)
    ):
        return False
    try:
        return rs_verify_signature(hex(public_key), hex(msg_hash), hex(r), hex(s)) is True
    except BaseException as error:
        if _is_panic(error):
            return False
        raise


def check_signature(public_key: int, msg_hash: int, signature: Signature) -> None:
    """Raise a typed error naming the first rule the signature breaks; return if it verifies.

    Raises:
        KeyValidationError: public_key.out_of_range / public_key.not_on_curve.
        SignatureError: msg_hash.out_of_range, signature_r.out_of_range, signature_s.out_of_range
            (including s^-1 >= 2^251), signature.invalid.
    """
    check_public_key(public_key)
    _check_message_hash(msg_hash)
    r, s = signature.r, signature.s
    if not 0 < r < ECDSA_BOUND:
        raise SignatureError("signature_r", Rule.OUT_OF_RANGE, "r must be in [1, 2^251)", r)
    if not 0 < s < ECDSA_BOUND or pow(s, -1, EC_ORDER) >= ECDSA_BOUND:
        raise SignatureError("signature_s", Rule.OUT_OF_RANGE, "s and s^-1 must be in [1, 2^251)", s)
    if not verify(public_key, msg_hash, r, s):
        raise SignatureError("signature", Rule.INVALID, "the signature does not verify for this key and hash")
