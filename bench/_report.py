"""The benchmark convention in one place: a table by default; with --json, one JSON object on the last
line; --quick for a reduced run under 30 s."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def run_bench(description: str, title: str, run: Callable[[bool], dict[str, object]]) -> None:
    """Parse --quick/--json, call ``run(quick)`` and print its figures as the convention says."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (< 30 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = parser.parse_args()
    figures = run(args.quick)
    print(title)
    print(f"{'figure':<24}{'value':>12}")
    for key, value in figures.items():
        print(f"{key:<24}{value:>12}")
    if args.json:
        print(json.dumps(figures))
