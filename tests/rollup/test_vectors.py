"""Known-answer vectors of the rollup state commitment: tests/vectors/rollup/rollup_vectors.json.

The batch circuit and the L1 escape verifier check themselves against this file; this test checks
that `rollup.hashing`, `rollup.tree` and `rollup.batch` still produce it (the leaf hashes also
through the Python-int reference permutation). Regenerate only on a deliberate encoding change:

    PERPETUA_REGEN_VECTORS=1 .venv/bin/pytest tests/rollup/test_vectors.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from perpetua.rollup.batch import Mode
from perpetua.rollup.hashing import (
    EMPTY_ORDER_LEAF,
    EMPTY_ORDER_SUBTREES,
    EMPTY_POSITION_LEAF,
    EMPTY_POSITION_SUBTREES,
    digest_to_ints,
    hash_limbs_ref,
    hash_node,
    order_limbs,
    position_limbs,
)
from perpetua.rollup.position import Position, PositionAsset
from perpetua.rollup.rebuild import rebuild
from perpetua.rollup.tree import hash_orders, hash_positions, position_leaf_limbs, verify_proof
from tests.rollup.helpers import BTC, ETH, key
from tests.rollup.test_tree_and_da import run_batches

VECTORS = Path(__file__).parents[1] / "vectors" / "rollup" / "rollup_vectors.json"


def digest(d: bytes) -> dict[str, Any]:
    return {"hex": d.hex(), "elements": digest_to_ints(d)}


def build_vectors() -> dict[str, Any]:
    position = Position(key(3), -123_456_789, (PositionAsset(BTC.synthetic_asset_id, 250_000_000, -(5 << 32) - 7),
                                                 PositionAsset(ETH.synthetic_asset_id, -3_000_000_000, 12 << 32)))
    limbs = position_leaf_limbs(position)
    left, right = hash_positions([position])[0], hash_orders([42])[0]
    batcher, batches = run_batches(Mode.ROLLUP)
    _, tree = rebuild(b.payload for b in batches)
    siblings = tree.positions.proof(10)
    return {
        "about": "Rollup state commitment vectors; the encoding is specified in src/perpetua/rollup/hashing.py "
                 "and docs/rollup.md. Digests: 8 BabyBear elements; hex = the 8 elements as little-endian u32.",
        "leaf_hash": "limbs zero-padded to a multiple of 8, then state = 0; per 8-limb chunk: state[0:8] = chunk, "
                     "state = Poseidon2(state); digest = state[0:8] (Plonky3 PaddingFreeSponge<16, 8, 8> fed the "
                     "PADDED list: without the explicit zero padding a partial last chunk would keep old lanes)",
        "node_hash": "Poseidon2(left || right)[0:8] (Plonky3 TruncatedPermutation)",
        "tree_height": 64,
        "empty_position_leaf": {"limbs": position_limbs(0, 0, ()), "digest": digest(EMPTY_POSITION_LEAF)},
        "empty_order_leaf": {"limbs": order_limbs(0), "digest": digest(EMPTY_ORDER_LEAF)},
        "empty_position_subtrees": [d.hex() for d in EMPTY_POSITION_SUBTREES],
        "empty_order_subtrees": [d.hex() for d in EMPTY_ORDER_SUBTREES],
        "position_leaf": {
            "public_key": hex(position.public_key), "collateral": position.collateral,
            "assets": [[hex(a.asset_id), a.balance, a.cached_funding_index] for a in position.assets],
            "limbs": limbs, "digest": digest(hash_limbs_ref(limbs)),
        },
        "order_leaf": {"filled": 42, "limbs": order_limbs(42), "digest": digest(hash_orders([42])[0])},
        "node": {"left": left.hex(), "right": right.hex(), "digest": digest(hash_node(left, right))},
        "batches": [{
            "sequence": b.sequence, "mode": str(b.mode),
            "old_roots": {"positions": b.old_roots[0].hex(), "orders": b.old_roots[1].hex()},
            "new_roots": {"positions": b.new_roots[0].hex(), "orders": b.new_roots[1].hex()},
            "payload": b.payload.decode(), "payload_hash": b.payload_hash.hex(), "commitment": b.commitment.hex(),
        } for b in batches],
        "proof": {
            "position_id": 10, "root": tree.positions.root.hex(),
            "leaf": hash_positions([batcher.state.position(10)])[0].hex(),
            "siblings": [s.hex() for s in siblings],
        },
    }


def test_vectors_are_reproduced() -> None:
    built = build_vectors()
    if os.environ.get("PERPETUA_REGEN_VECTORS") == "1":
        VECTORS.parent.mkdir(parents=True, exist_ok=True)
        VECTORS.write_text(json.dumps(built, indent=1) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == json.loads(json.dumps(built))


def test_vectors_hold_together() -> None:
    """Internal consistency, independent of how they were produced: the leaf via the Python-int
    reference permutation, the empty subtrees as a fold, the proof against the last root, the
    batches chained and rebuilt from their payloads alone."""
    v = json.loads(VECTORS.read_text())
    leaf = v["position_leaf"]
    assert hash_limbs_ref(leaf["limbs"]).hex() == leaf["digest"]["hex"]
    assert hash_limbs_ref(v["order_leaf"]["limbs"]).hex() == v["order_leaf"]["digest"]["hex"]
    assert hash_limbs_ref(v["empty_position_leaf"]["limbs"]).hex() == v["empty_position_subtrees"][0]
    for subtrees in (v["empty_position_subtrees"], v["empty_order_subtrees"]):
        assert len(subtrees) == 65
        for h in range(64):
            below = bytes.fromhex(subtrees[h])
            assert hash_node(below, below).hex() == subtrees[h + 1]
    proof = v["proof"]
    assert verify_proof(bytes.fromhex(proof["root"]), proof["position_id"], bytes.fromhex(proof["leaf"]),
                        [bytes.fromhex(s) for s in proof["siblings"]])
    batches = v["batches"]
    assert batches[0]["old_roots"]["positions"] == v["empty_position_subtrees"][64]
    assert batches[0]["new_roots"] == batches[1]["old_roots"]
    _, tree = rebuild(b["payload"].encode() for b in batches)
    assert tree.positions.root.hex() == batches[-1]["new_roots"]["positions"] == proof["root"]
    assert tree.orders.root.hex() == batches[-1]["new_roots"]["orders"]
