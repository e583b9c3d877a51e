"""The Luma key (fingerprint, last verified, replace after get-self, unlink) and API tokens.

The rules are `services.linking` and `services.tokens`; this page reads the form and shows
the outcome, titling a refused form for what was wrong with it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services import linking, org_deletion, tokens
from services.caller import Conflict, Invalid
from services.linking import KeyRejected, LumaUnavailable
from store import orgs
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Reader, WebDep
from web.errors import WebError, not_found, refusal_page
from web.render import error_page, page, see_other

router = APIRouter(prefix="/key")


async def _key_page(
    request: Request, session: AsyncSession, viewer: Viewer, new_token: str | None = None
) -> object:
    active = await tokens.active(caller_of(viewer), session)
    chats = await orgs.org_chats(session, org_id=viewer.org_id)
    return await page(
        request,
        session,
        viewer,
        "key.html",
        tokens=active,
        chats=chats,
        new_token=new_token,
        nav="key",
    )


@router.get("")
async def key_page(request: Request, viewer: Reader, deps: Api) -> object:
    async with deps.sessions() as session:
        return await _key_page(request, session, viewer)


@router.post("/replace")
async def replace_key(
    viewer: Admin, deps: Api, web: WebDep, key: Annotated[str, Form(max_length=300)] = ""
) -> object:
    """A rotated key of this same calendar, or a key of its Luma organization that opens
    it, checked with Luma first; a key that does not open this calendar is refused."""
    try:
        async with deps.sessions.begin() as session:
            await linking.replace_key(
                caller_of(viewer),
                session,
                luma=web.luma,
                keybox=web.keybox,
                key=key,
                public_url=web.settings.public_url,
            )
    except KeyRejected as exc:
        raise WebError(400, "Key rejected", refusal_page(exc).message) from None
    except Invalid as exc:
        raise WebError(400, "Not a Luma key", refusal_page(exc).message) from None
    except Conflict as exc:
        raise WebError(400, "Not this calendar's key", refusal_page(exc).message) from None
    except LumaUnavailable as exc:
        raise WebError(502, "Luma did not answer", refusal_page(exc).message) from None
    return see_other("/web/key?replaced=1")


@router.post("/unlink")
async def unlink(
    viewer: Admin, deps: Api, web: WebDep, confirm: Annotated[str, Form(max_length=4)] = ""
) -> object:
    """Detach every chat from the calendar and stop its schedules (the key stays encrypted)."""
    if confirm != "on":
        raise WebError(400, "Not unlinked", "Tick the box to confirm, then unlink again.")
    async with deps.sessions.begin() as session:
        await linking.unlink_everywhere(
            caller_of(viewer), session, deps.automations, luma=web.luma, keybox=web.keybox
        )
    return see_other("/web/key?unlinked=1")


@router.post("/delete")
async def delete_calendar(
    request: Request,
    viewer: Admin,
    deps: Api,
    web: WebDep,
    name: Annotated[str, Form(max_length=300)] = "",
) -> object:
    """Delete the organization and all its data once its name is typed; the session goes
    with it, so the answer is a page of its own."""
    async with deps.sessions.begin() as session:
        deleted = await org_deletion.delete_org(
            caller_of(viewer),
            session,
            deps.automations,
            confirm_name=name,
            luma=web.luma,
            keybox=web.keybox,
        )
    done = WebError(
        200,
        "Calendar deleted",
        f"{deleted.name}: its Luma key and {deleted.rows} stored record(s) are gone, and its "
        "automations are stopped. Link it again any time from the bot.",
    )
    return error_page(request, done)  # the plain frame: the session went with the org


@router.post("/tokens")
async def new_token(
    request: Request,
    viewer: Admin,
    deps: Api,
    name: Annotated[str, Form(max_length=100)] = "",
) -> object:
    async with deps.sessions.begin() as session:
        issued = await tokens.issue(caller_of(viewer), session, name=name)
    async with deps.sessions() as session:
        # Rendered straight from the POST: the plaintext never sits in a URL or a redirect.
        return await _key_page(request, session, viewer, new_token=issued.token)


@router.post("/tokens/revoke")
async def revoke_token(
    viewer: Admin, deps: Api, token_id: Annotated[str, Form(max_length=12)] = ""
) -> object:
    if not token_id.isdigit():  # the page names tokens by id, never by prefix
        raise not_found("token")
    async with deps.sessions.begin() as session:
        await tokens.revoke(caller_of(viewer), session, ref=token_id)
    return see_other("/web/key?revoked=1")
