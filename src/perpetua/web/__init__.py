"""perpetua.web (see docs/architecture.md)."""
