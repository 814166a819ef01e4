"""Batch proving for the settlement loop, off the exchange's process.

Proving is CPU-heavy NumPy and Python (it holds the GIL most of the time), and the exchange runs in
the same process as the settlement thread: so every batch is proven in a separate process, one
top-level job per batch (``prove_to_bytes``) on a one-worker pool started with ``forkserver`` (the
main job's process runs threads; forking it could deadlock the child). The settlement thread waits
for the job's future; the exchange's event loop never does.

``perpetua.circuits.batch.prove_rollup_batch`` is a black box here: what it proves grows with the
circuit, its signature does not.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from perpetua.rollup.batch import Batch
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.state import RollupState


@dataclass(frozen=True, slots=True)
class ProvenBatch:
    """A batch proof as bytes and what it cost (measured in the prover process)."""

    proof: bytes
    prove_s: float
    security_bits: float | None
    """Conjectured bits of the weakest chunk (None when the proof's layout could not be read)."""


def security_of(proof: bytes) -> float | None:
    """The conjectured security of the weakest STARK of the batch proof (the arithmetic part and
    every chunk; cheap: reads options and lengths)."""
    try:
        from perpetua.circuits.batch import BatchProof
        from perpetua.stark.params import security_bits
        from perpetua.stark.proof import Proof

        decoded = BatchProof.from_bytes(proof)
        parts = [c.proof for c in (*decoded.chunks, *decoded.order_chunks)]
        if decoded.arithmetic:
            parts.append(decoded.arithmetic)
        bits = []
        for raw in parts:
            p = Proof.from_bytes(raw)
            bits.append(security_bits(p.options, p.trace_length).conjectured_bits)
        return min(bits) if bits else None
    except Exception:  # a view figure: never a reason to fail a batch
        return None


_RAY: Any = None
"""The prover process's Ray executor, connected once (`ray_address`) and kept for every batch."""


def _ray(address: str) -> Any:
    global _RAY
    if _RAY is None:
        import ray

        from perpetua.parallel import RayExecutor

        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
        _RAY = RayExecutor()
    return _RAY


def prove_to_bytes(old_state: RollupState, batch: Batch, config: GeneralConfig | None = None,
                   workers: int = 2, ray_address: str | None = None) -> ProvenBatch:
    """The prover process's job: prove `batch` from `old_state` (its state at the old roots); with
    the rollup's `config`, the whole proof (arithmetic, positions and orders roots). Its parts run
    on `workers` processes forked from the prover process (single-threaded, so forking is safe), or
    as Ray tasks on the cluster at `ray_address` (`ray start --head` prints it)."""
    from perpetua.circuits.batch import prove_rollup_batch

    started = time.perf_counter()
    executor = _ray(ray_address) if ray_address else None
    proof = prove_rollup_batch(old_state, batch, config=config, workers=workers, executor=executor).to_bytes()
    elapsed = time.perf_counter() - started
    return ProvenBatch(proof, elapsed, security_of(proof))


def tamper(proof: bytes) -> bytes:
    """Fault injection (demo, operator drills): the proof with one byte flipped in its middle, inside
    a chunk's STARK proof. The fact service must refuse it."""
    if not proof:
        return b"\x00"
    data = bytearray(proof)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


class BatchProver:
    """One prover process (started on first use); `submit` returns the job's future."""

    def __init__(self, workers: int = 1, ray_address: str | None = None) -> None:
        self.workers = workers
        self.ray_address = ray_address
        """Prove each batch's parts on this Ray cluster instead of local worker processes."""
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, old_state: RollupState, batch: Batch, config: GeneralConfig | None = None
               ) -> Future[ProvenBatch]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=multiprocessing.get_context("forkserver"))
        return self._pool.submit(prove_to_bytes, old_state, batch, config, 2, self.ray_address)

    def close(self) -> None:
        """Cancel queued jobs and end the worker processes this prover started (a proof in flight
        is abandoned: the settlement loop is stopping)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            if p.is_alive():
                p.terminate()
