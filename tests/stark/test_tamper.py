"""Any change to a proof's bytes or to a public input makes verification fail."""

from __future__ import annotations

import random
import struct

import pytest

from perpetua.stark.errors import VerificationError
from perpetua.stark.examples.fibonacci import FibonacciAir, build_trace
from perpetua.stark.examples.merkle_air import MerklePathAir, path_trace
from perpetua.stark.params import ProofOptions
from perpetua.stark.proof import MAGIC, Proof
from perpetua.stark.prover import prove
from perpetua.stark.verifier import is_valid, verify

P = 2013265921
OPTIONS = ProofOptions(num_queries=30, grinding_bits=8, blowup=8, folding_factor=4, max_remainder_degree=4)
MIN_BITS = 0.0


@pytest.fixture(scope="module")
def fib() -> tuple[FibonacciAir, bytes]:
    trace = build_trace(64)
    air = FibonacciAir(64, int(trace[1, -1]))
    return air, prove(air, trace, OPTIONS)


def _flip(proof: bytes, pos: int, mask: int = 1) -> bytes:
    b = bytearray(proof)
    b[pos] ^= mask
    return bytes(b)


def test_honest_proof_accepted(fib: tuple[FibonacciAir, bytes]) -> None:
    air, proof = fib
    verify(air, proof, min_security_bits=MIN_BITS)
    assert Proof.from_bytes(proof).to_bytes() == proof


def test_sample_of_byte_flips_across_all_regions(fib: tuple[FibonacciAir, bytes]) -> None:
    air, proof = fib
    rng = random.Random(0)
    positions = sorted({*range(0, 200), *rng.sample(range(len(proof)), 300), *range(len(proof) - 100, len(proof))})
    for pos in positions:
        assert not is_valid(air, _flip(proof, pos, 1 << rng.randrange(8)), min_security_bits=MIN_BITS), pos


@pytest.mark.slow
def test_every_byte_flip_is_rejected(fib: tuple[FibonacciAir, bytes]) -> None:
    air, proof = fib
    for pos in range(len(proof)):
        assert not is_valid(air, _flip(proof, pos), min_security_bits=MIN_BITS), pos


def test_truncation_and_trailing_bytes_rejected(fib: tuple[FibonacciAir, bytes]) -> None:
    air, proof = fib
    for bad in (proof[:-1], proof + b"\x00", proof[: len(proof) // 2], b"", MAGIC):
        with pytest.raises(VerificationError):
            verify(air, bad, min_security_bits=MIN_BITS)


def test_version_is_checked(fib: tuple[FibonacciAir, bytes]) -> None:
    air, proof = fib
    bumped = proof[:6] + struct.pack("<H", 2) + proof[8:]
    with pytest.raises(VerificationError, match="version"):
        verify(air, bumped, min_security_bits=MIN_BITS)


def test_weak_options_rejected_by_default(fib: tuple[FibonacciAir, bytes]) -> None:
    air, _ = fib
    trace = build_trace(64)
    weak = prove(air, trace, ProofOptions(num_queries=8, grinding_bits=0))
    with pytest.raises(VerificationError, match="bits"):
        verify(air, weak)
    verify(air, weak, min_security_bits=20)


def test_every_public_input_is_bound() -> None:
    rng = random.Random(2)
    siblings = [[rng.randrange(P) for _ in range(8)] for _ in range(4)]
    old, new = [rng.randrange(P) for _ in range(8)], [rng.randrange(P) for _ in range(8)]
    trace, roots = path_trace([old, new], siblings, 5)
    air = MerklePathAir(4, 5, [old, new], roots)
    proof = prove(air, trace, OPTIONS)
    verify(air, proof, min_security_bits=MIN_BITS)
    for lane in range(2):
        for i in range(8):
            leaves = [list(old), list(new)]
            leaves[lane][i] = (leaves[lane][i] + 1) % P
            assert not is_valid(MerklePathAir(4, 5, leaves, roots), proof, min_security_bits=MIN_BITS)
            rs = [list(roots[0]), list(roots[1])]
            rs[lane][i] = (rs[lane][i] + 1) % P
            assert not is_valid(MerklePathAir(4, 5, [old, new], rs), proof, min_security_bits=MIN_BITS)
    for index in (4, 7, 13):
        assert not is_valid(MerklePathAir(4, index, [old, new], roots), proof, min_security_bits=MIN_BITS)
