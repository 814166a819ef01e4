"""Signature verification off the sequencer's thread: a small pool of worker processes.

Verifying one STARK signature costs ~0.5 ms of CPU, more than everything else in admitting an
order, so the API side hands batches to this pool and the sequencer only sees orders whose
signatures already checked out. Batches are split into one chunk per worker and the answers come
back in the order of the input. `workers=0` verifies inline (no processes), which is what a
deterministic test or a single-core box wants.

Workers start with the "forkserver" method: forking a process that already runs threads (an event
loop, the sequencer) can deadlock the child, and the forkserver never has any.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import TypeVar

from perpetua.crypto.messages import LimitOrder, hash_limit_order
from perpetua.crypto.signatures import verify

SignatureCheck = tuple[int, int, int, int]
"""(public_key, msg_hash, r, s)."""
OrderCheck = tuple[LimitOrder, int, int, int]
"""(order, public_key, r, s): the hash is computed in the worker."""

T = TypeVar("T")
R = TypeVar("R")


def verify_many(checks: Sequence[SignatureCheck]) -> list[bool]:
    """Verify each (public_key, msg_hash, r, s) in this process; True where it verifies."""
    return [verify(public_key, msg_hash, r, s) for public_key, msg_hash, r, s in checks]


def admit_orders(checks: Sequence[OrderCheck]) -> list[int | None]:
    """Hash each order and verify its signature in this process: the order hash where the
    signature verifies, None where it does not."""
    admitted: list[int | None] = []
    for order, public_key, r, s in checks:
        msg_hash = hash_limit_order(order)
        admitted.append(msg_hash if verify(public_key, msg_hash, r, s) else None)
    return admitted


def _chunks(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    size = -(-len(items) // parts)
    return [items[start : start + size] for start in range(0, len(items), size)]


class VerifierPool:
    """Verifies signatures in `workers` processes (0: inline in the caller).

    Use as a context manager, or call `close()`; both wait for batches in flight.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self._closed = False
        self._executor: ProcessPoolExecutor | None = None
        if workers > 0:
            context = multiprocessing.get_context("forkserver")
            self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    @staticmethod
    def default_workers() -> int:
        """One worker per core this process may run on, leaving one for the sequencer."""
        return max(1, len(os.sched_getaffinity(0)) - 1)

    def _submit(self, function: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> Future[list[R]]:
        """One future for the whole batch: the chunks' answers joined in input order."""
        if self._closed:
            raise RuntimeError("the verifier pool is closed")
        combined: Future[list[R]] = Future()
        executor = self._executor
        if executor is None or not items:
            try:
                combined.set_result(function(items) if items else [])
            except Exception as error:
                combined.set_exception(error)
            return combined
        parts = [executor.submit(function, chunk) for chunk in _chunks(items, self.workers)]
        lock = threading.Lock()
        pending = [len(parts)]

        def on_done(part: Future[list[R]]) -> None:
            with lock:
                if combined.done():
                    return
                error = part.exception()
                if error is not None:
                    combined.set_exception(error)
                    return
                pending[0] -= 1
                if pending[0] == 0:
                    combined.set_result([answer for each in parts for answer in each.result()])

        for part in parts:
            part.add_done_callback(on_done)
        return combined

    def submit_verify(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Start verifying a batch; the future's result is `verify_batch`'s. For an event loop:
        `await asyncio.wrap_future(pool.submit_verify(batch))`."""
        return self._submit(verify_many, checks)

    def submit_admit(self, checks: Sequence[OrderCheck]) -> Future[list[int | None]]:
        """Start hashing and verifying a batch of orders; the future's result is `admit_orders`'s."""
        return self._submit(admit_orders, checks)

    def verify_batch(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """Verify every (public_key, msg_hash, r, s); booleans in input order."""
        return self.submit_verify(checks).result()

    def admit_orders(self, checks: Sequence[OrderCheck]) -> list[int | None]:
        """Hash and verify every (order, public_key, r, s); the hash or None, in input order."""
        return self.submit_admit(checks).result()

    def warm_up(self) -> None:
        """Start every worker now (they import fast-stark-crypto once) rather than on first use."""
        if self._executor is not None:
            for future in [self._executor.submit(verify_many, []) for _ in range(self.workers)]:
                future.result()

    def close(self) -> None:
        """Wait for batches in flight, then stop the workers. Idempotent."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
