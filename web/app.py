"""Mounting the portal on the control API app (kept out of `web/__init__` so the bot can
import `web.auth` without loading the pages)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import OUTAGES, api_outage, api_refusal, what_is_down
from services.caller import Refusal
from web.errors import WebError, refusal_page
from web.render import error_page
from web.routes import router

log = logging.getLogger("lumabot.web")


async def _web_error(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, WebError)
    return error_page(request, exc)


async def _refusal(request: Request, exc: Exception) -> Response:
    """A use case's refusal: a page in the portal, the JSON error body everywhere else (one
    app serves both, and an exception class has one handler)."""
    assert isinstance(exc, Refusal)
    if request.url.path.startswith("/web/"):
        return error_page(request, refusal_page(exc))
    return await api_refusal(request, exc)


async def _outage(request: Request, exc: Exception) -> Response:
    """An outage: under /web/ a page saying what is down, in the API's words; elsewhere (and
    for an error of an outage's kind that is none) the API's answer."""
    said = what_is_down(exc)
    if said is not None and request.url.path.startswith("/web/"):
        log.warning("Unavailable (%s): %s", type(exc).__name__, said)
        return error_page(request, WebError(503, "Not available right now", said))
    return await api_outage(request, exc)


def install_web(app: FastAPI) -> None:
    """Mount the pages, their static files, and the HTML error pages on the API app."""
    app.include_router(router)
    app.mount(
        "/web/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="web-static",
    )
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(Refusal, _refusal)
    for kind in OUTAGES:
        app.add_exception_handler(kind, _outage)
