"""STARK-curve keys: constants, private-key generation, public keys and their validation.

The STARK curve is y^2 = x^3 + ALPHA*x + BETA over the field of FIELD_PRIME elements, with a
generator of prime order EC_ORDER (StarkWare's `pedersen_params.json`). A StarkEx public key (a
"STARK key") is only the x-coordinate of the point; verifiers try both y. Scalar multiplication runs
in fast-stark-crypto (Rust); nothing here does curve arithmetic in Python except the one modular
exponentiation that tells whether an x-coordinate is on the curve (cached).
"""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from fast_stark_crypto.fast_stark_crypto import rs_get_public_key

from perpetua.crypto.errors import KeyValidationError, Rule

FIELD_PRIME = 2**251 + 17 * 2**192 + 1
"""The STARK field modulus; Pedersen inputs and outputs are elements of this field."""
ALPHA = 1
BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
EC_ORDER = 0x800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
"""Order of the curve's generator: private keys are in [1, EC_ORDER)."""
N_ELEMENT_BITS_ECDSA = 251
"""Message hashes, r and s (and s^-1) must be below 2^251 (StarkWare's `signature.py`)."""
ECDSA_BOUND = 2**N_ELEMENT_BITS_ECDSA

_LEGENDRE_EXPONENT = (FIELD_PRIME - 1) // 2


def check_private_key(private_key: int) -> None:
    """Raise KeyValidationError unless 1 <= private_key < EC_ORDER."""
    if not 1 <= private_key < EC_ORDER:
        raise KeyValidationError(
            "private_key", Rule.OUT_OF_RANGE, "a STARK private key must be in [1, EC_ORDER)"
        )


def generate_private_key() -> int:
    """A fresh private key from the operating system's CSPRNG (`secrets`), uniform in [1, EC_ORDER)."""
    return 1 + secrets.randbelow(EC_ORDER - 1)


def private_key_from_seed(seed: bytes) -> int:
    """A deterministic private key for `seed` (simulations, tests, reproducible fixtures).

    Grinds like StarkWare's key derivation: sha256(seed || i) for i = 0, 1, ... until the digest is
    below the largest multiple of EC_ORDER that fits in 256 bits, then reduces it modulo EC_ORDER, so
    the key is uniform. A result of 0 (probability 2^-251) also grinds on.
    """
    limit = (2**256 // EC_ORDER) * EC_ORDER
    index = 0
    while True:
        digest = hashlib.sha256(seed + index.to_bytes(32, "big")).digest()
        candidate = int.from_bytes(digest, "big")
        if candidate < limit and candidate % EC_ORDER != 0:
            return candidate % EC_ORDER
        index += 1


def public_key(private_key: int) -> int:
    """The STARK public key (x-coordinate of private_key * G) for a valid private key.

    Raises:
        KeyValidationError: private_key.out_of_range.
    """
    check_private_key(private_key)
    return int(rs_get_public_key(hex(private_key)))


@lru_cache(maxsize=1 << 16)
def is_valid_public_key(x: int) -> bool:
    """True when `x` is in [0, FIELD_PRIME) and x^3 + ALPHA*x + BETA is a square (Euler's criterion),
    i.e. some point on the curve has this x. Cached: the same traders sign again and again."""
    if not 0 <= x < FIELD_PRIME:
        return False
    rhs = (x * x * x + ALPHA * x + BETA) % FIELD_PRIME
    return rhs == 0 or pow(rhs, _LEGENDRE_EXPONENT, FIELD_PRIME) == 1


def check_public_key(x: int, field: str = "public_key") -> None:
    """Raise KeyValidationError unless `x` is a valid STARK public key.

    Raises:
        KeyValidationError: <field>.out_of_range or <field>.not_on_curve.
    """
    if not 0 <= x < FIELD_PRIME:
        raise KeyValidationError(field, Rule.OUT_OF_RANGE, "a STARK key must be in [0, FIELD_PRIME)", x)
    if not is_valid_public_key(x):
        raise KeyValidationError(field, Rule.NOT_ON_CURVE, "no point on the STARK curve has this x", x)


def check_public_key_point(x: int, y: int) -> None:
    """Raise unless (x, y) is a point of the STARK curve: what a v3 client sends as starkKey and
    starkKeyYCoordinate. (Only x is ever signed against; y lets a client state its point.)

    Raises:
        KeyValidationError: public_key.out_of_range, public_key_y.out_of_range,
            public_key_y.not_on_curve.
    """
    check_public_key(x)
    if not 0 <= y < FIELD_PRIME:
        raise KeyValidationError("public_key_y", Rule.OUT_OF_RANGE, "must be in [0, FIELD_PRIME)", y)
    if (y * y - (x * x * x + ALPHA * x + BETA)) % FIELD_PRIME != 0:
        raise KeyValidationError("public_key_y", Rule.NOT_ON_CURVE, "(x, y) is not on the STARK curve", y)


def parse_hex_key(text: str, field: str = "public_key") -> int:
    """Parse a STARK key written in hex, with or without 0x (as the v3 API sends `starkKey`).

    Raises:
        KeyValidationError: <field>.malformed when it is not hex of at most 64 digits.
    """
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if not 0 < len(digits) <= 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise KeyValidationError(field, Rule.MALFORMED, "expected up to 64 hex digits", text)
    return int(digits, 16)
