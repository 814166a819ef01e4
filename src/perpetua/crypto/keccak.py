"""Ethereum's keccak256 and the dYdX v3 values built on it.

keccak256 is the original Keccak submission (padding 0x01), not FIPS-202 SHA3-256 (padding 0x06),
so `hashlib.sha3_256` gives different digests. It comes from pycryptodome (`Crypto.Hash.keccak`),
imported on first use: only conditional transfers (fast withdrawals), dYdX's key-from-bytes helper
and default API credentials need it, none of them on a hot path.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from perpetua.crypto.errors import AmountConversionError, DependencyError, MessageFieldError, Rule

BIT_MASK_250 = 2**250 - 1
KECCAK_DEPENDENCY = "pycryptodome==4.4.0"


def keccak256(data: bytes) -> bytes:
    """Ethereum keccak256 of `data` (32 bytes).

    Raises:
        DependencyError: keccak.unavailable when pycryptodome is not installed.
    """
    try:
        from Crypto.Hash import keccak  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise DependencyError(
            "keccak", Rule.UNAVAILABLE, f"keccak256 needs {KECCAK_DEPENDENCY} (Crypto.Hash.keccak)"
        ) from None
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def parse_eth_address(text: str, field: str = "eth_address") -> bytes:
    """The 20 bytes of a 0x-prefixed (or bare) hex Ethereum address; checksum case is not enforced.

    Raises:
        MessageFieldError: <field>.malformed.
    """
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise MessageFieldError(field, Rule.MALFORMED, "expected 20 bytes of hex", text)
    return raw


def fact_to_condition(fact_registry_address: str, fact: bytes) -> int:
    """The condition a conditional transfer signs: keccak256(registry (20 bytes) || fact (32 bytes))
    masked to its low 250 bits (stark-perpetual `build_condition`; DY `fact_to_condition`).

    Raises:
        MessageFieldError: fact_registry_address.malformed, fact.malformed.
    """
    registry = parse_eth_address(fact_registry_address, "fact_registry_address")
    if len(fact) != 32:
        raise MessageFieldError("fact", Rule.MALFORMED, "a fact is 32 bytes", fact.hex())
    return int.from_bytes(keccak256(registry + fact), "big") & BIT_MASK_250


def transfer_erc20_fact(
    recipient: str, token_decimals: int, amount: str | Decimal, token_address: str, salt: int
) -> bytes:
    """The fast-withdrawal fact: solidityKeccak(address recipient, uint256 token_amount,
    address token, uint256 salt) with token_amount = amount * 10^token_decimals.

    dydx-v3-python computes token_amount through a float; this computes it exactly and rejects an
    amount with more decimals than the token has (the client would also reject those, except where
    float rounding happens to hide the excess digits).

    Raises:
        AmountConversionError: amount.malformed / amount.inexact / amount.out_of_range.
        MessageFieldError: recipient.malformed, token_address.malformed, salt.out_of_range.
    """
    try:
        value = Decimal(amount) if isinstance(amount, str) else amount
        if not isinstance(value, Decimal) or not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise AmountConversionError("amount", Rule.MALFORMED, "expected a decimal string", amount) from None
    scaled = value.scaleb(token_decimals)
    if scaled != scaled.to_integral_value():
        raise AmountConversionError(
            "amount", Rule.INEXACT, f"more precision than the token's {token_decimals} decimals", amount
        )
    token_amount = int(scaled)
    if not 0 <= token_amount < 2**256:
        raise AmountConversionError("amount", Rule.OUT_OF_RANGE, "must fit in a uint256", amount)
    if not 0 <= salt < 2**256:
        raise MessageFieldError("salt", Rule.OUT_OF_RANGE, "must fit in a uint256", salt)
    packed = (
        parse_eth_address(recipient, "recipient")
        + token_amount.to_bytes(32, "big")
        + parse_eth_address(token_address, "token_address")
        + salt.to_bytes(32, "big")
    )
    return keccak256(packed)


def dydx_private_key_from_bytes(data: bytes) -> int:
    """dYdX v3's deterministic STARK private key for arbitrary bytes: keccak256(data) >> 5
    (DY `private_key_from_bytes`; the same shift turns a hashed Ethereum signature into the key
    in `derive_stark_key`). The result is below 2^251 < EC_ORDER."""
    return int.from_bytes(keccak256(data), "big") >> 5
