"""Keys, Pedersen and ECDSA: known answers from StarkWare and dYdX, round trips, and rejections.

Vectors: tests/vectors/crypto/starkware.json (starkware-libs/stark-perpetual signature test data,
keys_precomputed.json and the JS signature spec) and dydx_v3.json (dydx-v3-python 2.1.0 tests);
each section names its file of origin.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpetua.crypto.errors import KeyValidationError, MessageFieldError, SignatureError
from perpetua.crypto.keys import (
    EC_ORDER,
    ECDSA_BOUND,
    FIELD_PRIME,
    check_public_key,
    check_public_key_point,
    generate_private_key,
    is_valid_public_key,
    parse_hex_key,
    private_key_from_seed,
    public_key,
)
from perpetua.crypto.pedersen import pedersen_hash
from perpetua.crypto.signatures import Signature, check_signature, sign, verify

PRIVATE_KEY = 0x58C7D5A90B1776BDE86EBAC077E053ED85B0F7164F53B080304A531947F46E3
PUBLIC_KEY = 0x3B865A18323B8D147A12C556BFB1D502516C325B1477A23BA6C77AF31F020FD
NOT_ON_CURVE = PUBLIC_KEY + 1  # checked below to really be off the curve


def test_pedersen_known_answers(starkware_vectors: dict[str, Any]) -> None:
    for case in starkware_vectors["pedersen"]["cases"]:
        assert pedersen_hash(int(case["a"], 16), int(case["b"], 16)) == int(case["hash"], 16)


def test_pedersen_rejects_non_field_elements() -> None:
    with pytest.raises(MessageFieldError) as raised:
        pedersen_hash(FIELD_PRIME, 1)
    assert raised.value.code == "pedersen_input.out_of_range"
    with pytest.raises(MessageFieldError):
        pedersen_hash(1, -1)


def test_public_keys_known_answers(starkware_vectors: dict[str, Any], dydx_vectors: dict[str, Any]) -> None:
    cases = starkware_vectors["public_keys"]["cases"] + dydx_vectors["keys"]["cases"]
    assert len(cases) == 35
    for case in cases:
        assert public_key(int(case["private_key"], 16)) == int(case["public_key"], 16)


def test_ecdsa_known_answers(starkware_vectors: dict[str, Any]) -> None:
    for case in starkware_vectors["ecdsa"]["cases"]:
        private = int(case["private_key"], 16)
        msg_hash = int(case["msg_hash"], 16)
        expected = Signature(int(case["r"], 16), int(case["s"], 16))
        assert sign(private, msg_hash) == expected, case["name"]
        public = public_key(private)
        if case["public_key"] is not None:
            assert public == int(case["public_key"], 16)
        assert verify(public, msg_hash, expected.r, expected.s), case["name"]


@settings(max_examples=25, deadline=None)
@given(
    private=st.integers(min_value=1, max_value=EC_ORDER - 1),
    msg_hash=st.integers(min_value=0, max_value=ECDSA_BOUND - 1),
)
def test_sign_verify_round_trip(private: int, msg_hash: int) -> None:
    signature = sign(private, msg_hash)
    public = public_key(private)
    assert verify(public, msg_hash, signature.r, signature.s)
    check_signature(public, msg_hash, signature)
    assert Signature.from_hex(signature.to_hex()) == signature
    # The same key never signs a different message with this signature.
    other = (msg_hash + 1) % ECDSA_BOUND
    assert not verify(public, other, signature.r, signature.s)


def test_signing_is_deterministic() -> None:
    assert sign(PRIVATE_KEY, 12345) == sign(PRIVATE_KEY, 12345)


def test_mutated_signatures_and_messages_are_rejected() -> None:
    msg_hash = 0x677AF4EFBF821DAC23AD4FEA9AAA2A3075D2D80DD26B5C005C7B58F084E1075
    good = sign(PRIVATE_KEY, msg_hash)
    assert verify(PUBLIC_KEY, msg_hash, good.r, good.s)
    for r, s, h in [
        (good.r + 1, good.s, msg_hash),
        (good.r, good.s + 1, msg_hash),
        (good.r, good.s, msg_hash ^ 1),
        (good.s, good.r, msg_hash),
    ]:
        assert not verify(PUBLIC_KEY, h, r, s)
        with pytest.raises(SignatureError) as raised:
            check_signature(PUBLIC_KEY, h, Signature(r, s))
        assert raised.value.code == "signature.invalid"
    other_key = public_key(PRIVATE_KEY + 1)
    assert not verify(other_key, msg_hash, good.r, good.s)


def test_out_of_range_inputs_return_false_without_panicking(capfd: pytest.CaptureFixture[str]) -> None:
    good = sign(PRIVATE_KEY, 7)
    assert not is_valid_public_key(NOT_ON_CURVE)
    cases = [
        (NOT_ON_CURVE, 7, good.r, good.s),
        (FIELD_PRIME, 7, good.r, good.s),
        (-1, 7, good.r, good.s),
        (PUBLIC_KEY, ECDSA_BOUND, good.r, good.s),
        (PUBLIC_KEY, -1, good.r, good.s),
        (PUBLIC_KEY, 7, 0, good.s),
        (PUBLIC_KEY, 7, good.r, 0),
        (PUBLIC_KEY, 7, ECDSA_BOUND, good.s),
        (PUBLIC_KEY, 7, good.r, EC_ORDER),
    ]
    for case in cases:
        assert verify(*case) is False, case
    # The Rust library prints a backtrace when it panics; none of these reached it.
    assert "panicked" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("public", "msg_hash", "signature", "code"),
    [
        (NOT_ON_CURVE, 7, Signature(1, 1), "public_key.not_on_curve"),
        (FIELD_PRIME, 7, Signature(1, 1), "public_key.out_of_range"),
        (PUBLIC_KEY, ECDSA_BOUND, Signature(1, 1), "msg_hash.out_of_range"),
        (PUBLIC_KEY, 7, Signature(0, 1), "signature_r.out_of_range"),
        (PUBLIC_KEY, 7, Signature(1, ECDSA_BOUND), "signature_s.out_of_range"),
    ],
)
def test_check_signature_names_the_broken_rule(
    public: int, msg_hash: int, signature: Signature, code: str
) -> None:
    with pytest.raises((SignatureError, KeyValidationError)) as raised:
        check_signature(public, msg_hash, signature)
    assert raised.value.code == code


def test_check_signature_rejects_s_whose_inverse_is_too_large() -> None:
    # s = EC_ORDER - 1 is < 2^251, but w = s^-1 = EC_ORDER - 1 is not: StarkWare's verifier refuses it.
    s = EC_ORDER - 1
    assert s >= ECDSA_BOUND or pow(s, -1, EC_ORDER) >= ECDSA_BOUND
    with pytest.raises(SignatureError) as raised:
        check_signature(PUBLIC_KEY, 7, Signature(1, s))
    assert raised.value.code == "signature_s.out_of_range"


@pytest.mark.parametrize("private", [0, EC_ORDER, -5])
def test_invalid_private_keys_are_refused(private: int) -> None:
    with pytest.raises(KeyValidationError) as raised:
        sign(private, 7)
    assert raised.value.code == "private_key.out_of_range"
    with pytest.raises(KeyValidationError):
        public_key(private)


def test_sign_refuses_unsignable_hash() -> None:
    with pytest.raises(SignatureError) as raised:
        sign(PRIVATE_KEY, ECDSA_BOUND)
    assert raised.value.code == "msg_hash.out_of_range"


def test_generated_keys_are_valid_and_distinct() -> None:
    keys = {generate_private_key() for _ in range(8)}
    assert len(keys) == 8
    for key in keys:
        assert 1 <= key < EC_ORDER
        check_public_key(public_key(key))


def test_seeded_keys_are_deterministic_and_seed_dependent() -> None:
    assert private_key_from_seed(b"alice") == private_key_from_seed(b"alice")
    assert private_key_from_seed(b"alice") != private_key_from_seed(b"bob")
    assert 1 <= private_key_from_seed(b"") < EC_ORDER


@pytest.mark.parametrize("text", ["", "0x", "zz", "1" * 65, "0x12g4"])
def test_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(KeyValidationError) as raised:
        parse_hex_key(text)
    assert raised.value.code == "public_key.malformed"


def test_hex_keys_parse_with_or_without_prefix() -> None:
    assert parse_hex_key("0x3b865a18323b8d147a12c556bfb1d502516c325b1477a23ba6c77af31f020fd") == PUBLIC_KEY
    assert parse_hex_key("03b865a18323b8d147a12c556bfb1d502516c325b1477a23ba6c77af31f020fd") == PUBLIC_KEY


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0500a22a8c8b14fbb3b7d26366604c446b9d059420d7db2a8f94bc52691d2626",  # r only
        "0x" + "1" * 126,  # prefixed
        "g" * 128,
        "1" * 129,
    ],
)
def test_malformed_signatures_are_refused(text: str) -> None:
    with pytest.raises(SignatureError) as raised:
        Signature.from_hex(text)
    assert raised.value.code == "signature.malformed"


def test_signature_hex_layout() -> None:
    signature = Signature(0x5, 0xABC)
    text = signature.to_hex()
    assert text == "0" * 63 + "5" + "0" * 61 + "abc"
    assert Signature.from_hex(text.upper()) == signature


def test_public_key_points_from_the_client() -> None:
    """(x, y) pairs from dydx-v3-python 2.1.0 tests (test_helpers.py, test_onboarding.py)."""
    points = [
        (
            0x69A33D37101D7089B606F92E4B41553C237A474AD9D6F62EEB6708415F98F4D,
            0x717E78B98A53888AA7685B91137FA01B9336CE7D25F874DBFB8D752C6AC610D,
        ),
        (
            0x39D88860B99B1809A63ADD01F7DFA59676AE006BBCDF38FF30B6A69DCF55ED3,
            0x2BDD58A2C2ACB241070BC5D55659A85BBA65211890A8C47019A33902ABA8400,
        ),
    ]
    for x, y in points:
        check_public_key_point(x, y)
        check_public_key_point(x, FIELD_PRIME - y)  # the other point with this x
        with pytest.raises(KeyValidationError) as raised:
            check_public_key_point(x, y + 1)
        assert raised.value.code == "public_key_y.not_on_curve"
