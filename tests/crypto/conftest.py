"""Fixtures for the crypto tests: golden vectors, and the official dYdX v3 client in a venv of its own.

The client (dydx-v3-python 2.1.0) pins libraries that clash with Perpetua's, so it lives in
`<repo>/.venv-dydx` (git-ignored), created once and reused, with the recipe that installs on Python
3.11 (shared/research/setup.md): `pip install dydx-v3-python==2.1.0` then
`pip install --no-deps parsimonious==0.9.0` (the parsimonious it resolves, 0.8.1, fails to import).
If that venv cannot be built the interop tests fail: CI reaches PyPI, so a skip would hide a break.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS = REPO_ROOT / "tests" / "vectors" / "crypto"
DYDX_VENV = REPO_ROOT / ".venv-dydx"
DYDX_PYTHON = DYDX_VENV / "bin" / "python"
DRIVER = Path(__file__).with_name("dydx_client_driver.py")
CLIENT_REQUIREMENT = "dydx-v3-python==2.1.0"
PARSIMONIOUS_REQUIREMENT = "parsimonious==0.9.0"
BUILD_TIMEOUT_S = 1200

DydxClient = Callable[[str, list[dict[str, Any]]], list[Any]]

needs_keccak = pytest.mark.skipif(
    importlib.util.find_spec("Crypto") is None,
    reason="keccak256 needs pycryptodome==4.4.0, requested for pyproject.toml and not installed here",
)
"""For the few tests of keccak-derived values (conditions, default credentials, key-from-bytes)."""


def load_vectors(name: str) -> dict[str, Any]:
    """A golden JSON file from tests/vectors/crypto/."""
    with (VECTORS / name).open() as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@pytest.fixture(scope="session")
def starkware_vectors() -> dict[str, Any]:
    return load_vectors("starkware.json")


@pytest.fixture(scope="session")
def dydx_vectors() -> dict[str, Any]:
    return load_vectors("dydx_v3.json")


def _client_ready() -> bool:
    if not DYDX_PYTHON.exists():
        return False
    probe = (
        "import importlib.metadata as m, dydx3.starkex.order, dydx3.modules.private;"
        "assert m.version('dydx-v3-python') == '2.1.0'"
    )
    result = subprocess.run([str(DYDX_PYTHON), "-c", probe], capture_output=True, timeout=120, check=False)
    return result.returncode == 0


def _run_step(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        pytest.fail(f"building {DYDX_VENV} failed at {' '.join(command)}:\n{output}", pytrace=False)


def _build_client_venv() -> None:
    shutil.rmtree(DYDX_VENV, ignore_errors=True)
    python3 = shutil.which("python3") or sys.executable
    _run_step([python3, "-m", "venv", str(DYDX_VENV)])
    pip = [str(DYDX_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run_step([*pip, CLIENT_REQUIREMENT])
    _run_step([*pip, "--no-deps", PARSIMONIOUS_REQUIREMENT])
    if not _client_ready():
        pytest.fail(f"{DYDX_VENV} was built but dydx3 does not import", pytrace=False)


@pytest.fixture(scope="session")
def dydx_client_python() -> Iterator[Path]:
    """The interpreter of the client's venv, built on first use (a lock file serialises builders)."""
    lock_dir = REPO_ROOT / ".venv-dydx-lock"  # a folder, so `.venv-*/` in .gitignore covers it
    lock_dir.mkdir(exist_ok=True)
    with (lock_dir / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _client_ready():
                _build_client_venv()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    yield DYDX_PYTHON


@pytest.fixture(scope="session")
def dydx_client(dydx_client_python: Path) -> DydxClient:
    """Run one batch operation of the official client: dydx_client("sign", items) -> answers."""

    def call(op: str, items: list[dict[str, Any]]) -> list[Any]:
        request = json.dumps({"op": op, "items": items})
        result = subprocess.run(
            [str(dydx_client_python), str(DRIVER)],
            input=request,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"dYdX client driver failed ({op}):\n{result.stderr[-4000:]}", pytrace=False)
        answers: list[Any] = json.loads(result.stdout)
        return answers

    return call
