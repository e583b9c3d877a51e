"""Tags and notes through `services.profiles`: admins only, known people only, one tag format
and one note length; each write leaves one audit row under the same action name whether the
bot or the portal asked."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from activities.sync import guest_row
from luma import LumaGuest
from services import profiles
from services.caller import Forbidden, Invalid, NotFound, Source
from store import cache
from store.models import GuestNote, GuestTag, Role
from store.profiles import NOTE_MAX, notes_for, tags_for
from tests.services.conftest import audit_rows, caller

ADA = "Ada.Lovelace+events@Example.com"
ADA_KEY = "ada.lovelace@example.com"


async def _seed_guest(sessions, org_id: int, email: str = ADA) -> None:
    """Someone on one of the org's guest lists (tags and notes are only for them)."""
    guest = LumaGuest.model_validate(
        {"id": f"g-{uuid.uuid4().hex[:8]}", "email": email, "approval_status": "approved"}
    )
    async with sessions.begin() as session:
        await cache.upsert_guests(
            session, org_id=org_id, luma_event_id="evt-profiles", guests=[guest_row(guest)]
        )


async def _tags_and_notes(sessions, org_id: int) -> tuple[list[str], list[str]]:
    async with sessions() as session:
        tags = (await tags_for(session, org_id=org_id, emails=[ADA_KEY])).get(ADA_KEY, [])
        notes = (await notes_for(session, org_id=org_id, emails=[ADA_KEY])).get(ADA_KEY, [])
    return tags, [note.text for note in notes]


async def test_a_member_is_refused_and_nothing_changes(sessions, org) -> None:
    await _seed_guest(sessions, org.org_id)
    member = await caller(sessions, org.org_id, Role.MEMBER, "web")
    admin = await caller(sessions, org.org_id, Role.ADMIN, "web")
    async with sessions.begin() as session:
        added = await profiles.add_note(admin, session, email=ADA, text="keep me")
        await profiles.tag(admin, session, email=ADA, tag="vip")
    before = await audit_rows(sessions, org.org_id)
    async with sessions.begin() as session:
        with pytest.raises(Forbidden):
            await profiles.tag(member, session, email=ADA, tag="speaker")
        with pytest.raises(Forbidden):
            await profiles.untag(member, session, email=ADA, tag="vip")
        with pytest.raises(Forbidden):
            await profiles.add_note(member, session, email=ADA, text="hello")
        with pytest.raises(Forbidden):
            await profiles.delete_note(member, session, email=ADA, note_id=added.note.id)
    assert await _tags_and_notes(sessions, org.org_id) == (["vip"], ["keep me"])
    assert len(await audit_rows(sessions, org.org_id)) == len(before) == 2


async def test_bad_input_is_invalid_and_nothing_changes(sessions, org) -> None:
    await _seed_guest(sessions, org.org_id)
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    for write, kwargs, refusal, words in (
        (profiles.tag, {"email": ADA, "tag": "VIP!!"}, Invalid, "is not a tag I can use"),
        (profiles.tag, {"email": ADA, "tag": "<b>"}, Invalid, "“&lt;b&gt;” is not a tag"),
        (profiles.untag, {"email": ADA, "tag": "no way"}, Invalid, "is not a tag I can use"),
        (profiles.tag, {"email": "not-an-email", "tag": "vip"}, Invalid, "not-an-email"),
        (profiles.add_note, {"email": ADA, "text": "  \n "}, Invalid, "What should the note"),
        (
            profiles.add_note,
            {"email": ADA, "text": "x" * (NOTE_MAX + 1)},
            Invalid,
            f"Notes are at most {NOTE_MAX} characters",
        ),
        (
            profiles.tag,
            {"email": "nobody@nowhere.example", "tag": "vip"},
            NotFound,
            "nobody@nowhere.example is not on any guest list",
        ),
        (
            profiles.delete_note,
            {"email": ADA, "note_id": 2_000_000_000},
            NotFound,
            "no such note",
        ),
    ):
        async with sessions.begin() as session:
            with pytest.raises(refusal) as refused:
                await write(admin, session, **kwargs)
        assert words in refused.value.message, kwargs
    assert await _tags_and_notes(sessions, org.org_id) == ([], [])
    assert await audit_rows(sessions, org.org_id) == []


@pytest.mark.parametrize("source", ["bot", "web"])
async def test_each_write_one_audit_row_with_one_name_from_bot_or_portal(
    sessions, org, source: Source
) -> None:
    await _seed_guest(sessions, org.org_id)
    chat_id = -42 if source == "bot" else None
    admin = await caller(sessions, org.org_id, Role.ADMIN, source, chat_id=chat_id)
    async with sessions.begin() as session:
        tagged = await profiles.tag(admin, session, email=ADA, tag="#VIP")
        again = await profiles.tag(admin, session, email=ADA.lower(), tag="vip")
        noted = await profiles.add_note(admin, session, email=ADA, text=" met at   the dinner ")
        untagged = await profiles.untag(admin, session, email=ADA, tag="#Vip")
        missing = await profiles.untag(admin, session, email=ADA, tag="vip")
        await profiles.delete_note(admin, session, email=ADA, note_id=noted.note.id)
    assert tagged.person.key == ADA_KEY and tagged.tag == "vip" and tagged.changed
    assert tagged.person.email == "Ada.Lovelace+events@example.com"  # domain lowercased
    assert not again.changed and untagged.changed and not missing.changed
    assert noted.note.text == "met at the dinner"
    assert await _tags_and_notes(sessions, org.org_id) == ([], [])

    entries = await audit_rows(sessions, org.org_id)
    assert [(entry.action, entry.result) for entry in entries] == [
        ("tag_guest", "ok"),
        ("tag_guest", "unchanged"),
        ("note_guest", "ok"),
        ("untag_guest", "ok"),
        ("untag_guest", "unchanged"),
        ("note_delete", "ok"),
    ]
    for entry in entries:
        assert entry.source == source and entry.chat_id == chat_id
        assert entry.actor_user_id == admin.user_id
        assert entry.target["email"] == ADA_KEY
        assert "met at" not in str(entry.target)  # the note's length, not its text
    assert entries[0].target == {"email": ADA_KEY, "tag": "vip"}
    assert entries[2].target == {"email": ADA_KEY, "chars": len("met at the dinner")}


async def test_another_orgs_person_and_note_are_not_found(sessions, org, keybox, simulator) -> None:
    from tests.workflows.conftest import link_calendar

    other = await link_calendar(sessions, keybox, simulator, "Other")
    await _seed_guest(sessions, other.org_id)
    theirs = await caller(sessions, other.org_id, Role.ADMIN)
    ours = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        noted = await profiles.add_note(theirs, session, email=ADA, text="theirs")
    async with sessions.begin() as session:
        with pytest.raises(NotFound):
            await profiles.tag(ours, session, email=ADA, tag="vip")
        with pytest.raises(NotFound):
            await profiles.delete_note(ours, session, email=ADA, note_id=noted.note.id)
    async with sessions() as session:
        assert (await session.scalars(select(GuestNote.text).where(
            GuestNote.org_id == other.org_id))).all() == ["theirs"]  # fmt: skip
        assert (await session.scalars(select(GuestTag).where(
            GuestTag.org_id == org.org_id))).all() == []  # fmt: skip
    assert await audit_rows(sessions, org.org_id) == []
