"""Proof parameters and the security level they buy.

``ProofOptions`` holds every knob in one validated object:

- ``blowup``: LDE expansion (rate 1/blowup). Larger = fewer queries for the same security but a
  bigger, slower LDE; must be >= max constraint degree - 1.
- ``num_queries``: FRI query repetitions; each buys log2(blowup) conjectured bits.
- ``folding_factor``: FRI arity (2, 4, 8 or 16); higher = fewer layers and commitments, larger
  openings per layer.
- ``grinding_bits``: proof-of-work before queries; costs the prover 2^bits hashes and adds bits.
- ``max_remainder_degree``: FRI stops folding once the degree bound is at most this; the
  remainder polynomial is sent in clear.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from perpetua.stark.field import P

EXT_DEGREE = 4
LOG2_FIELD_EXT = EXT_DEGREE * math.log2(P)
"""log2 |F_p^4| ~ 123.6."""
HASH_COLLISION_BITS = 128
"""Blake2s-256 collision resistance."""


@dataclass(frozen=True, slots=True)
class ProofOptions:
    blowup: int = 8
    num_queries: int = 30
    folding_factor: int = 8
    grinding_bits: int = 16
    max_remainder_degree: int = 32

    def __post_init__(self) -> None:
        if self.blowup not in (2, 4, 8, 16, 32, 64):
            raise ValueError("blowup must be a power of two in [2, 64]")
        if not 1 <= self.num_queries <= 255:
            raise ValueError("num_queries must be in [1, 255]")
        if self.folding_factor not in (2, 4, 8, 16):
            raise ValueError("folding_factor must be 2, 4, 8 or 16")
        if not 0 <= self.grinding_bits <= 32:
            raise ValueError("grinding_bits must be in [0, 32]")
        m = self.max_remainder_degree
        if m < 1 or m & (m - 1) or m > 1024:
            raise ValueError("max_remainder_degree must be a power of two in [1, 1024]")

    def to_bytes(self) -> bytes:
        return struct.pack("<5I", self.blowup, self.num_queries, self.folding_factor,
                           self.grinding_bits, self.max_remainder_degree)

    @staticmethod
    def from_bytes(data: bytes) -> ProofOptions:
        b, q, f, g, m = struct.unpack("<5I", data)
        return ProofOptions(b, q, f, g, m)


@dataclass(frozen=True, slots=True)
class SecurityLevel:
    conjectured_bits: float
    proven_bits: float


def security_bits(params: ProofOptions, trace_length: int, max_constraint_degree: int = 2
                  ) -> SecurityLevel:
    """Conjectured and proven security of a proof with these parameters.

    Conjectured (ethSTARK, starkware-libs/ethSTARK README section 7):
        min(queries * log2(blowup) + grinding, hash collision bits,
            log2|F_ext| - log2(trace_length)).
    Proven (list decoding up to the Johnson bound, BCIKS20 as used by Winterfell's
    ``proven_security``): with rho = 1/blowup and a multiplicity parameter m >= 3,
        queries:  -queries * log2((1 + 1/(2m)) * sqrt(rho)) + grinding
        FRI commit phase: log2|F| - log2((m + 1/2)^7 / (3 rho^1.5) * N^2)   (N = LDE size)
        DEEP-ALI: log2|F| - log2(L^2 * (D * (n + N))), with L = (m + 1/2) / sqrt(rho) and
                  D = max constraint degree, n = trace length,
    maximised over m. This is roughly half the conjectured level.
    """
    log_b = math.log2(params.blowup)
    conj = min(params.num_queries * log_b + params.grinding_bits, HASH_COLLISION_BITS,
               LOG2_FIELD_EXT - math.log2(trace_length))
    rho = 1.0 / params.blowup
    lde = trace_length * params.blowup
    best = 0.0
    for m in range(3, 64):
        query = -params.num_queries * math.log2((1 + 1 / (2 * m)) * math.sqrt(rho)) + params.grinding_bits
        fri = LOG2_FIELD_EXT - math.log2((m + 0.5) ** 7 / (3 * rho ** 1.5) * lde ** 2)
        list_size = (m + 0.5) / math.sqrt(rho)
        ali = LOG2_FIELD_EXT - math.log2(list_size ** 2 * max_constraint_degree * (trace_length + lde))
        best = max(best, min(query, fri, ali, HASH_COLLISION_BITS))
    return SecurityLevel(round(conj, 2), round(best, 2))
