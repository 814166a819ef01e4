"""perpetua.api (see docs/architecture.md)."""
