"""The `perpetua` command line."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from perpetua import __version__


def _cmd_markets(args: argparse.Namespace) -> int:
    from perpetua.core.markets import load_config

    for market in load_config(args.config).markets.values():
        print(market.describe())
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    """Run the exchange core with a live simulated market replaying recorded BTC candles."""
    from perpetua.core.markets import load_config
    from perpetua.core.quantities import COLLATERAL_RESOLUTION, PPM, format_units
    from perpetua.core.risk import liquidation_price, margin_summary
    from perpetua.sim.candles import load_candles
    from perpetua.sim.demo_market import DEMO_ACCOUNT, DemoMarket, DemoSettings, demo_private_key

    config = load_config(args.config)
    settings = DemoSettings(seed=args.seed)
    candles = load_candles(config.markets[settings.market_id], args.candles)
    if args.candles_limit:
        candles = candles[: args.candles_limit]
    demo = DemoMarket(config, candles, settings)
    state = demo.sequencer.state
    mid = settings.market_id
    res = config.markets[mid].resolution

    def usd(q: int | None) -> str:
        return "-" if q is None else format_units(q, COLLATERAL_RESOLUTION)

    demo_acct = state.accounts[DEMO_ACCOUNT]
    print(f"Perpetua {__version__}: exchange core running on embedded defaults (in-process sequencer).")
    print(f"Market {mid}, replaying {len(candles)} recorded one-minute candles at {args.speed:g}x real time.")
    print(f"Demo account: position id {DEMO_ACCOUNT}, STARK private key {demo_private_key(DEMO_ACCOUNT):#x}")
    print(f"              STARK public key {demo_acct.public_key:#x}")
    print("The web dashboard and the HTTP API come with the API and dashboard issues; this terminal shows the")
    print("market. Ctrl-C stops.\n")
    delay = 60.0 / args.speed if args.speed > 0 else 0.0
    started = time.monotonic()
    try:
        for n, (candle, _events) in enumerate(demo.run(), start=1):
            if n % args.every == 0 or n == len(candles):
                book = state.books[mid]
                oi = state.open_interest(mid)
                lev = state.accounts[300]
                summary = margin_summary(lev, state.markets, state.oracle_prices, state.funding_indices)
                ratio = "-" if summary.margin_ratio_ppm is None else f"{summary.margin_ratio_ppm * 100 / PPM:.1f}%"
                when = datetime.fromtimestamp(candle.timestamp_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M")
                print(
                    f"{when}  oracle {usd(state.oracle_prices[mid])}  mark {usd(state.mark_price(mid))}  "
                    f"bid {usd(book.best_bid())} ask {usd(book.best_ask())}  fills {demo.stats.fills}  "
                    f"volume {usd(demo.stats.volume_quote)}  OI {format_units(oi, res)}  "
                    f"fees {usd(state.fee_account.collateral)}  trader#300 margin ratio {ratio} liq "
                    f"{usd(liquidation_price(lev, mid, state.markets, state.oracle_prices, state.funding_indices))}",
                    flush=True,
                )
            if delay:
                time.sleep(max(0.0, started + n * delay - time.monotonic()))
    except KeyboardInterrupt:
        print("\nStopped.")
    print(f"State hash {demo.sequencer.state_hash()} after {len(demo.sequencer.log)} commands.")
    return 0


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
    up = sub.add_parser("up", help="run the exchange with a live simulated market")
    up.add_argument("--speed", type=float, default=60.0, help="replay speed vs real time (0: as fast as possible)")
    up.add_argument("--seed", type=int, default=1, help="seed of the simulated participants")
    up.add_argument("--candles", help="minute-candle CSV to replay (default: shipped BTC, January 2022)")
    up.add_argument("--candles-limit", type=int, default=0, help="stop after this many candles")
    up.add_argument("--every", type=int, default=1, help="print a status line every N candles")
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
