"""Every failure as JSON `{"error": {"code", "message"}}`, and never a traceback.

Routes raise `ApiError` with a sentence a client developer can act on; a use case's
`Refusal` (`services.caller`) is answered with its own status and code. Framework errors
(unknown path, wrong method, invalid input) are reshaped into the same body, and outages of
the database or Temporal become 503 naming what is down, so a caller can tell "my request
was wrong" from "try again later".
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from temporalio.service import RPCError, RPCStatusCode

from services.caller import Refusal

log = logging.getLogger("lumabot.api")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}
_TEMPORAL_OUTAGES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorPublic(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(HTTPException):
    """A failure with its status, a stable machine code and a sentence for people."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code or CODES.get(status, "error")
        self.message = message


class PayloadTooLarge(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes // 1024} KiB.")


def not_found(what: str) -> ApiError:
    """Unknown and other tenants' ids get the same answer, so ids reveal nothing."""
    return ApiError(404, f"No such {what} in your organization.")


def error_response(error: ApiError) -> JSONResponse:
    body = ErrorPublic(error=ErrorDetail(code=error.code, message=error.message))
    return JSONResponse(body.model_dump(), status_code=error.status_code, headers=error.headers)


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) or "The request is invalid."


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc)
    # Starlette's own errors (404 route, 405 method, ...): keep the status, reshape the body.
    message = exc.detail if isinstance(exc.detail, str) else "The request failed."
    headers = dict(exc.headers) if exc.headers is not None else None
    return error_response(ApiError(exc.status_code, message, headers=headers))


async def api_refusal(_: Request, exc: Exception) -> JSONResponse:
    """A use case's refusal with its own status and code (the portal renders its own); its
    sentence is HTML-safe for the bot, and plain text here."""
    assert isinstance(exc, Refusal)
    return error_response(ApiError(exc.status, html.unescape(exc.message), code=exc.code))


async def _invalid_input(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(ApiError(422, _validation_message(exc)))


async def _unstorable_value(_: Request, exc: Exception) -> JSONResponse:
    # e.g. a NUL character or an out-of-range number that validation let through.
    return error_response(ApiError(400, "A value in the request cannot be stored or searched."))


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    log.warning("Database unavailable: %s", type(exc).__name__)
    return error_response(ApiError(503, "The database is unreachable; try again shortly."))


def _temporal_down() -> JSONResponse:
    return error_response(ApiError(503, "Temporal is unreachable; try again shortly."))


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    if exc.status in _TEMPORAL_OUTAGES:
        log.warning("Temporal unavailable: %s", exc.status.name)
        return _temporal_down()
    return await _unexpected(request, exc)


async def _runtime_error(request: Request, exc: Exception) -> JSONResponse:
    # A lazily connected Temporal client reports a refused connection this way.
    if str(exc).startswith("Failed client connect"):
        log.warning("Temporal unavailable: cannot connect")
        return _temporal_down()
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, "Unexpected server error; it has been logged."))


Handler = Callable[[Request, Exception], Awaitable[Response]]
# What answers "the database or Temporal is down" (503 naming it); the portal wraps these to
# show the same sentence as a page.
OUTAGE_HANDLERS: dict[type[Exception], Handler] = {
    OperationalError: _database_down,
    InterfaceError: _database_down,
    RPCError: _temporal_error,
    RuntimeError: _runtime_error,
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Refusal, api_refusal)
    app.add_exception_handler(RequestValidationError, _invalid_input)
    app.add_exception_handler(DataError, _unstorable_value)
    for kind, handler in OUTAGE_HANDLERS.items():
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the errors a group of routes can answer, in the one error shape."""
    return {
        status: {"model": ErrorPublic, "description": CODES[status].replace("_", " ")}
        for status in statuses
    }
