"""Send from Gmail: connect the org's own Gmail account (Google's consent page and back),
see which address follow-ups go out from, disconnect.

The rules are `services.gmail`; the callback is a GET from Google, so instead of the form's
CSRF token it is the OAuth `state` that proves the press came from this signed-in session.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from mailer.gmail import GoogleClient
from services import gmail
from web.caller import caller_of
from web.deps import Admin, Api, Reader, WebDep
from web.render import HEADERS, page, see_other

router = APIRouter(prefix="/gmail")


@router.get("")
async def gmail_page(request: Request, viewer: Reader, deps: Api, web: WebDep) -> object:
    client = GoogleClient.from_settings(web.settings)
    async with deps.sessions() as session:
        state = await gmail.status(caller_of(viewer), session, available=client is not None)
        response = await page(request, session, viewer, "gmail.html", gmail=state, nav="gmail")
    if client is not None:  # Connect posts here, then the browser is sent on to Google
        response.headers["Content-Security-Policy"] = HEADERS["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {client.consent_origin}"
        )
    return response


@router.post("/connect")
async def connect(viewer: Admin, deps: Api, web: WebDep) -> object:
    async with deps.sessions.begin() as session:
        url = await gmail.begin_connect(
            caller_of(viewer),
            session,
            client=GoogleClient.from_settings(web.settings),
            keybox=web.keybox,
            browser_session=viewer.session_id,
            public_url=web.settings.public_url,
        )
    return see_other(url)


@router.get("/callback")
async def callback(
    viewer: Reader, deps: Api, web: WebDep, state: str = "", code: str = "", error: str = ""
) -> object:
    await gmail.finish_connect(
        caller_of(viewer),
        deps.sessions,
        client=GoogleClient.from_settings(web.settings),
        keybox=web.keybox,
        browser_session=viewer.session_id,
        public_url=web.settings.public_url,
        state=state[:200],
        code=code[:2000],
        error=error[:100],
    )
    return see_other("/web/gmail?connected=1")


@router.post("/disconnect")
async def disconnect(viewer: Admin, deps: Api, web: WebDep) -> object:
    async with deps.sessions.begin() as session:
        await gmail.disconnect(
            caller_of(viewer),
            session,
            client=GoogleClient.from_settings(web.settings),
            keybox=web.keybox,
        )
    return see_other("/web/gmail?disconnected=1")
