"""perpetua.circuits (see docs/architecture.md)."""
