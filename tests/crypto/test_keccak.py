"""keccak256 is Ethereum's (not FIPS SHA3-256), and a missing dependency is a clear, typed error."""

from __future__ import annotations

import hashlib
import sys

import pytest

from perpetua.crypto.errors import DependencyError
from perpetua.crypto.keccak import keccak256
from tests.crypto.conftest import needs_keccak

# keccak256("") as every Ethereum library knows it (e.g. the empty-code hash of an account).
EMPTY_KECCAK = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


@needs_keccak
def test_keccak_is_ethereums_not_sha3() -> None:
    assert keccak256(b"").hex() == EMPTY_KECCAK
    assert hashlib.sha3_256(b"").hexdigest() != EMPTY_KECCAK


def test_missing_dependency_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "Crypto", None)
    monkeypatch.setitem(sys.modules, "Crypto.Hash", None)
    with pytest.raises(DependencyError) as raised:
        keccak256(b"")
    assert raised.value.code == "keccak.unavailable"
    assert "pycryptodome" in str(raised.value)
