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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cmd_up(args: argparse.Namespace) -> int:
    """Run the main job: API, dashboard and a live simulated market (``perpetua.mainjob``)."""
    from perpetua.mainjob.app import UpOptions, up

    return up(UpOptions(
        data_dir=args.data_dir, host=args.host, port=args.port, speed=args.speed, seed=args.seed,
        candles_path=args.candles, candles_limit=args.candles_limit, markets_path=args.config,
        l1=not args.no_l1, tamper_proof_every=args.tamper_proof_every, prover_ray=args.prover_ray,
        **({"batch_txs": args.batch_txs} if args.batch_txs is not None else {}),
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


def _cmd_stress_run(args: argparse.Namespace) -> int:
    """Run one stress scenario and print its metrics as JSON."""
    import json

    from perpetua.sim.stress import run_scenario
    from perpetua.sim.sweep import parse_grid

    overrides = {k: v[0] for k, v in parse_grid(args.set).items()} if args.set else None
    print(json.dumps(run_scenario(args.scenario, overrides), indent=2))
    return 0


def _cmd_stress_sweep(args: argparse.Namespace) -> int:
    """Run a scenario over a parameter grid (Ray when installed, else a process pool) and report."""
    from perpetua.sim.sweep import parse_grid, run_sweep, write_report

    results = run_sweep(args.scenario, parse_grid(args.grid), engine=args.engine, workers=args.workers,
                        address=args.address)
    table, html = write_report(results, args.out, metric=args.metric)
    print(f"{len(results)} runs; table {table}; report {html}")
    return 0


def _load_strategy(spec: str) -> object:
    """``FILE.py:Class``, or ``FILE.py`` defining exactly one ``Strategy`` subclass."""
    import importlib.util
    import inspect

    from perpetua.sim.playback import Strategy

    path_text, _, cls = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("perpetua_user_strategy", path_text)
    if module_spec is None or module_spec.loader is None:
        raise SystemExit(f"{path_text}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if cls:
        return getattr(module, cls)()
    found = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
             if issubclass(obj, Strategy) and obj is not Strategy and obj.__module__ == module.__name__]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise SystemExit(f"{path_text}: expected one Strategy subclass (found {names}); name it as FILE.py:Class")
    return found[0]()


class _Progress:
    """A plain progress bar on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.last = max(total, 1), enabled, -1

    def __call__(self, done: int) -> None:
        pct = done * 100 // self.total
        if not self.enabled or pct == self.last:
            return
        self.last = pct
        bar = "#" * (pct // 4)
        sys.stderr.write(f"\r[{bar:<25}] {pct:3d}% {done}/{self.total} events")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _cmd_backtest(args: argparse.Namespace) -> int:
    """Replay recorded files (merged in time order) through the core with a strategy, and report."""
    from pathlib import Path

    from perpetua.core.markets import load_config
    from perpetua.sim.marketdata import Scale, load, merge
    from perpetua.sim.playback import Playback, PlaybackSettings, Strategy

    config = load_config(args.config)
    if args.market not in config.markets:
        raise SystemExit(f"unknown market {args.market}; configured: {', '.join(config.markets)}")
    market = config.markets[args.market]
    spec = args.strategy or args.strategy_option
    strategy = _load_strategy(spec) if spec else Strategy()
    assert isinstance(strategy, Strategy)
    options = {"volume_in_quote": True} if args.volume_in_quote else {}
    scale = Scale(size=market.resolution)
    events = list(merge(*(load(path, scale, **options) for path in args.data)))
    settings = PlaybackSettings(market_id=args.market, speed=args.speed)
    progress = _Progress(len(events), not args.quiet)
    result = Playback(config, strategy, settings).run(events, progress)
    for key, value in result.summary().items():
        print(f"{key:>22}: {value}")
    if args.out:
        for path in result.write(Path(args.out)):
            print(f"{'written':>22}: {path}")
    if args.report:
        name = type(strategy).__name__
        result.write_report(Path(args.report), f"Backtest: {name}, {args.market}, "
                                               + ", ".join(Path(d).name for d in args.data))
        print(f"{'report':>22}: {args.report}")
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
    up.add_argument("--no-l1", action="store_true",
                    help="do not run the L1 contracts in-process (no rollup batches, no settlement view)")
    up.add_argument("--batch-txs", type=_positive_int, default=None, metavar="N",
                    help="cut a rollup batch at this many transactions (default 120; each batch is STARK-proven)")
    up.add_argument("--prover-ray", default=None, metavar="ADDRESS",
                    help="prove each batch's parts as tasks on this Ray cluster (e.g. the address `ray start "
                         "--head` prints; needs the `sweep` extra) instead of two local worker processes")
    up.add_argument("--tamper-proof-every", type=_positive_int, default=None, metavar="N",
                    help="fault injection: corrupt every Nth batch's proof; the fact service refuses it and the "
                         "settlement view lists the refusal, then the honest proof is accepted (default off)")
    up.set_defaults(func=_cmd_up)
    srv = sub.add_parser("serve", help="run the trader API (dYdX v3 REST + WebSocket)")
    srv.add_argument("--server-config", help="TOML file with a [server] table (PERPETUA_* variables override)")
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    srv.add_argument("--data-dir", help="where the journal and read models live")
    srv.set_defaults(func=_cmd_serve)
    bt = sub.add_parser("backtest", help="replay recorded market data through the core with a strategy")
    bt.add_argument("strategy", nargs="?", help="STRATEGY.py (one Strategy subclass) or FILE.py:Class")
    bt.add_argument("--data", nargs="+", required=True,
                    help="recorded files (candles, trades, L2, Binance, Tardis, Parquet), merged in time order")
    bt.add_argument("--market", default="BTC-USD")
    bt.add_argument("--strategy", dest="strategy_option", help=argparse.SUPPRESS)  # the older spelling
    bt.add_argument("--volume-in-quote", action="store_true", help="candle volume is in USD")
    bt.add_argument("--speed", type=float, default=0.0, help="data seconds per wall second (0: as fast as possible)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.add_argument("--out", help="samples as .csv or .parquet (trades and liquidations beside them)")
    bt.add_argument("--report", help="a self-contained HTML report")
    bt.set_defaults(func=_cmd_backtest)
    stress = sub.add_parser("stress", help="the stress lab").add_subparsers(dest="stress_command", required=True)
    run = stress.add_parser("run", help="run one scenario (a TOML file or a packaged name: gap-30, ...)")
    run.add_argument("scenario")
    run.add_argument("--set", nargs="*", default=[], help="overrides, e.g. margin.imf=0.05 fund=100000")
    run.set_defaults(func=_cmd_stress_run)
    sweep = stress.add_parser("sweep", help="run a scenario over a parameter grid")
    sweep.add_argument("scenario")
    sweep.add_argument("--grid", nargs="+", required=True, help="e.g. margin.imf=0.03,0.05 fund=0,100000 seed=1,2")
    sweep.add_argument("--engine", default="auto", choices=["auto", "ray", "process"])
    sweep.add_argument("--workers", type=int, default=2)
    sweep.add_argument("--address", help="a Ray cluster address (default: a local Ray)")
    sweep.add_argument("--metric", default="insurance_fund_min", help="the heatmap's metric")
    sweep.add_argument("--out", default="stress-out", help="where sweep.parquet and report.html go")
    sweep.set_defaults(func=_cmd_stress_sweep)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
