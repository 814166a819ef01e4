"""The StarkWare Pedersen hash H(a, b) over the STARK field, computed by fast-stark-crypto.

Inputs must be field elements (0 <= x < FIELD_PRIME): the Rust library silently reduces larger
inputs, which StarkWare's reference rejects, so the checked entry point rejects them first.
"""

from __future__ import annotations

from fast_stark_crypto.fast_stark_crypto import rs_compute_pedersen_hash

from perpetua.crypto.errors import MessageFieldError, Rule
from perpetua.crypto.keys import FIELD_PRIME


def pedersen_hash(a: int, b: int) -> int:
    """H(a, b) for field elements a and b.

    Raises:
        MessageFieldError: pedersen_input.out_of_range when an input is not a field element.
    """
    if not (0 <= a < FIELD_PRIME and 0 <= b < FIELD_PRIME):
        raise MessageFieldError(
            "pedersen_input", Rule.OUT_OF_RANGE, "Pedersen inputs must be in [0, FIELD_PRIME)", (a, b)
        )
    return int(rs_compute_pedersen_hash(hex(a), hex(b)))


def pedersen_hash_unchecked(a: int, b: int) -> int:
    """H(a, b) without the range check, for callers whose layouts already bound every input below
    2^251 (the message hashes). ~44 µs, almost all of it in Rust."""
    return int(rs_compute_pedersen_hash(hex(a), hex(b)))
