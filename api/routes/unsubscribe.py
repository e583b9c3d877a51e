"""The unsubscribe link in every follow-up email: no API token, the link's signature is the
proof. GET, the link a person clicks, only asks for confirmation: mail scanners and link
previews open every link, and must not unsubscribe anyone. POST unsubscribes: the page's
button, or the one-click unsubscribe mail clients send (RFC 8058, from the
`List-Unsubscribe-Post` header). Both answer a small HTML page.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.deps import DepsDep
from mailer import lists
from mailer.unsubscribe import UnsubscribeSigner
from store.models import Organization

router = APIRouter(tags=["unsubscribe"])

# No length limit in the schema: every bad token, long or short, gets the same HTML page.
Token = Annotated[str, Path(description="The signed token from the email")]
PAGES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Unsubscribed", "content": {"text/html": {}}},
    400: {"description": "The link is not valid", "content": {"text/html": {}}},
    404: {"description": "The organizer is gone", "content": {"text/html": {}}},
}
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width"><title>{title}</title></head>'
    "<body><h1>{title}</h1><p>{text}</p>{form}</body></html>"
)
CONFIRM = '<form method="post"><button type="submit">Unsubscribe</button></form>'
INVALID = "This unsubscribe link is not valid. Please use the link from the email as it is."


def _page(title: str, text: str, status: int = 200, form: str = "") -> HTMLResponse:
    page = PAGE.format(title=escape(title), text=escape(text), form=form)
    return HTMLResponse(page, status_code=status)


async def _unsubscribe(
    token: str, request: Request, deps: DepsDep, *, confirmed: bool
) -> HTMLResponse:
    signer: UnsubscribeSigner = request.app.state.unsubscribe
    who = signer.verify(token)
    if who is None:
        return _page("Link not valid", INVALID, 400)
    async with deps.sessions.begin() as session:
        org = await session.get(Organization, who.org_id)
        if org is None:
            return _page("Link not valid", "This organizer no longer uses our service.", 404)
        if not confirmed:
            return _page(
                "Unsubscribe?",
                f"{who.normalized_email} will get no more follow-up emails from {org.name}.",
                form=CONFIRM,
            )
        await lists.unsubscribe(
            session, org_id=who.org_id, email=who.normalized_email, source="link"
        )
    return _page(
        "Unsubscribed",
        f"{who.normalized_email} will get no more follow-up emails from {org.name}.",
    )


@router.get(
    "/unsubscribe/{token}", response_class=HTMLResponse, responses=PAGES, summary="Unsubscribe"
)
async def unsubscribe_link(token: Token, request: Request, deps: DepsDep) -> HTMLResponse:
    return await _unsubscribe(token, request, deps, confirmed=False)


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=PAGES,
    summary="One-click unsubscribe (RFC 8058)",
)
async def unsubscribe_one_click(token: Token, request: Request, deps: DepsDep) -> HTMLResponse:
    return await _unsubscribe(token, request, deps, confirmed=True)
