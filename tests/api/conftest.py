"""Fixtures of the API tests. The official client's venv fixture is shared with tests/crypto."""

from __future__ import annotations

from tests.crypto.conftest import dydx_client_python

__all__ = ["dydx_client_python"]
