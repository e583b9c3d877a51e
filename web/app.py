"""Mounting the portal on the control API app (kept out of `web/__init__` so the bot can
import `web.auth` without loading the pages)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import OUTAGE_HANDLERS, Handler, api_refusal
from services.caller import Refusal
from web.errors import WebError, refusal_page
from web.render import error_page
from web.routes import router


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


def _as_page_in_the_portal(api_handler: Handler) -> Handler:
    """The API's answer to an outage (503 naming what is down), as a page under /web/."""

    async def handle(request: Request, exc: Exception) -> Response:
        response = await api_handler(request, exc)
        if request.url.path.startswith("/web/") and response.status_code == 503:
            said = json.loads(bytes(response.body))["error"]["message"]
            return error_page(request, WebError(503, "Not available right now", said))
        return response

    return handle


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
    for kind, handler in OUTAGE_HANDLERS.items():
        app.add_exception_handler(kind, _as_page_in_the_portal(handler))
