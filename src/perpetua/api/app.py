"""The FastAPI application and ``serve``: one process wiring sequencer, journal, read models and clock.

``create_app(cfg)`` builds the app (recovery runs at startup); ``serve(cfg)`` runs it under uvicorn
with one worker: the sequencer is serial by construction, so more workers would mean more exchanges.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from perpetua.api import market_data, routes_private, routes_public, ws
from perpetua.api.auth import RateLimiter
from perpetua.api.config import ServerConfig, load_server_config
from perpetua.api.errors import install_error_handlers
from perpetua.api.exchange import Exchange
from perpetua.core.markets import ExchangeConfig, load_config

log = logging.getLogger("perpetua.api")

DESCRIPTION = """A perpetual-futures exchange with the dYdX v3 API. Errors are
`{"errors": [{"msg", "code", "field"}]}`. Private endpoints use v3 API-key HMAC headers
(DYDX-API-KEY, DYDX-PASSPHRASE, DYDX-TIMESTAMP, DYDX-SIGNATURE). See docs/api.md."""


def create_app(cfg: ServerConfig | None = None, config: ExchangeConfig | None = None) -> FastAPI:
    cfg = cfg or load_server_config()
    config = config or load_config(cfg.markets_path or None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ex = Exchange(cfg, config)
        log.info("recovered %d journal records in %.2f s", ex.seq, ex.recovery_s)
        app.state.exchange = ex
        publisher = ws.Publisher(ex)
        app.state.publisher = publisher
        ex.listeners.append(publisher)
        await ex.start()
        try:
            yield
        finally:
            await ex.stop()

    app = FastAPI(title="Perpetua", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.public_limiter = RateLimiter(cfg.rate_limit_per_s, cfg.rate_limit_burst)
    app.state.private_limiter = RateLimiter(cfg.rate_limit_per_s, cfg.rate_limit_burst)
    install_error_handlers(app)
    # Routes are matched in order: the private (trading) routes first, so POST /v3/orders, the hot
    # path, is not tried against every public route before its own.
    app.include_router(routes_private.router)
    app.include_router(routes_public.router)
    app.include_router(market_data.public)
    app.include_router(market_data.private)
    app.include_router(ws.router)
    return app


def serve(cfg: ServerConfig | None = None, *, config_path: str | Path | None = None, **overrides: Any) -> None:
    """Run the exchange's API server until interrupted (what ``perpetua serve`` calls).

    Settings: ``cfg``, or ``config_path`` (a TOML file with a ``[server]`` table) plus ``PERPETUA_*``
    environment variables plus keyword ``overrides`` (e.g. ``port=9000``).
    """
    import uvicorn

    cfg = cfg or load_server_config(config_path, **overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, log_level="warning", ws_max_size=1 << 16)


def main() -> None:  # python -m perpetua.api.app [config.toml]
    import sys

    serve(config_path=sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()
