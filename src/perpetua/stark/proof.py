"""The proof object and its versioned, deterministic byte encoding.

Layout (all integers little-endian):

    magic "PSTARK" | u16 version | options (5 x u32) | u32 trace_length
    main_root (32) | u8 has_aux [aux_root (32)] | comp_root (32)
    ood_main_z, ood_main_gz, ood_aux_z, ood_aux_gz, ood_comp_z      (matrices)
    u32 #fri_roots, fri roots (32 each) | remainder (matrix 4 x d)  | u64 pow_nonce
    main_leaves, main_siblings | aux_leaves, aux_siblings | comp_leaves, comp_siblings
    u32 #layers, then per FRI layer: leaves, siblings

A matrix is u32 rows, u32 cols, rows*cols u32 field elements (each < p); a digest list is u32
count then 32-byte digests. Decoding is strict: non-canonical elements, truncation and trailing
bytes are rejected, so every proof has exactly one encoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from perpetua.stark.errors import DeserializationError
from perpetua.stark.field import Arr, P
from perpetua.stark.merkle import DIGEST_SIZE
from perpetua.stark.params import ProofOptions

MAGIC = b"PSTARK"
VERSION = 1


@dataclass(slots=True)
class Opening:
    """Leaves (rows, sorted by leaf index) of one committed tree and their batch auth path."""

    leaves: Arr
    siblings: list[bytes]


@dataclass(slots=True)
class Proof:
    options: ProofOptions
    trace_length: int
    main_root: bytes
    aux_root: bytes | None
    comp_root: bytes
    ood_main_z: Arr
    ood_main_gz: Arr
    ood_aux_z: Arr
    ood_aux_gz: Arr
    ood_comp_z: Arr
    fri_roots: list[bytes]
    remainder: Arr
    pow_nonce: int
    main: Opening
    aux: Opening | None
    comp: Opening
    fri_layers: list[Opening] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        w = _Writer()
        w.raw(MAGIC)
        w.raw(struct.pack("<H", VERSION))
        w.raw(self.options.to_bytes())
        w.u32(self.trace_length)
        w.digest(self.main_root)
        w.raw(b"\x01" if self.aux_root is not None else b"\x00")
        if self.aux_root is not None:
            w.digest(self.aux_root)
        w.digest(self.comp_root)
        for m in (self.ood_main_z, self.ood_main_gz, self.ood_aux_z, self.ood_aux_gz, self.ood_comp_z):
            w.matrix(m)
        w.digests(self.fri_roots)
        w.matrix(self.remainder)
        w.raw(struct.pack("<Q", self.pow_nonce))
        w.opening(self.main)
        if self.aux is not None:
            w.opening(self.aux)
        w.opening(self.comp)
        w.u32(len(self.fri_layers))
        for layer in self.fri_layers:
            w.opening(layer)
        return b"".join(w.parts)

    @staticmethod
    def from_bytes(data: bytes) -> Proof:
        r = _Reader(data)
        if r.raw(len(MAGIC)) != MAGIC:
            raise DeserializationError("bad magic")
        (version,) = struct.unpack("<H", r.raw(2))
        if version != VERSION:
            raise DeserializationError(f"unsupported proof version {version}")
        try:
            options = ProofOptions.from_bytes(r.raw(20))
        except ValueError as e:
            raise DeserializationError(f"bad options: {e}") from e
        trace_length = r.u32()
        main_root = r.raw(DIGEST_SIZE)
        flag = r.raw(1)
        if flag not in (b"\x00", b"\x01"):
            raise DeserializationError("bad aux flag")
        aux_root = r.raw(DIGEST_SIZE) if flag == b"\x01" else None
        comp_root = r.raw(DIGEST_SIZE)
        ood = [r.matrix() for _ in range(5)]
        fri_roots = r.digests()
        remainder = r.matrix()
        (nonce,) = struct.unpack("<Q", r.raw(8))
        main = r.opening()
        aux = r.opening() if aux_root is not None else None
        comp = r.opening()
        layers = [r.opening() for _ in range(r.u32())]
        if r.pos != len(data):
            raise DeserializationError("trailing bytes")
        return Proof(options, trace_length, main_root, aux_root, comp_root, ood[0], ood[1], ood[2],
                     ood[3], ood[4], fri_roots, remainder, nonce, main, aux, comp, layers)


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def raw(self, b: bytes) -> None:
        self.parts.append(b)

    def u32(self, v: int) -> None:
        self.parts.append(struct.pack("<I", v))

    def digest(self, d: bytes) -> None:
        assert len(d) == DIGEST_SIZE
        self.parts.append(d)

    def digests(self, ds: list[bytes]) -> None:
        self.u32(len(ds))
        for d in ds:
            self.digest(d)

    def matrix(self, m: Arr) -> None:
        if m.ndim != 2:
            raise ValueError("proof matrices are 2-D")
        m2 = m
        self.u32(m2.shape[0])
        self.u32(m2.shape[1])
        self.parts.append(np.ascontiguousarray(m2, dtype="<u4").tobytes())

    def opening(self, o: Opening) -> None:
        self.matrix(o.leaves)
        self.digests(o.siblings)


_MAX_ITEMS = 1 << 28


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DeserializationError("truncated proof")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        (v,) = struct.unpack("<I", self.raw(4))
        return int(v)

    def digests(self) -> list[bytes]:
        n = self.u32()
        if n * DIGEST_SIZE > len(self.data) - self.pos:
            raise DeserializationError("truncated proof")
        return [self.raw(DIGEST_SIZE) for _ in range(n)]

    def matrix(self) -> Arr:
        rows, cols = self.u32(), self.u32()
        if rows * cols > _MAX_ITEMS:
            raise DeserializationError("matrix too large")
        buf = self.raw(4 * rows * cols)
        m = np.frombuffer(buf, dtype="<u4").astype(np.uint64).reshape(rows, cols)
        if m.size and int(m.max()) >= P:
            raise DeserializationError("non-canonical field element")
        return m

    def opening(self) -> Opening:
        leaves = self.matrix()
        return Opening(leaves, self.digests())
