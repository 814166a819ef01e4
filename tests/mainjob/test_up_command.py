"""The README's run command: `scripts/up` runs `perpetua up`, which starts, serves the dashboard and
the API, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readme_run_command_names_perpetua_up() -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^scripts/up\b", readme, re.MULTILINE), "README no longer names scripts/up"
    script = (ROOT / "scripts" / "up").read_text()
    assert "perpetua up" in script and os.access(ROOT / "scripts" / "up", os.X_OK)


def test_perpetua_up_starts_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    exe = Path(sys.executable).with_name("perpetua")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "perpetua.cli"]
    proc = subprocess.Popen(
        [*cmd, "up", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--speed", "0", "--candles-limit", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200 and "Perpetua" in page.text
        markets = httpx.get(f"http://127.0.0.1:{port}/v3/markets", timeout=5).json()
        assert "BTC-USD" in markets["markets"]
        state = httpx.get(f"http://127.0.0.1:{port}/mainjob/state", timeout=5).json()
        assert state["account"]["positionId"] == "1000"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert f"Dashboard    http://127.0.0.1:{port}/" in out
    assert "STARK private key" in out and "API key" in out and "DEVELOPMENT ONLY" in out
    assert out.rstrip().endswith("Stopped.")
    assert (tmp_path / "data" / "journal.db").exists()
