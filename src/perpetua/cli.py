"""The `perpetua` command line."""

from __future__ import annotations

import argparse
import sys

from perpetua import __version__


def _cmd_markets(args: argparse.Namespace) -> int:
    from perpetua.core.markets import load_config

    for market in load_config(args.config).markets.values():
        print(market.describe())
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    """Run the main job: API, dashboard and a live simulated market (``perpetua.mainjob``)."""
    from perpetua.mainjob.app import UpOptions, up

    return up(UpOptions(
        data_dir=args.data_dir, host=args.host, port=args.port, speed=args.speed, seed=args.seed,
        candles_path=args.candles, candles_limit=args.candles_limit, markets_path=args.config,
    ))


def _cmd_serve(args: argparse.Namespace) -> int:
    """Run the trader API (dYdX v3 REST + WebSocket) on embedded defaults."""
    from perpetua.api.app import serve

    overrides: dict[str, object] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.config:
        overrides["markets_path"] = args.config
    serve(config_path=args.server_config, **overrides)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perpetua", description="Perpetua perpetual-futures exchange")
    parser.add_argument("--version", action="version", version=f"perpetua {__version__}")
    parser.add_argument("--config", help="market configuration TOML (default: the packaged markets)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("markets", help="print the configured markets").set_defaults(func=_cmd_markets)
    up = sub.add_parser("up", help="run the API, the dashboard and a live simulated market")
    up.add_argument("--speed", type=float, default=60.0, help="replay speed vs real time (0: as fast as possible)")
    up.add_argument("--seed", type=int, default=1, help="seed of the simulated participants")
    up.add_argument("--candles", help="minute-candle CSV to replay (default: shipped BTC, January 2022)")
    up.add_argument("--candles-limit", type=int, default=0, help="stop the replay after this many candles")
    up.add_argument("--data-dir", default="perpetua-data/up", help="journal and read models (fresh each run)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8080)
    up.set_defaults(func=_cmd_up)
    srv = sub.add_parser("serve", help="run the trader API (dYdX v3 REST + WebSocket)")
    srv.add_argument("--server-config", help="TOML file with a [server] table (PERPETUA_* variables override)")
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    srv.add_argument("--data-dir", help="where the journal and read models live")
    srv.set_defaults(func=_cmd_serve)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
