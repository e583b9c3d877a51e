"""A guest's profile: history across the org's events, tags and notes (editable)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from sqlalchemy import delete

from catalog.guests import person_history
from intel.people import insights_for
from luma import InvalidEmailError, identity_key
from store import profiles
from store.db import rowcount
from store.models import GuestNote
from web.auth import Viewer
from web.deps import Admin, Api, Reader, audit_write
from web.errors import WebError, not_found
from web.render import page, see_other

router = APIRouter(prefix="/people/{email}")
Email = Annotated[str, Path(max_length=320)]


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
                rules=deps.vip_rules,
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


async def _known(deps: Api, viewer: Viewer, email: str) -> str:
    key = person_key(email)
    async with deps.sessions() as session:
        if not await profiles.is_known_person(session, org_id=viewer.org_id, normalized_email=key):
            raise not_found("person")
    return key


@router.post("/tags")
async def add_tag(
    viewer: Admin, deps: Api, email: Email, tag: Annotated[str, Form(max_length=100)] = ""
) -> object:
    key = await _known(deps, viewer, email)
    try:
        clean = profiles.clean_tag(tag)
    except profiles.BadTag:
        raise WebError(
            400,
            "Not a tag",
            "Tags are short words of lowercase letters, digits, - and _ that start with a letter.",
        ) from None
    async with deps.sessions.begin() as session:
        await profiles.add_tag(
            session, org_id=viewer.org_id, normalized_email=key, tag=clean, user_id=viewer.user_id
        )
        await audit_write(session, viewer, "tag_add", {"person": key, "tag": clean})
    return see_other(profile_url(email))


@router.post("/tags/remove")
async def remove_tag(
    viewer: Admin, deps: Api, email: Email, tag: Annotated[str, Form(max_length=100)] = ""
) -> object:
    key = await _known(deps, viewer, email)
    async with deps.sessions.begin() as session:
        await profiles.remove_tag(
            session, org_id=viewer.org_id, normalized_email=key, tag=tag.strip().lower()
        )
        await audit_write(session, viewer, "tag_remove", {"person": key, "tag": tag[:64]})
    return see_other(profile_url(email))


@router.post("/notes")
async def add_note(
    viewer: Admin, deps: Api, email: Email, text: Annotated[str, Form(max_length=5000)] = ""
) -> object:
    key = await _known(deps, viewer, email)
    if not text.strip():
        raise WebError(400, "Empty note", "Write something in the note, then save it.")
    async with deps.sessions.begin() as session:
        await profiles.add_note(
            session,
            org_id=viewer.org_id,
            normalized_email=key,
            text=text.strip(),
            user_id=viewer.user_id,
        )
        await audit_write(session, viewer, "note_add", {"person": key})
    return see_other(profile_url(email))


@router.post("/notes/delete")
async def delete_note(
    viewer: Admin, deps: Api, email: Email, note_id: Annotated[str, Form(max_length=12)] = ""
) -> object:
    """Notes are corrected by deleting and writing again; only this person's, in this org."""
    key = person_key(email)
    if not note_id.isdigit():
        raise not_found("note")
    async with deps.sessions.begin() as session:
        deleted = await session.execute(
            delete(GuestNote).where(
                GuestNote.id == int(note_id),
                GuestNote.org_id == viewer.org_id,
                GuestNote.normalized_email == key,
            )
        )
        if not rowcount(deleted):
            raise not_found("note")
        await audit_write(session, viewer, "note_delete", {"person": key, "note": int(note_id)})
    return see_other(profile_url(email))
