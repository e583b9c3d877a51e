"""Every failure as JSON `{"error": {"code", "message"}}`, and never a traceback.

Routes raise `ApiError` with a sentence a client developer can act on; a use case's
`Refusal` (`services.caller`) is answered with its own status and code. Framework errors
(unknown path, wrong method, invalid input) are reshaped into the same body, and outages of
the database, Temporal or Luma become 503 naming what is down (`what_is_down`, whose sentence
the portal shows as a page), so a caller can tell "my request was wrong" from "try again
later".
"""

from __future__ import annotations

import html
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from luma.errors import LumaUnavailableError
from services.automations.client import is_outage
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
DATABASE_DOWN = "The database is unreachable; try again shortly."
TEMPORAL_DOWN = "Temporal is unreachable; try again shortly."
# What an outage can raise: the handlers of these ask `what_is_down`, and answer any other
# error of the kind (a Temporal refusal, a bug's RuntimeError) as unexpected.
OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RPCError,
    RuntimeError,  # a lazily connected Temporal client that cannot connect
    LumaUnavailableError,
)


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


def what_is_down(exc: BaseException) -> str | None:
    """The sentence naming what is down when `exc` is an outage (the database, Temporal or
    Luma unreachable), None for any other fault. The API sends it in a 503's JSON body and the
    portal on its "Not available right now" page."""
    if isinstance(exc, OperationalError | InterfaceError):
        return DATABASE_DOWN
    if is_outage(exc):  # unreachable, not a refusal from a Temporal that answers
        return TEMPORAL_DOWN
    if isinstance(exc, LumaUnavailableError):  # after the client's own retries
        return exc.user_message
    return None


async def api_outage(request: Request, exc: Exception) -> JSONResponse:
    """503 naming what is down; any other error of an outage's kind is unexpected."""
    said = what_is_down(exc)
    if said is None:
        return await _unexpected(request, exc)
    log.warning("Unavailable (%s): %s", type(exc).__name__, said)
    return error_response(ApiError(503, said))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, "Unexpected server error; it has been logged."))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Refusal, api_refusal)
    app.add_exception_handler(RequestValidationError, _invalid_input)
    app.add_exception_handler(DataError, _unstorable_value)
    for kind in OUTAGES:
        app.add_exception_handler(kind, api_outage)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the errors a group of routes can answer, in the one error shape."""
    return {
        status: {"model": ErrorPublic, "description": CODES[status].replace("_", " ")}
        for status in statuses
    }
