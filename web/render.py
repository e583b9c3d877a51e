"""Rendering pages: the Jinja2 environment, the page frame's data, and security headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from store import orgs
from web.auth import Viewer
from web.errors import WebError

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Scripts and styles come from /web/static only: no inline code can run.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def percent(rate: float | None) -> str:
    return f"{rate:.0%}" if rate is not None else "—"


templates.env.filters["when"] = when
templates.env.filters["percent"] = percent


async def page(
    request: Request,
    session: AsyncSession,
    viewer: Viewer,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A full page inside the frame: org switcher, navigation, the viewer's role."""
    org = await orgs.get_org(session, org_id=viewer.org_id)
    if org is None:
        raise WebError(401, "Please sign in", "This calendar no longer exists.")
    memberships = await orgs.user_orgs(session, user_id=viewer.user_id)
    response = templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "org": org, "orgs": memberships, "csrf": viewer.csrf_token, **context},
        status_code=status,
    )
    response.headers.update(HEADERS)
    return response


def error_page(request: Request, error: WebError) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, "error.html", {"error": error}, status_code=error.status
    )
    response.headers.update(HEADERS)
    return response


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: the browser GETs the result page (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)
