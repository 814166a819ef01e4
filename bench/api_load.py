"""API load benchmark: a real server (its own process, started here) loaded from this process over
loopback.

1. ``orders_per_s``: sustained POST /v3/orders through HTTP/1.1 keep-alive connections, every request
   v3-HMAC-authenticated and every order STARK-signed. Orders are signed before the clock starts
   (client signing is not measured), HMAC headers just before (the server allows 30 s of skew).
   Orders are small GTT limits on BTC-USD around the oracle price, random sides: about half cross
   and fill. Counted: orders answered 201 (the journal committed them) over the wall time.
2. ``fanout_p50_ms`` / ``fanout_p99_ms``: 100 WebSocket subscribers on the ETH-USD order book; each
   probe places one resting order at a new price level, and the latency is from sending that POST
   to each subscriber receiving the delta carrying the level (so it includes the order's own
   admission, signature check, journal commit and the fan-out), over all probes x subscribers.

Usage: ``python bench/api_load.py [--quick] [--json] [--connections N] [--verify-workers N]``.
``--json`` prints one JSON object on the last line. The server journals with synchronous=FULL.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from _report import bench_parser, print_json

from perpetua.api.client import Trader as Client

REPO_ROOT = Path(__file__).resolve().parents[1]


# -- the server ---------------------------------------------------------------------------------------


class Server:
    def __init__(self, data_dir: Path, profile: str | None = None, **settings: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PERPETUA_DATA_DIR": str(data_dir), "PERPETUA_PORT": str(self.port)}
        env.update({f"PERPETUA_{k.upper()}": str(v) for k, v in settings.items()})
        src = str(REPO_ROOT / "src")
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        self.log = data_dir / "server.log"
        self.stop_signal = signal.SIGINT if profile else signal.SIGTERM  # SIGINT lets cProfile write
        with self.log.open("ab") as log:
            prefix = ["-m", "cProfile", "-o", profile] if profile else []
            self.proc = subprocess.Popen([sys.executable, *prefix, "-m", "perpetua.api.app"], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                self.call("GET", "/v3/time")
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


# -- traders ------------------------------------------------------------------------------------------


class Trader(Client):
    """The shared client, onboarded and funded on ``server``, writing orders as whole HTTP requests."""

    def __init__(self, seed: int, server: Server) -> None:
        super().__init__(seed)
        headers, body = self.onboarding_request()
        self.onboarded(server.call("POST", "/v3/onboarding", body, headers))
        server.call("POST", "/v3/testnet/tokens", {}, self.headers("POST", "/v3/testnet/tokens"))

    def signed_order(self, n: int, side: str, size: str, price: str, market: str = "BTC-USD") -> str:
        body = self.order(side, size, price, market=market, client_id=f"b{self.position_id}-{n}")
        return json.dumps(body, separators=(",", ":"))

    def request(self, port: int, body: str) -> bytes:
        """The whole HTTP/1.1 request, HMAC-signed now."""
        head = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", "Content-Length": str(len(body)),
                **self.signed_headers("POST", "/v3/orders", body)}
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
        return f"POST /v3/orders HTTP/1.1\r\n{lines}\r\n{body}".encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


# -- 1. orders per second -----------------------------------------------------------------------------


async def order_load(port: int, requests: list[bytes], connections: int, duration_s: float) -> dict[str, Any]:
    pending = iter(requests)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    deadline = time.perf_counter() + duration_s

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for req in pending:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                writer.write(req)
                status, _ = await read_response(reader)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "orders_per_s": statuses.get(201, 0) / elapsed,
        "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "elapsed_s": elapsed,
        "order_p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "order_p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else None,
    }


# -- 2. WebSocket fan-out -----------------------------------------------------------------------------


async def fanout(port: int, prober: Trader, subscribers: int, probes: int) -> dict[str, Any]:
    import websockets

    market = "ETH-USD"
    arrivals: list[dict[str, float]] = [{} for _ in range(subscribers)]
    conns = []
    for _ in range(subscribers):
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/v3/ws", max_size=1 << 22)
        await ws.recv()  # connected
        await ws.send(json.dumps({"type": "subscribe", "channel": "v3_orderbook", "id": market}))
        await ws.recv()  # the snapshot
        conns.append(ws)

    async def listen(i: int, ws: Any) -> None:
        async for raw in ws:
            t = time.perf_counter()
            msg = json.loads(raw)
            for price, _size in msg.get("contents", {}).get("bids", []):
                arrivals[i].setdefault(price, t)

    listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(conns)]
    prices = [str(Decimal(1900) - Decimal(i)) for i in range(probes)]
    bodies = [prober.signed_order(10_000 + i, "BUY", "0.01", p, market) for i, p in enumerate(prices)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    sent: dict[str, float] = {}
    for price, body in zip(prices, bodies, strict=True):
        req = prober.request(port, body)
        sent[price] = time.perf_counter()
        writer.write(req)
        status, text = await read_response(reader)
        if status != 201:
            raise RuntimeError(f"probe order refused: {status} {text[:300]!r}")
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    writer.close()
    for task in listeners:
        task.cancel()
    for ws in conns:
        await ws.close()
    missing = 0
    for got in arrivals:
        for price, t0 in sent.items():
            if price in got:
                latencies.append((got[price] - t0) * 1000)
            else:
                missing += 1
    latencies.sort()
    return {
        "fanout_subscribers": subscribers,
        "fanout_probes": probes,
        "fanout_p50_ms": statistics.median(latencies),
        "fanout_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "fanout_max_ms": latencies[-1],
        "fanout_missing": missing,
    }


# -- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0], "a short run (< 30 s)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent HTTP connections")
    parser.add_argument("--traders", type=int, default=16)
    parser.add_argument("--verify-workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)),
                        help="the server's STARK verifier processes (default: half the CPUs, 1 to 8)")
    parser.add_argument("--seconds", type=float, default=None, help="order-load duration")
    parser.add_argument("--profile", default=None, help="write the server's cProfile stats here")
    args = parser.parse_args()
    duration = args.seconds or (4.0 if args.quick else 15.0)
    n_orders = int(duration * (1500 if args.quick else 3000))
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="perpetua-bench-") as tmp:
        server = Server(Path(tmp), args.profile, rate_limit_per_s=1e9, rate_limit_burst=10**9, faucet_amount="10000000",
                        clock_interval_s=0, verify_workers=args.verify_workers)
        try:
            setup = time.perf_counter()
            traders = [Trader(9000 + i, server) for i in range(args.traders)]
            prober = Trader(8999, server)
            bodies: list[tuple[Trader, str]] = []
            for n in range(n_orders):
                t = traders[n % len(traders)]
                price = 40_000 + rng.randint(-20, 20) * 5
                bodies.append((t, t.signed_order(n, rng.choice(("BUY", "SELL")), "0.001", str(price))))
            requests = [t.request(server.port, b) for t, b in bodies]  # HMAC timestamps: now
            setup_s = time.perf_counter() - setup
            load = asyncio.run(order_load(server.port, requests, args.connections, duration))
            fan = asyncio.run(fanout(server.port, prober, 100, 20 if args.quick else 50))
        finally:
            server.stop()
    result = {
        **{k: v for k, v in load.items() if k != "statuses"},
        **fan,
        "setup_s": setup_s,
        "connections": args.connections,
        "verify_workers": args.verify_workers,
        "cpus": os.cpu_count(),
    }
    statuses = load["statuses"]
    print(f"{'figure':<22}{'value':>12}  unit")
    print(f"{'orders':<22}{load['orders_per_s']:>12.0f}  orders/s ({args.connections} connections, "
          f"{load['requests']} requests, statuses {statuses})")
    print(f"{'order latency p50':<22}{load['order_p50_ms']:>12.2f}  ms")
    print(f"{'order latency p99':<22}{load['order_p99_ms']:>12.2f}  ms")
    print(f"{'fan-out p50':<22}{fan['fanout_p50_ms']:>12.2f}  ms (100 subscribers, {fan['fanout_probes']} probes)")
    print(f"{'fan-out p99':<22}{fan['fanout_p99_ms']:>12.2f}  ms (missing {fan['fanout_missing']})")
    print_json(args, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()})


if __name__ == "__main__":
    main()
