"""The one error map: every error the API returns is ``{"errors": [{"msg", "code", "field"}]}``.

Core rejections (``RejectCode``) and crypto errors (``<field>.<rule>`` codes) map to HTTP statuses
here and nowhere else. Nothing a user sends may produce a 5xx: unexpected exceptions are logged and
answered 500 (a bug to fix, covered by the fuzz tests).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from perpetua.core.errors import RejectCode
from perpetua.crypto.errors import AuthenticationError, CryptoError

log = logging.getLogger("perpetua.api")

REJECT_STATUS: dict[RejectCode, int] = {
    RejectCode.UNKNOWN_ORDER: 404,
    RejectCode.NOT_ORDER_OWNER: 404,
    RejectCode.UNKNOWN_ACCOUNT: 404,
    RejectCode.ACCOUNT_EXISTS: 409,
    RejectCode.DUPLICATE_CLIENT_ID: 409,
    RejectCode.ORDER_NOT_OPEN: 400,
}
"""Statuses of core rejections other than 400."""


class ErrorItem(BaseModel):
    msg: str
    code: str
    field: str | None = None


class ErrorResponse(BaseModel):
    errors: list[ErrorItem]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed input or a rejected command"},
    401: {"model": ErrorResponse, "description": "Missing or invalid authentication"},
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "Conflicts with existing state"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded"},
}
"""Documented on every route (OpenAPI)."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, msg: str, field: str | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.field = field


def error_body(code: str, msg: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"msg": msg, "code": code, "field": field}]}


def rejected(code: RejectCode, field: str, message: str) -> ApiError:
    return ApiError(REJECT_STATUS.get(code, 400), code.value, f"{field}: {message}", field)


def from_crypto(err: CryptoError) -> ApiError:
    status = 401 if isinstance(err, AuthenticationError) else 400
    return ApiError(status, err.code, str(err), err.field)


def bad_field(field: str, msg: str, code: str = "INVALID_FIELD") -> ApiError:
    return ApiError(400, code, f"{field}: {msg}", field)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"Retry-After": "1"} if exc.status == 429 else None
        return JSONResponse(error_body(exc.code, exc.msg, exc.field), status_code=exc.status, headers=headers)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        items = []
        for e in exc.errors()[:10]:
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
            name = ".".join(loc) or "body"
            items.append({"msg": f"{name}: {e.get('msg', 'invalid')}", "code": "INVALID_FIELD", "field": name})
        return JSONResponse({"errors": items or [{"msg": "invalid request", "code": "INVALID_FIELD"}]}, 400)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    async def crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("INTERNAL", "internal error"), 500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)
