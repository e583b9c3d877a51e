"""Signing in with the bot's link, switching org, signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request

from store import audit
from web.auth import (
    COOKIE,
    SignInRefused,
    inspect_signin_link,
    redeem_signin_link,
    sign_out,
    switch_org,
)
from web.deps import Api, FormViewer, WebDep, signin_limit
from web.errors import WebError
from web.render import HEADERS, see_other, templates

router = APIRouter()


@router.get("/signin", dependencies=[Depends(signin_limit)])
async def signin_page(
    request: Request, deps: Api, web: WebDep, t: Annotated[str, Query(max_length=300)] = ""
) -> object:
    """Name the calendar and the person the link signs in; nothing is signed in yet."""
    try:
        async with deps.sessions() as session:
            offer = await inspect_signin_link(session, settings=web.settings, token=t)
    except SignInRefused as exc:
        raise WebError(403, "Sign-in link refused", str(exc)) from None
    response = templates.TemplateResponse(request, "signin.html", {"offer": offer, "token": t})
    response.headers.update(HEADERS)
    return response


@router.post("/signin", dependencies=[Depends(signin_limit)])
async def signin(
    request: Request, deps: Api, web: WebDep, t: Annotated[str, Form(max_length=300)] = ""
) -> object:
    """Spend the link for a session. A post from another site is refused: a page elsewhere
    must not be able to sign a visitor into someone else's account (login CSRF)."""
    if not same_site_post(request):
        raise WebError(403, "Sign-in refused", "Open the link from the bot and press Sign in.")
    try:
        async with deps.sessions.begin() as session:
            new = await redeem_signin_link(session, settings=web.settings, token=t)
            await audit.record(
                session,
                org_id=new.org_id,
                source="web",
                action="web_signin",
                result="ok",
                actor_user_id=new.user_id,
            )
    except SignInRefused as exc:
        raise WebError(403, "Sign-in link refused", str(exc)) from None
    response = see_other("/web/events")
    response.set_cookie(
        COOKIE,
        new.cookie,
        max_age=web.settings.web_session_hours * 3600,
        path="/web",
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
    )
    return response


def same_site_post(request: Request) -> bool:
    """The browser says where a form came from (`Sec-Fetch-Site`, else `Origin`); a post
    with neither (an old browser, a script) is let through, as the link itself is the key."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


@router.post("/org")
async def choose_org(
    viewer: FormViewer, deps: Api, org_id: Annotated[str, Form(max_length=12)] = ""
) -> object:
    async with deps.sessions.begin() as session:
        if not org_id.isdigit() or not await switch_org(session, viewer=viewer, org_id=int(org_id)):
            raise WebError(404, "Not found", "You are not a member of that calendar.")
    return see_other("/web/events")


@router.post("/signout")
async def signout(viewer: FormViewer, deps: Api) -> object:
    async with deps.sessions.begin() as session:
        await sign_out(session, viewer=viewer)
    response = see_other("/web/signed-out")
    response.delete_cookie(COOKIE, path="/web")
    return response


@router.get("/signed-out")
async def signed_out() -> object:
    raise WebError(200, "Signed out", "You are signed out. Send /web to the bot to come back.")
