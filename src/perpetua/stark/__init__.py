"""A generic STARK proof system (field, NTT, Merkle, Poseidon2, FRI, AIR, prover, verifier).

It imports nothing of the exchange."""
