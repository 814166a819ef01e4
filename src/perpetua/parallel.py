"""Ray as an `Executor`-like object (`submit(fn, *args)` -> a future with `result()`).

Used where independent jobs scale out: the batch prover (`perpetua.circuits.batch.
prove_rollup_batch(..., executor=...)`: the arithmetic proof and every Merkle chunk) and the stress
lab's sweeps (`perpetua.sim.sweep`). `ray_executor()` starts a local Ray by default, or joins the
cluster at `address` (`ray.init`), and stops what it started. Ray is optional (the `sweep` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class _RayFuture:
    def __init__(self, ref: Any) -> None:
        self._ref = ref

    def result(self) -> Any:
        import ray

        return ray.get(self._ref)


class RayExecutor:
    """`submit(fn, *args)` -> a future whose `result()` waits for the Ray task."""

    def __init__(self) -> None:
        self._remotes: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], *args: Any) -> _RayFuture:
        import ray

        remote = self._remotes.get(fn)
        if remote is None:
            remote = self._remotes[fn] = ray.remote(fn)
        return _RayFuture(remote.remote(*args))


@contextmanager
def ray_executor(address: str | None = None, workers: int = 2) -> Iterator[RayExecutor]:
    """A RayExecutor on a Ray started here (and stopped after) unless one is already running."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        yield RayExecutor()
    finally:
        if started_here:
            ray.shutdown()
