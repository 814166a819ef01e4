"""Start a real Perpetua API server (uvicorn, its own process) on a free loopback port, for tests and
benchmarks; stop it (or SIGKILL it) by its own pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    def start(self, timeout_s: float = 30.0) -> Server:
        env = {**os.environ, "PERPETUA_DATA_DIR": str(self.data_dir), "PERPETUA_PORT": str(self.port)}
        for key, value in self.settings.items():
            env[f"PERPETUA_{key.upper()}"] = str(value)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "perpetua.api.app"], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                self.get("/v3/time")
                return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
