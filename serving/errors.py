"""One error shape for every client mistake and server failure.

Every error body is ``{"error": {"code": ..., "message": ..., "details": ...}}``: ``code`` is
stable and machine-readable, ``message`` is for humans, ``details`` is optional structured context.
No stack trace or SQL ever reaches the client.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from psycopg_pool import PoolTimeout, TooManyRequests
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.db import database_failing, mark_database_failure
from serving.responses import OrjsonResponse

log = logging.getLogger("serving.errors")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorBody


class ApiError(Exception):
    """An error the handlers raise on purpose; rendered with its status and code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str = "not allowed") -> ApiError:
    return ApiError(403, "forbidden", message)


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> OrjsonResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return OrjsonResponse(body, status_code=status_code, headers=headers)


# Status codes Starlette raises itself (unknown path, wrong method, ...) and their codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


async def _api_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


def allowed_methods(request: Request) -> str:
    """The methods some route of the app answers on ``request``'s path, for ``Allow``."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and route.methods and regex.match(request.url.path):
            methods.update(route.methods)
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Several routes may share a path (GET and POST): Allow names all of them (RFC 9110).
        headers["Allow"] = allowed_methods(request)
    return error_response(exc.status_code, code, message, headers=headers or None)


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    # Echo where and why, not the offending input: it may be huge or hold a password.
    cleaned = []
    for err in errors:
        cleaned.append(
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "type": err.get("type"),
                "msg": err.get("msg"),
            }
        )
    return jsonable_encoder(cleaned)


async def _validation_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        422, "validation_error", "request is invalid", _clean_validation_errors(exc.errors())
    )


async def _data_error(_: Request, exc: Exception) -> OrjsonResponse:
    # Values the database refuses (NUL bytes, out-of-range numbers) are the client's mistake.
    log.info("database rejected input: %s", type(exc).__name__)
    return error_response(422, "invalid_input", "a value is not acceptable")


async def _database_unavailable(request: Request, exc: Exception) -> OrjsonResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    mark_database_failure(request.app)
    return error_response(
        503, "database_unavailable", "the database is unavailable", headers={"Retry-After": "1"}
    )


async def _pool_exhausted(request: Request, exc: Exception) -> OrjsonResponse:
    # A request that waited its turn in vain: the database is down, or the API is saturated.
    if database_failing(request.app):
        return await _database_unavailable(request, exc)
    log.warning("no database connection within the wait: %s", type(exc).__name__)
    return error_response(
        503,
        "overloaded",
        "the service is busy; try again shortly",
        headers={"Retry-After": "2"},
    )


async def _unexpected(_: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception type to the common error shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.DataError, _data_error)
    # Text without a UTF-8 form that slipped past the request models is refused the same way.
    app.add_exception_handler(UnicodeEncodeError, _data_error)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(psycopg.InterfaceError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(TooManyRequests, _pool_exhausted)
    app.add_exception_handler(Exception, _unexpected)


# Documented on every route so clients (and schemathesis) know the error body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 409, 412, 422, 429, 503)
}


class BodySizeGuard:
    """Limits request bodies, answering 413 in the common error shape.

    A declared ``Content-Length`` above the limit is refused before the handler runs; a body
    sent without one is counted while it is read.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        return ApiError(
            413, "payload_too_large", f"request bodies are limited to {self.max_bytes} bytes"
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    error = self._too_large()
                    response = error_response(error.status_code, error.code, error.message)
                    await response(scope, receive, send)
                    return
                break
        received = 0

        async def counted_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # The framework passes HTTP exceptions raised while reading a body through.
                    raise HTTPException(413, self._too_large().message)
            return message

        await self.app(scope, counted_receive, send)
