"""perpetua.rollup (see docs/architecture.md)."""
