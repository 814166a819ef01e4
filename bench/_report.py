"""The benchmark convention in one place: a table by default; with --json, one JSON object on the last
line; --quick for a reduced run under 30 s."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from typing import Any


def bench_parser(description: str | None = None, quick_help: str = "fewer repeats (< 30 s)",
                 **parser_args: Any) -> argparse.ArgumentParser:
    """The arguments every benchmark takes, --quick and --json; a benchmark adds its own to these."""
    parser = argparse.ArgumentParser(description=description, **parser_args)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    return parser


def print_figures(title: str, figures: dict[str, Any], widths: tuple[int, int] = (24, 12)) -> None:
    """The default table: a title, then one figure a row under a ``figure value`` header."""
    name_w, value_w = widths
    print(title)
    print(f"{'figure':<{name_w}}{'value':>{value_w}}")
    for key, value in figures.items():
        print(f"{key:<{name_w}}{value:>{value_w}}")


def print_rows(rows: Iterable[tuple[str, object]]) -> None:
    """A plain table: each label padded to the longest, two spaces, its value."""
    rows = list(rows)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def print_json(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """With --json, the figures as one JSON object: the last line printed."""
    if args.json:
        print(json.dumps(figures))


def run_bench(description: str, title: str, run: Callable[[bool], dict[str, object]], *,
              quick_help: str = "fewer repeats (< 30 s)", widths: tuple[int, int] = (24, 12)) -> None:
    """Parse --quick/--json, call ``run(quick)`` and print its figures as the convention says."""
    args = bench_parser(description, quick_help).parse_args()
    figures = run(args.quick)
    print_figures(title, figures, widths)
    print_json(args, figures)
