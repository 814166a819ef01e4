"""STARK-curve keys, signatures, Pedersen hash and StarkEx / dYdX v3 message hashes."""
