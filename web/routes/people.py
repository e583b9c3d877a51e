"""A guest's profile: history across the org's events, tags and notes (editable)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request

from catalog.guests import person_history
from intel.people import insights_for
from intel.vip_rules import vip_rules_for
from luma import InvalidEmailError, identity_key
from services import profiles
from web.caller import caller_of
from web.deps import Admin, Api, Reader
from web.errors import not_found
from web.render import page, see_other

router = APIRouter(prefix="/people/{email}")
Email = Annotated[str, Path(max_length=320)]
NOTE_ID_DIGITS = 9  # longer numbers are no note id (and would overflow the column)


def person_key(email: str) -> str:
    try:
        return identity_key(email)
    except InvalidEmailError:
        raise not_found("person") from None


def profile_url(email: str) -> str:
    return f"/web/people/{quote(email, safe='@')}"


@router.get("")
async def profile_page(request: Request, viewer: Reader, deps: Api, email: Email) -> object:
    key = person_key(email)
    async with deps.sessions() as session:
        history = await person_history(session, org_id=viewer.org_id, who=key, limit=100)
        insight = (
            await insights_for(
                session,
                org_id=viewer.org_id,
                emails=[key],
                rules=await vip_rules_for(session, org_id=viewer.org_id, defaults=deps.vip_rules),
            )
        )[key]
        if not history and insight.profile is None:
            raise not_found("person")
        return await page(
            request,
            session,
            viewer,
            "profile.html",
            email=email,
            profile=insight.profile,
            insight=insight,
            history=history,
            tags=insight.tags,
            notes=insight.notes,
            nav="events",
        )


# The rules (admins only, known people only, the tag format, the note length, the audit row)
# are `services.profiles`', the same as the bot's /tag, /untag and /note; its refusals
# become the portal's error pages (`web.app`).


@router.post("/tags")
async def add_tag(
    viewer: Admin, deps: Api, email: Email, tag: Annotated[str, Form(max_length=100)] = ""
) -> object:
    async with deps.sessions.begin() as session:
        await profiles.tag(caller_of(viewer), session, email=email, tag=tag)
    return see_other(profile_url(email))


@router.post("/tags/remove")
async def remove_tag(
    viewer: Admin, deps: Api, email: Email, tag: Annotated[str, Form(max_length=100)] = ""
) -> object:
    async with deps.sessions.begin() as session:
        await profiles.untag(caller_of(viewer), session, email=email, tag=tag)
    return see_other(profile_url(email))


@router.post("/notes")
async def add_note(
    viewer: Admin, deps: Api, email: Email, text: Annotated[str, Form(max_length=5000)] = ""
) -> object:
    async with deps.sessions.begin() as session:
        await profiles.add_note(caller_of(viewer), session, email=email, text=text)
    return see_other(profile_url(email))


@router.post("/notes/delete")
async def delete_note(
    viewer: Admin, deps: Api, email: Email, note_id: Annotated[str, Form(max_length=12)] = ""
) -> object:
    """Notes are corrected by deleting and writing again; only this person's, in this org."""
    if not note_id.isdigit() or len(note_id) > NOTE_ID_DIGITS:
        raise not_found("note")
    async with deps.sessions.begin() as session:
        await profiles.delete_note(caller_of(viewer), session, email=email, note_id=int(note_id))
    return see_other(profile_url(email))
