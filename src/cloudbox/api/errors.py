"""Renders every error as the one envelope of DESIGN §7.

`{"error": {"code", "message", "details"}}` for our own errors, FastAPI validation
errors, Starlette's 404/405 and anything unexpected (500 without exception text).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloudbox.errors import AppError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "INSUFFICIENT_PERMISSIONS",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_ATTEMPTS",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable SCREAMING_SNAKE error code (see docs/api.md)")
    message: str = Field(description="Safe, human-readable explanation")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """The one error shape of every endpoint (DESIGN §7)."""

    error: ErrorDetail


def _response(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


#: Declared on every route so the OpenAPI document (and the SDKs) know the envelope.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _response("UNAUTHORIZED, INVALID_TOKEN or INVALID_CREDENTIALS"),
    403: _response("INSUFFICIENT_PERMISSIONS (role or API-key scope too low)"),
    404: _response("PROJECT_NOT_FOUND, BACKUP_NOT_FOUND or another *_NOT_FOUND"),
    409: _response("A conflict: *_EXISTS, *_IN_USE, BACKUP_IN_PROGRESS, RESTORE_IN_PROGRESS, ..."),
    413: _response("PAYLOAD_TOO_LARGE or FILE_TOO_LARGE"),
    422: _response("VALIDATION_ERROR or another input error (INVALID_ARCHIVE, ...)"),
    429: _response("TOO_MANY_ATTEMPTS"),
    500: _response("INTERNAL_ERROR or RESTORE_FAILED"),
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request.state.error_code = code
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        fields.append(
            {"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type")}
        )
    return {"fields": fields}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        headers = None
        retry = exc.details.get("retry_after_seconds") if exc.details else None
        if exc.status in (429, 503) and retry:
            headers = {"Retry-After": str(retry)}
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(request, exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            request, 422, "VALIDATION_ERROR", "The request is invalid", _validation_details(exc)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # Starlette's "error parsing the body" (undecodable JSON): same as any other
            # malformed body, so clients handle one code.
            return error_response(
                request, 422, "VALIDATION_ERROR", "The request body could not be parsed"
            )
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404:
            message = "Not found"
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, code, message, None, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "INTERNAL_ERROR", "Internal server error")
