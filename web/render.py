"""Rendering pages: the Jinja2 environment, the page frame's data, and security headers."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.status_words import status_display
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


@pass_context
def when(context: Context, moment: datetime | None) -> str:
    """A moment in the page's zone (the org's, see `org_zone`), UTC on pages without one."""
    if moment is None:
        return "—"
    zone = context.get("zone") or "UTC"
    return moment.astimezone(_zone_info(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _zone_info(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ValueError, KeyError):  # a zone this machine lacks: UTC rather than an error page
        return ZoneInfo("UTC")


async def org_zone(session: AsyncSession, org_id: int) -> str:
    """The zone the portal shows an org's times in, as the bot does in its chats (`Ctx.timezone`
    is the chat's zone): the zone its linked chats chose (the most common one when they differ),
    else UTC."""
    chosen = Counter(
        chat.timezone
        for chat in await orgs.org_chats(session, org_id=org_id)
        if chat.timezone and chat.timezone != "UTC"
    )
    if not chosen:
        return "UTC"
    # The most common, ties broken by name so the page does not flicker between zones.
    zone = min(chosen, key=lambda name: (-chosen[name], name))
    return zone if _zone_info(zone).key == zone else "UTC"


def percent(rate: float | None) -> str:
    return f"{rate:.0%}" if rate is not None else "—"


templates.env.filters["when"] = when
templates.env.filters["percent"] = percent
templates.env.filters["status_word"] = status_display


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
        {
            "viewer": viewer,
            "org": org,
            "orgs": memberships,
            "csrf": viewer.csrf_token,
            "zone": await org_zone(session, org.id),
            **context,
        },
        status_code=status,
    )
    response.headers.update(HEADERS)
    return response


def error_page(request: Request, error: WebError) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, "error.html", {"error": error}, status_code=error.status
    )
    response.headers.update(HEADERS)
    response.headers.update(error.headers)
    return response


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: the browser GETs the result page (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)
