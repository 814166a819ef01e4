"""Rebuild the state from DA payloads alone, and print a position's Merkle proof.

What a trader needs when the operator disappears: the posted payloads (state diffs), applied in
order to an empty state, give every leaf and both roots; a proof of one position against the last
positions root is what the L1 escape verifier checks.

    python -m perpetua.rollup.rebuild PAYLOAD_FILE... [--position ID] [--expect-root HEX]

Each PAYLOAD_FILE holds one batch's payload bytes (canonical JSON). Prints one JSON object: the
roots, and with --position the leaf, its fields and the 64 sibling digests (hex).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from perpetua.rollup.batch import decode_diff
from perpetua.rollup.position import Position
from perpetua.rollup.state import RollupState
from perpetua.rollup.tree import StateTree, hash_positions, verify_proof


def rebuild(payloads: Iterable[bytes]) -> tuple[RollupState, StateTree]:
    """Apply every payload's diff in order to an empty state; returns the state and its trees."""
    state = RollupState()
    tree = StateTree()
    for payload in payloads:
        diff = decode_diff(payload)
        state = state.with_changes(positions=dict(diff.positions), orders=dict(diff.orders))
        state = replace(state, funding_indices=dict(diff.funding_indices), funding_timestamp=diff.funding_timestamp,
                        oracle_prices=dict(diff.oracle_prices), system_time=diff.system_time)
        tree.apply_diff(dict(diff.positions), dict(diff.orders))
    return state, tree


def position_proof(state: RollupState, tree: StateTree, position_id: int) -> dict[str, object]:
    """The leaf, its fields and its 64 siblings, as JSON-ready values."""
    position: Position = state.position(position_id)
    leaf = hash_positions([position])[0]
    siblings = tree.positions.proof(position_id)
    return {
        "position_id": position_id,
        "public_key": hex(position.public_key),
        "collateral": position.collateral,
        "assets": [[hex(a.asset_id), a.balance, a.cached_funding_index] for a in position.assets],
        "leaf": leaf.hex(),
        "siblings": [s.hex() for s in siblings],
        "verified": verify_proof(tree.positions.root, position_id, leaf, siblings),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perpetua.rollup.rebuild", description=__doc__.split("\n")[0])
    parser.add_argument("payloads", nargs="+", type=Path)
    parser.add_argument("--position", type=int)
    parser.add_argument("--expect-root", help="the positions root (hex) posted on L1 for the last batch")
    args = parser.parse_args(argv)
    state, tree = rebuild(p.read_bytes() for p in args.payloads)
    out: dict[str, object] = {"positions_root": tree.positions.root.hex(), "orders_root": tree.orders.root.hex(),
                              "n_positions": len(state.positions)}
    if args.position is not None:
        out["proof"] = position_proof(state, tree, args.position)
    print(json.dumps(out, indent=1))
    if args.expect_root and args.expect_root.lower().removeprefix("0x") != tree.positions.root.hex():
        print("positions root does not match --expect-root", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
