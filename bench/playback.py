"""Playback benchmark: recorded market events replayed through the real exchange core per second.

Three recordings, each through ``sim.playback.Playback`` (every order a real ``Sequencer.apply``):
- minute candles (BTC, January 2022): each bar walks 4 oracle points with a sweep and a maker ladder
  (about 25 commands a bar);
- an L2 stream (XRPUSDT, Bybit 500 levels: a snapshot then deltas), mirrored level by level;
- a trade tape (BTCUSDT), each trade an IOC order.
``events_per_s`` counts every market event the core processes: the recorded ones (trades, book
updates) and the synthetic book flow a candle generates (oracle ticks, maker quotes and cancels,
sweeps, funding samples) — the issue's "a month of minute data with its synthetic book flow". It is
the commands applied per second over all three recordings. ``recorded_events_per_s`` counts only
the records in the files (a candle is one), and ``month_of_minutes_s`` is the time 43,200 one-minute
candles take (measured in full mode on the recorded month, extrapolated from the quick run). Sweep
throughput: scenario runs per second of a small gap scenario grid on a process pool with 1 and 2
workers (Ray adds start-up time; it is measured by the test suite's sweep, not here).

    python bench/playback.py [--quick] [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from _report import bench_parser, print_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from perpetua.core.markets import load_config  # noqa: E402
from perpetua.sim.marketdata import Scale, load  # noqa: E402
from perpetua.sim.playback import Playback, PlaybackSettings, Strategy  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SHIPPED = ROOT / "src/perpetua/data/btc-perp-2022-01-21-to-24-1m.csv"


def timed(config_path: Path | None, market: str, events: list, **options: object) -> tuple[int, float, int]:
    config = load_config(config_path)
    playback = Playback(config, Strategy(), PlaybackSettings(market_id=market))
    start = time.perf_counter()
    result = playback.run(events)
    return result.events, time.perf_counter() - start, result.commands


def sweep_throughput(points: int) -> dict[str, float]:
    """Scenario runs per second for a small grid, 1 and 2 worker processes."""
    import dataclasses

    from perpetua.sim.stress import load_scenario
    from perpetua.sim.sweep import run_sweep

    base = load_scenario("gap-30")
    scenario = dataclasses.replace(base, agents={**base.agents, "traders": 20},
                                   path={**base.path, "pre_minutes": 2, "post_minutes": 3})
    grid = {"seed": [str(i) for i in range(points)]}
    out = {}
    for workers in (1, 2):
        start = time.perf_counter()
        run_sweep(scenario, grid, engine="process", workers=workers)
        out[f"sweep_runs_per_s_{workers}_workers"] = round(points / (time.perf_counter() - start), 2)
    return out


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0]).parse_args()
    fine = ROOT / "src/perpetua/config/playback-markets.toml"
    candles = SHARED / "btc-perp-2022-01-1m.csv" if SHARED.is_dir() else SHIPPED
    n_bars = 3_000 if args.quick else 45_031  # full: the whole recorded month
    bars = list(load(candles, Scale(size=10**10), volume_in_quote=True))[:n_bars]
    rows = {"bars": timed(None, "BTC-USD", bars)}
    if SHARED.is_dir():
        l2 = list(load(SHARED / "xrpusdt-perp-l2-2024-12-01.jsonl", Scale(size=10**6)))
        tape = list(load(SHARED / "btcusdt-trades-2021-01-08.csv", Scale(size=10**10)))
        rows["l2"] = timed(fine, "XRP-USD", l2)
        rows["trades"] = timed(fine, "BTC-USD", tape)
    sweep = sweep_throughput(8 if args.quick else 24)
    total_events = sum(r[0] for r in rows.values())
    total_s = sum(r[1] for r in rows.values())
    total_commands = sum(r[2] for r in rows.values())
    n, s_bars, _ = rows["bars"]
    out: dict[str, object] = {
        "events_per_s": round(total_commands / total_s),
        "recorded_events_per_s": round(total_events / total_s),
        "month_of_minutes_s": round(43_200 * s_bars / n, 1),
    }
    for kind, (n, s, cmds) in rows.items():
        out[f"{kind}_events_per_s"] = round(n / s)
        out[f"{kind}_commands_per_s"] = round(cmds / s)
        out[f"{kind}_events"] = n
        out[f"{kind}_s"] = round(s, 3)
    out.update(sweep)
    print(f"{'recording':<10}{'events':>10}{'seconds':>10}{'events/s':>12}{'commands/s':>13}")
    for kind, (n, s, cmds) in rows.items():
        print(f"{kind:<10}{n:>10}{s:>10.2f}{n / s:>12.0f}{cmds / s:>13.0f}")
    for k, v in sweep.items():
        print(f"{k:<34}{v:>10}")
    print_json(args, out)


if __name__ == "__main__":
    main()
