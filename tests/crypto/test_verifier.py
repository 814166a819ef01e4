"""The verifier pool: the same answers, in input order, inline and with 1 or 2 worker processes."""

from __future__ import annotations

import dataclasses

import pytest

from perpetua.crypto.dydx_v3 import build_limit_order
from perpetua.crypto.keys import private_key_from_seed, public_key
from perpetua.crypto.messages import hash_limit_order
from perpetua.crypto.signatures import sign
from perpetua.crypto.verifier import OrderCheck, SignatureCheck, VerifierPool

HOUR_MS = 3_600_000


def _checks(count: int) -> tuple[list[SignatureCheck], list[bool]]:
    """`count` signature checks, every third one forged; and the expected answers."""
    checks: list[SignatureCheck] = []
    expected: list[bool] = []
    for index in range(count):
        private = private_key_from_seed(index.to_bytes(4, "big"))
        msg_hash = 1000 + index
        signature = sign(private, msg_hash)
        forged = index % 3 == 2
        checks.append((public_key(private), msg_hash + forged, signature.r, signature.s))
        expected.append(not forged)
    return checks, expected


def _orders(count: int) -> tuple[list[OrderCheck], list[int | None]]:
    checks: list[OrderCheck] = []
    expected: list[int | None] = []
    for index in range(count):
        private = private_key_from_seed(b"trader" + index.to_bytes(4, "big"))
        order = build_limit_order(
            market="BTC-USD",
            side="BUY" if index % 2 else "SELL",
            position_id=index + 1,
            size="0.01",
            price=str(20_000 + index),
            limit_fee="0.0005",
            client_id=f"client-{index}",
            expiration_ms=500_000 * HOUR_MS,
        )
        msg_hash = hash_limit_order(order)
        signature = sign(private, msg_hash)
        if index % 4 == 3:  # a mutated order: the signature no longer covers it
            order = dataclasses.replace(order, amount_collateral=order.amount_collateral + 1)
            expected.append(None)
        else:
            expected.append(msg_hash)
        checks.append((order, public_key(private), signature.r, signature.s))
    return checks, expected


def test_inline_pool_answers_in_order() -> None:
    checks, expected = _checks(9)
    with VerifierPool(workers=0) as pool:
        assert pool.verify_batch(checks) == expected
        assert pool.verify_batch([]) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_process_pool_matches_inline(workers: int) -> None:
    checks, expected = _checks(11)
    orders, admitted = _orders(6)
    with VerifierPool(workers=workers) as pool:
        pool.warm_up()
        assert pool.verify_batch(checks) == expected
        assert pool.verify_batch(checks[:1]) == expected[:1]
        assert pool.admit_orders(orders) == admitted


def test_submitted_batches_complete_in_input_order() -> None:
    first, first_expected = _checks(7)
    second, second_expected = _checks(4)
    with VerifierPool(workers=2) as pool:
        futures = [pool.submit_verify(first), pool.submit_verify(second), pool.submit_verify([])]
        assert [future.result(timeout=60) for future in futures] == [first_expected, second_expected, []]


def test_garbage_inputs_are_false_not_crashes() -> None:
    with VerifierPool(workers=1) as pool:
        assert pool.verify_batch([(0, 0, 0, 0), (2**300, 1, 1, 1), (-1, -1, -1, -1)]) == [False, False, False]


def test_closed_pool_refuses_work() -> None:
    pool = VerifierPool(workers=1)
    pool.close()
    pool.close()  # idempotent
    with pytest.raises(RuntimeError):
        pool.verify_batch(_checks(1)[0])


def test_negative_worker_count_is_refused() -> None:
    with pytest.raises(ValueError):
        VerifierPool(workers=-1)
