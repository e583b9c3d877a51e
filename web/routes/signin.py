"""Signing in with the bot's link, switching org, signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query

from store import audit
from web.auth import COOKIE, SignInRefused, redeem_signin_link, sign_out, switch_org
from web.deps import Api, FormViewer, WebDep
from web.errors import WebError
from web.render import see_other

router = APIRouter()


@router.get("/signin")
async def signin(deps: Api, web: WebDep, t: Annotated[str, Query(max_length=300)] = "") -> object:
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
