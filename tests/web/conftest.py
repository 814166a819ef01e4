"""Browser tests of the dashboard: Playwright driving Debian's Chromium (/usr/bin/chromium, installed
by .ci/run when missing; never a downloaded browser) against a real `perpetua up` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("PERPETUA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `perpetua up` replaying at 120x; stopped with SIGINT (as Ctrl-C) at the end."""
    port = _free_port()
    data = tmp_path_factory.mktemp("dashboard") / "data"
    exe = Path(sys.executable).with_name("perpetua")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "perpetua.cli"]
    proc = subprocess.Popen([*cmd, "up", "--data-dir", str(data), "--port", str(port), "--speed", "120"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "perpetua up exited"
            assert time.monotonic() < deadline, "perpetua up did not start"
            try:
                if httpx.get(f"{url}/mainjob/state", timeout=2).json()["replay"]["fills"] > 20:
                    break
            except (httpx.TransportError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        time.sleep(float(os.environ.get("PERPETUA_WARMUP_S", "0")))  # a longer history for docs screenshots
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: install Debian's chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def screenshots() -> Path:
    """Where screenshots go: docs/screenshots when PERPETUA_SCREENSHOTS names it, else a temp dir."""
    target = os.environ.get("PERPETUA_SCREENSHOTS")
    path = Path(target) if target else Path(os.environ.get("TMPDIR", "/tmp")) / "perpetua-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
