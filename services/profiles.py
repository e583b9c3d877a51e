"""Tags and notes on a person: tag, untag, add a note, delete one.

The bot's `/tag`, `/untag` and `/note` and the portal's profile page both come here, so the
same rules hold whichever interface writes: admins only, tags and notes only for people on
one of the org's guest lists, one tag format, one note length, and one audit row per write
under one action name. They are kept per person (`luma.identity_key`), stored in our
database and never sent to Luma.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from luma import InvalidEmailError, identity_key, normalize_email
from services import audit
from services.caller import Caller, Invalid, NotFound
from store import profiles
from store.models import GuestNote
from store.profiles import NOTE_MAX


@dataclass(frozen=True)
class Person:
    """Someone on the org's guest lists: the address as given (normalized) and the identity
    key their tags and notes are kept under."""

    email: str
    key: str


@dataclass(frozen=True)
class TagChange:
    """A tag written or removed; `changed` is False when it was already so."""

    person: Person
    tag: str
    changed: bool


@dataclass(frozen=True)
class NoteAdded:
    person: Person
    note: GuestNote


def _address(raw: str) -> str:
    try:
        return normalize_email(raw)
    except InvalidEmailError as exc:
        raise Invalid(escape(exc.user_message[:300])) from None


def _tag(raw: str) -> str:
    try:
        return profiles.clean_tag(raw)
    except profiles.BadTag:
        raise Invalid(
            f"“{escape(raw.strip()[:40])}” is not a tag I can use: one short word of lowercase "
            "letters, digits, - or _ that starts with a letter, like vip or early-bird."
        ) from None


def _note_text(raw: str) -> str:
    text = " ".join(raw.split())
    if not text:
        raise Invalid("What should the note say? It is empty.")
    if len(text) > NOTE_MAX:
        raise Invalid(f"Notes are at most {NOTE_MAX} characters; this one has {len(text)}.")
    return text


async def _known(caller: Caller, session: AsyncSession, email: str) -> Person:
    """Tags and notes are only for people on one of the org's guest lists (another org's
    guests look exactly like strangers)."""
    key = identity_key(email)
    if not await profiles.is_known_person(session, org_id=caller.org_id, normalized_email=key):
        raise NotFound(
            f"{escape(email[:64])} is not on any guest list of this calendar, so I keep "
            "nothing about them."
        )
    return Person(email, key)


async def tag(caller: Caller, session: AsyncSession, *, email: str, tag: str) -> TagChange:
    """Give a person a tag (`#vip`, `speaker`: stored lowercase, without the #)."""
    caller.require_admin()
    address, clean = _address(email), _tag(tag)
    person = await _known(caller, session, address)
    changed = await profiles.add_tag(
        session,
        org_id=caller.org_id,
        normalized_email=person.key,
        tag=clean,
        user_id=caller.user_id,
    )
    await _record_tag(caller, session, "tag_guest", person, clean, changed)
    return TagChange(person, clean, changed)


async def untag(caller: Caller, session: AsyncSession, *, email: str, tag: str) -> TagChange:
    """Take a tag off a person (the same format as `tag`, so `#VIP` removes `vip`)."""
    caller.require_admin()
    address, clean = _address(email), _tag(tag)
    person = await _known(caller, session, address)
    changed = await profiles.remove_tag(
        session, org_id=caller.org_id, normalized_email=person.key, tag=clean
    )
    await _record_tag(caller, session, "untag_guest", person, clean, changed)
    return TagChange(person, clean, changed)


async def _record_tag(
    caller: Caller, session: AsyncSession, action: str, person: Person, tag: str, changed: bool
) -> None:
    await audit.record(
        caller,
        session,
        action,
        {"email": person.key, "tag": tag},
        result="ok" if changed else "unchanged",
    )


async def add_note(caller: Caller, session: AsyncSession, *, email: str, text: str) -> NoteAdded:
    """Write a note on a person (whitespace collapsed, at most `NOTE_MAX` characters)."""
    caller.require_admin()
    address, clean = _address(email), _note_text(text)
    person = await _known(caller, session, address)
    note = await profiles.add_note(
        session,
        org_id=caller.org_id,
        normalized_email=person.key,
        text=clean,
        user_id=caller.user_id,
    )
    # The length, not the text: the audit log is no second copy of what people wrote.
    await audit.record(caller, session, "note_guest", {"email": person.key, "chars": len(clean)})
    return NoteAdded(person, note)


async def delete_note(caller: Caller, session: AsyncSession, *, email: str, note_id: int) -> None:
    """Delete one of a person's notes (notes are corrected by deleting and writing again)."""
    caller.require_admin()
    key = identity_key(email)
    deleted = await profiles.delete_note(
        session, org_id=caller.org_id, normalized_email=key, note_id=note_id
    )
    if not deleted:
        raise NotFound("There is no such note in this calendar.")
    await audit.record(caller, session, "note_delete", {"email": key, "note": note_id})
