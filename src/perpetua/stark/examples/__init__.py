"""Example AIRs: Fibonacci, Poseidon2 hash chain, Merkle path and path update, LogUp range check."""
