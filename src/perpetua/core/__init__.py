"""The exchange domain: pure, deterministic, integer-only. No I/O, no wall clock."""
