"""Stress sweeps: a scenario over a grid of parameters, run in parallel, reported as Parquet + HTML.

``run_sweep`` expands a grid (``{"margin.imf": ["0.03", "0.05"], "fund": [0, 100000]}``) into every
combination and runs each point with ``stress.run_scenario``:

- on Ray when it is installed: a local Ray by default, a cluster with ``address`` (``ray.init``);
- otherwise (or with ``engine="process"``) on a local process pool, so the base install stays light.

Each point is independent and deterministic, so both engines give the same table, in grid order.
``write_report`` writes ``sweep.parquet`` and ``report.html`` (a heatmap of a metric over two
parameters, with Plotly's JavaScript inlined: the report opens offline).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from perpetua.sim.stress import Scenario, load_scenario, run_scenario


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """``["margin.imf=0.03,0.05", "fund=0,100000"]`` -> ``{"margin.imf": ["0.03", "0.05"], ...}``."""
    grid: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key or not values:
            raise ValueError(f"grid entry {spec!r}: expected name=value[,value...]")
        grid[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def _run_point(args: tuple[Scenario, dict[str, Any]]) -> dict[str, Any]:
    scenario, overrides = args
    return run_scenario(scenario, overrides)


def run_sweep(
    scenario: Scenario | str | Path,
    grid: Mapping[str, Sequence[Any]],
    engine: str = "auto",
    workers: int = 2,
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Every grid point's metrics, in grid order. ``engine``: "ray", "process" or "auto"."""
    s = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    points = grid_points(grid)
    if engine == "auto":
        engine = "ray" if importlib.util.find_spec("ray") is not None else "process"
    if engine == "ray":
        from perpetua.parallel import ray_executor

        with ray_executor(address, workers) as executor:
            return [f.result() for f in [executor.submit(_run_point, (s, p)) for p in points]]
    if engine != "process":
        raise ValueError(f"engine must be 'ray', 'process' or 'auto', not {engine!r}")
    if workers <= 1:
        return [_run_point((s, p)) for p in points]
    # forkserver, not fork: this process may have run Ray (its threads do not survive a fork)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        return list(pool.map(_run_point, [(s, p) for p in points]))


def write_report(
    results: list[dict[str, Any]], out_dir: str | Path, metric: str = "insurance_fund_min",
    x: str | None = None, y: str | None = None,
) -> tuple[Path, Path]:
    """Write ``sweep.parquet`` and ``report.html`` (a heatmap of ``metric`` over two parameters)."""
    import plotly.graph_objects as go
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table_path = out / "sweep.parquet"
    rows = [{k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()} for r in results]
    pq.write_table(pa.Table.from_pylist(rows), table_path)
    params = [k for k in results[0] if k.startswith("param.")] if results else []
    x = x or (params[0] if params else None)
    y = y or (params[1] if len(params) > 1 else None)
    figures = []
    if x is not None:
        xs = sorted({str(r[x]) for r in results}, key=_sort_key)
        ys = sorted({str(r[y]) for r in results}, key=_sort_key) if y else ["-"]
        for name in (metric, "bad_debt", "liquidation_events"):
            z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
            counts: list[list[int]] = [[0] * len(xs) for _ in ys]
            for r in results:
                i = ys.index(str(r[y])) if y else 0
                j = xs.index(str(r[x]))
                value = r.get(name)
                if isinstance(value, (int, float)):
                    z[i][j] = (z[i][j] or 0) + value
                    counts[i][j] += 1
            z = [[None if c == 0 or v is None else v / c for v, c in zip(row, crow, strict=True)]
                 for row, crow in zip(z, counts, strict=True)]
            fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, colorscale="RdYlGn" if name == metric else "Reds"))
            fig.update_layout(title=f"{name} (mean over the other parameters)", xaxis_title=x.removeprefix("param."),
                              yaxis_title=(y or "").removeprefix("param."), height=420)
            figures.append(fig)
    scenario = results[0]["scenario"] if results else "?"
    parts = [f"<h1>Stress sweep: {scenario}</h1><p>{len(results)} grid points. Every run checked collateral "
             f"conservation after every command: {sum(r['conservation_violations'] for r in results)} violations.</p>"]
    for k, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if k == 0 else False))
    html_path = out / "report.html"
    html_path.write_text("<!doctype html><html><head><meta charset='utf-8'><title>Perpetua stress sweep</title>"
                         "</head><body style='font-family:sans-serif'>" + "".join(parts) + "</body></html>")
    return table_path, html_path


def _sort_key(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)
