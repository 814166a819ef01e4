"""Schemathesis fuzzing from the served OpenAPI document: no input produces a 5xx, and responses
conform to the documented statuses."""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from perpetua.api.app import create_app
from perpetua.api.config import load_server_config

_DATA = tempfile.mkdtemp(prefix="perpetua-fuzz-")
APP = create_app(load_server_config(env={}, data_dir=_DATA, rate_limit_per_s=1e6, rate_limit_burst=1_000_000))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
