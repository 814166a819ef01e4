"""Replay protection: partial fills never exceed the signed amount, single-use messages and nonces,
expirations. The record is a plain dict the test owns, as the sequencer's would be."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpetua.crypto.errors import ExpiredError, MessageFieldError, ReplayError
from perpetua.crypto.replay import (
    apply_fill,
    check_not_expired,
    consume_message,
    consume_nonce,
    min_expiration_hours,
    next_fulfilled_amount,
    remaining_amount,
)

HOUR_MS = 3_600_000


def test_partial_fills_up_to_the_signed_amount() -> None:
    filled: dict[int, int] = {}
    assert apply_fill(filled, order_id=7, fill_amount=40, full_amount=100) == 40
    assert apply_fill(filled, 7, 60, 100) == 100
    assert remaining_amount(filled, 7, 100) == 0
    with pytest.raises(ReplayError) as raised:
        apply_fill(filled, 7, 1, 100)
    assert raised.value.code == "order.overfilled"
    assert filled == {7: 100}  # a refused fill leaves the record as it was


def test_an_overfill_is_refused_whole() -> None:
    filled = {7: 30}
    with pytest.raises(ReplayError):
        apply_fill(filled, 7, 71, 100)
    assert filled == {7: 30}
    assert apply_fill(filled, 7, 70, 100) == 100


def test_fills_are_tracked_per_order() -> None:
    filled: dict[int, int] = {}
    apply_fill(filled, 1, 100, 100)
    assert apply_fill(filled, 2, 100, 100) == 100


@pytest.mark.parametrize(
    ("fill", "full", "code"),
    [(-1, 100, "fill_amount.out_of_range"), (1, 2**64, "full_amount.out_of_range")],
)
def test_fill_amounts_are_range_checked(fill: int, full: int, code: str) -> None:
    with pytest.raises(MessageFieldError) as raised:
        next_fulfilled_amount(0, fill, full)
    assert raised.value.code == code


@settings(max_examples=200, deadline=None)
@given(full=st.integers(min_value=0, max_value=10**6), fills=st.lists(st.integers(min_value=0, max_value=10**6)))
def test_total_filled_never_exceeds_the_signed_amount(full: int, fills: list[int]) -> None:
    filled: dict[int, int] = {}
    accepted = 0
    for fill in fills:
        try:
            apply_fill(filled, 1, fill, full)
        except ReplayError:
            assert accepted + fill > full
        else:
            accepted += fill
    assert filled.get(1, 0) == accepted <= full


def test_withdrawals_and_transfers_are_single_use() -> None:
    consumed: dict[int, int] = {}
    consume_message(consumed, 99, 5_000_000)
    with pytest.raises(ReplayError) as raised:
        consume_message(consumed, 99, 5_000_000)
    assert raised.value.code == "message.reused"
    consume_message(consumed, 98, 0)
    with pytest.raises(ReplayError):
        consume_message(consumed, 98, 0)  # even a zero-amount message is not replayable


def test_nonces_are_single_use_per_position() -> None:
    used: set[tuple[int, int]] = set()
    consume_nonce(used, position_id=1, nonce=42)
    consume_nonce(used, position_id=2, nonce=42)
    with pytest.raises(ReplayError) as raised:
        consume_nonce(used, 1, 42)
    assert raised.value.code == "nonce.reused"


def test_expiration_is_inclusive_of_the_signed_hour() -> None:
    check_not_expired(10, 10 * HOUR_MS)
    check_not_expired(10, 9 * HOUR_MS + 1)
    with pytest.raises(ExpiredError) as raised:
        check_not_expired(10, 10 * HOUR_MS + 1)
    assert raised.value.code == "expiration_hours.expired"


@settings(max_examples=200, deadline=None)
@given(expiration=st.integers(min_value=0, max_value=2**32 - 1), now_ms=st.integers(min_value=0, max_value=2**50))
def test_expiry_agrees_with_the_batch_minimum(expiration: int, now_ms: int) -> None:
    """The admission check and the batch rule min_expiration <= expiration accept the same set."""
    valid = expiration >= min_expiration_hours(now_ms)
    try:
        check_not_expired(expiration, now_ms)
    except ExpiredError:
        assert not valid
    else:
        assert valid
    assert valid == (expiration * HOUR_MS >= now_ms)
