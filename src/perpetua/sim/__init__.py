"""perpetua.sim (see docs/architecture.md)."""
