"""The Luma key (fingerprint, last verified, replace after get-self, unlink) and API tokens."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Form, Request

from core.logs import secrets as log_secrets
from luma import InvalidKeyError, LumaError
from store import orgs, tokens
from store.crypto import fingerprint
from web.deps import Admin, Api, Reader, WebDep, audit_write
from web.errors import WebError, not_found
from web.render import page, see_other

router = APIRouter(prefix="/key")
KEY_HELP = "Luma → Settings → API"


@router.get("")
async def key_page(request: Request, viewer: Reader, deps: Api) -> object:
    async with deps.sessions() as session:
        active = await tokens.list_tokens(session, org_id=viewer.org_id)
        chats = await orgs.org_chats(session, org_id=viewer.org_id)
        return await page(
            request, session, viewer, "key.html", tokens=active, chats=chats, nav="key"
        )


@router.post("/replace")
async def replace_key(
    viewer: Admin, deps: Api, web: WebDep, key: Annotated[str, Form(max_length=300)] = ""
) -> object:
    """Check the new key with Luma's get-self; it must belong to this same calendar."""
    key = key.strip()
    log_secrets.add(key)
    if len(key) < 8 or len(key) > 256 or any(char.isspace() for char in key):
        raise WebError(
            400,
            "Not a Luma key",
            f"That does not look like a Luma API key; copy it from {KEY_HELP}.",
        )
    async with deps.sessions() as session:
        org = await orgs.get_org(session, org_id=viewer.org_id)
    if org is None:
        raise not_found("calendar")
    budget_key = "key-check:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    try:
        owner = await web.luma.client(key, budget_key=budget_key, interactive=True).get_self()
    except InvalidKeyError:
        raise WebError(
            400, "Key rejected", "Luma rejected this key, so nothing was changed."
        ) from None
    except LumaError as exc:
        raise WebError(
            502, "Luma did not answer", f"{exc.user_message} Nothing was changed."
        ) from None
    if owner.id != org.luma_calendar_id:
        raise WebError(
            400,
            "Another calendar's key",
            "This key belongs to a different Luma calendar; nothing was changed. Link that "
            "calendar from the bot with /link instead.",
        )
    async with deps.sessions.begin() as session:
        await orgs.save_org(
            session,
            calendar_id=owner.id,
            name=owner.name or org.name,
            luma_key=key,
            keybox=web.keybox,
            key_kind=org.key_kind,
        )
        await audit_write(session, viewer, "key_replace", {"key": fingerprint(key)})
    return see_other("/web/key?replaced=1")


@router.post("/unlink")
async def unlink(
    viewer: Admin, deps: Api, confirm: Annotated[str, Form(max_length=4)] = ""
) -> object:
    """Detach every chat from the calendar and stop its schedules (the key stays encrypted)."""
    if confirm != "on":
        raise WebError(400, "Not unlinked", "Tick the box to confirm, then unlink again.")
    async with deps.sessions.begin() as session:
        chats = await orgs.org_chats(session, org_id=viewer.org_id)
        for chat in chats:
            await orgs.unlink_chat(session, chat_id=chat.id)
        await deps.automations.on_org_unlinked(viewer.org_id, [chat.id for chat in chats])
        await audit_write(session, viewer, "unlink_all", {"chats": len(chats)})
    return see_other("/web/key?unlinked=1")


@router.post("/tokens")
async def new_token(
    request: Request,
    viewer: Admin,
    deps: Api,
    name: Annotated[str, Form(max_length=100)] = "",
) -> object:
    async with deps.sessions.begin() as session:
        issued = await tokens.issue_token(
            session, org_id=viewer.org_id, created_by=viewer.user_id, name=name.strip()
        )
        log_secrets.add(issued.token)
        await audit_write(session, viewer, "token_issue", {"prefix": issued.prefix})
    async with deps.sessions() as session:
        active = await tokens.list_tokens(session, org_id=viewer.org_id)
        chats = await orgs.org_chats(session, org_id=viewer.org_id)
        # Rendered straight from the POST: the plaintext never sits in a URL or a redirect.
        return await page(
            request,
            session,
            viewer,
            "key.html",
            tokens=active,
            chats=chats,
            new_token=issued.token,
            nav="key",
        )


@router.post("/tokens/revoke")
async def revoke_token(
    viewer: Admin, deps: Api, token_id: Annotated[str, Form(max_length=12)] = ""
) -> object:
    if not token_id.isdigit():
        raise not_found("token")
    async with deps.sessions.begin() as session:
        count = await tokens.revoke_token(session, org_id=viewer.org_id, prefix_or_id=token_id)
        if not count:
            raise not_found("token")
        await audit_write(session, viewer, "token_revoke", {"id": int(token_id)})
    return see_other("/web/key?revoked=1")
