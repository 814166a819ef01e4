"""The command line of the research tools: backtest, stress run, stress sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perpetua.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_backtest_command_with_an_example_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (ROOT / "src/perpetua/data/btc-perp-2022-01-21-to-24-1m.csv").read_text().splitlines()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("\n".join(lines[:101]) + "\n")  # header + 100 bars
    second.write_text("\n".join([lines[0], *lines[101:200]]) + "\n")  # the next 99, a second file
    assert main(["backtest", str(ROOT / "examples/leveraged_grid.py"), "--data", str(second), str(first),
                 "--market", "BTC-USD", "--volume-in-quote", "--out", str(tmp_path / "r.csv"),
                 "--report", str(tmp_path / "r.html")]) == 0
    captured = capsys.readouterr()
    assert "market_events: 199" in captured.out and "100%" in captured.err  # merged; a progress bar
    assert (tmp_path / "r.csv").read_text().startswith("time_ns,") and (tmp_path / "r.trades.csv").exists()
    page = (tmp_path / "r.html").read_text()
    assert "LeveragedGrid" in page and "Funding" in page and "Margin ratio" in page
    with pytest.raises(SystemExit, match="expected one Strategy subclass"):
        main(["backtest", str(ROOT / "tests/sim/test_cli_sim.py"), "--data", str(first)])


def test_stress_run_and_sweep_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "run", "gap-30", "--set", "agents.traders=10"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["scenario"] == "gap-30" and metrics["conservation_violations"] == 0
    assert main(["stress", "sweep", "gap-30", "--grid", "agents.traders=10", "margin.imf=0.04,0.06", "batch_interval=0,60",
                 "--engine", "process", "--workers", "1", "--out", str(tmp_path)]) == 0
    assert "4 runs" in capsys.readouterr().out
    assert (tmp_path / "sweep.parquet").exists() and (tmp_path / "report.html").exists()
