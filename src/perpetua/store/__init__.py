"""perpetua.store (see docs/architecture.md)."""
