"""perpetua.chain (see docs/architecture.md)."""
