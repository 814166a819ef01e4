"""The `perpetua` command line."""

from __future__ import annotations

import argparse
import sys

from perpetua import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perpetua", description="Perpetua perpetual-futures exchange")
    parser.add_argument("--version", action="version", version=f"perpetua {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("markets", help="print the configured markets")
    args = parser.parse_args(argv)
    if args.command == "markets":
        from perpetua.core.markets import load_config

        for market in load_config().markets.values():
            print(market.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
