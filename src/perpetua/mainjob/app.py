"""Composition: the API app (``perpetua.api.create_app``) + the dashboard (``perpetua.web``) + the
live market (``live.LiveMarket``) + the main job's routes, and ``up``, which serves it all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from perpetua.api.app import create_app
from perpetua.api.config import ServerConfig, load_server_config
from perpetua.core.markets import ExchangeConfig, load_config
from perpetua.core.quantities import COLLATERAL_RESOLUTION, format_units
from perpetua.mainjob.demo_account import DemoIdentity, demo_identity
from perpetua.mainjob.live import LiveMarket, market_timings
from perpetua.mainjob.routes import router
from perpetua.mainjob.settlement import BATCH_TXS, Settlement, SettlementOptions
from perpetua.sim.candles import Candle, load_candles
from perpetua.sim.demo_market import DemoSettings
from perpetua.web import mount_dashboard

log = logging.getLogger("perpetua.mainjob")

JOURNAL_FILES = ("journal.db", "journal.db-wal", "journal.db-shm", "read.db", "read.db-wal", "read.db-shm")


@dataclass(frozen=True, slots=True)
class UpOptions:
    """What ``perpetua up`` takes."""

    data_dir: str = "perpetua-data/up"
    host: str = "127.0.0.1"
    port: int = 8080
    speed: float = 60.0
    """Simulated seconds per wall second (60: a recorded minute per second); 0: as fast as possible."""
    seed: int = 1
    candles_path: str | None = None
    candles_limit: int = 0
    markets_path: str | None = None
    synchronous: str = "NORMAL"
    """The demo journal survives process crashes, not power loss (``FULL`` for that)."""
    l1: bool = False
    """Settle on the L1 contracts in-process (``perpetua up`` turns it on unless ``--no-l1``)."""
    batch_txs: int = BATCH_TXS
    batch_interval_s: float | None = None
    """Wall seconds between batches at most; None: ten simulated minutes at ``speed``."""
    tamper_proof_every: int | None = None
    prover_ray: str | None = None
    """Fault injection: corrupt every Nth batch's proof (refused, then accepted with the honest one)."""


def fresh_data_dir(path: str | Path) -> Path:
    """Each run starts a fresh market: the previous run's journal and read models are removed."""
    data = Path(path)
    data.mkdir(parents=True, exist_ok=True)
    for name in JOURNAL_FILES:
        (data / name).unlink(missing_ok=True)
    return data


def build_app(opts: UpOptions, config: ExchangeConfig | None = None, candles: list[Candle] | None = None) -> FastAPI:
    """The whole main job as one ASGI app (the live market starts with the app's lifespan)."""
    base = config or load_config(opts.markets_path)
    settings = DemoSettings(seed=opts.seed)
    if candles is None:
        candles = load_candles(base.markets[settings.market_id], opts.candles_path)
    if opts.candles_limit:
        candles = candles[: opts.candles_limit]
    config = market_timings(base, opts.speed)
    first = format_units(candles[0].open, COLLATERAL_RESOLUTION) if candles else "40000"
    cfg: ServerConfig = load_server_config(
        None, env={}, data_dir=str(opts.data_dir), host=opts.host, port=opts.port, synchronous=opts.synchronous,
        initial_oracle_prices={"BTC-USD": first, "ETH-USD": "2500", "SOL-USD": "95"},
        rate_limit_per_s=1000.0, rate_limit_burst=2000,
    )
    identity = demo_identity()
    app = create_app(cfg, config)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a):
            settlement = None
            if opts.l1:
                settlement = Settlement(a.state.exchange, SettlementOptions(
                    speed=opts.speed, batch_txs=opts.batch_txs, batch_interval_s=opts.batch_interval_s,
                    tamper_proof_every=opts.tamper_proof_every, prover_ray=opts.prover_ray))
                settlement.attach()
            a.state.settlement = settlement
            live = LiveMarket(a.state.exchange, candles, settings, opts.speed, identity.create_meta(), settlement)
            a.state.live_market = live
            await live.start()
            try:
                yield
            finally:
                await live.stop()
                if settlement is not None:
                    await settlement.stop()

    app.router.lifespan_context = lifespan
    app.state.demo_identity = identity
    app.include_router(router)
    mount_dashboard(app)
    return app


def banner(opts: UpOptions, identity: DemoIdentity, candles: int) -> str:
    url = f"http://{opts.host}:{opts.port}/"
    speed = "as fast as possible" if opts.speed <= 0 else f"{opts.speed:g}x real time"
    return "\n".join([
        "Perpetua main job: exchange + v3 API + dashboard + a live simulated market (embedded defaults).",
        f"  Dashboard    {url}",
        f"  API          {url}v3/markets   (OpenAPI: {url}docs, WebSocket: ws://{opts.host}:{opts.port}/v3/ws)",
        f"  Data         {Path(opts.data_dir).resolve()} (SQLite journal, fresh each run)",
        f"  Market       BTC-USD replaying {candles} recorded one-minute candles at {speed}",
        (f"  L1           Vyper contracts in-process (titanoboa), rollup batches of up to {opts.batch_txs} txs, each "
         f"STARK-proven then verified before L1 accepts it; settlement view {url}settlement"
         if opts.l1 else "  L1           off (--no-l1)"),
        *([f"  Fault        every {opts.tamper_proof_every}th batch's proof is corrupted (--tamper-proof-every): "
           "refused, then accepted with the honest proof"] if opts.l1 and opts.tamper_proof_every else []),
        f"  Demo account position id {identity.position_id} (DEVELOPMENT ONLY: the server holds these keys)",
        f"    STARK private key  {identity.stark_private_key:#x}",
        f"    STARK public key   {identity.stark_public_key:#x}",
        f"    Ethereum address   {identity.eth_address}",
        f"    API key            {identity.api_key}",
        f"    API secret         {identity.api_secret}",
        f"    API passphrase     {identity.api_passphrase}",
        "Ctrl-C stops.",
    ])


def up(opts: UpOptions) -> int:
    """Serve the main job until Ctrl-C (what ``perpetua up`` runs)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    base = load_config(opts.markets_path)
    candles = load_candles(base.markets[DemoSettings().market_id], opts.candles_path)
    if opts.candles_limit:
        candles = candles[: opts.candles_limit]
    fresh_data_dir(opts.data_dir)
    app = build_app(opts, base, candles)
    server = uvicorn.Server(uvicorn.Config(app, host=opts.host, port=opts.port, log_level="warning",
                                           ws_max_size=1 << 16, lifespan="on"))
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        if server.started:
            print(banner(opts, app.state.demo_identity, len(candles)), flush=True)

    server.startup = startup  # type: ignore[method-assign]
    with contextlib.suppress(KeyboardInterrupt):
        server.run()  # uvicorn turns SIGINT / SIGTERM into a graceful shutdown (the lifespan stops the market)
    print("Stopped.", flush=True)
    return 0
