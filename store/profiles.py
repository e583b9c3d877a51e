"""Unified guest profiles, and the tags and notes we keep on people (never sent to Luma).

A profile is one person (one `luma.identity_key`: case, `+tags` and Gmail's dots ignored)
across all of an org's events, recomputed from the guests cache: after each full sync for
the whole org, after a webhook or a status we set (`store.cache.set_guest_status`) for the
people concerned. Counts: events registered, approved, attended (checked in), no-shows
(approved for an event that is over, never checked in), first and last seen. Name and
company are the latest non-empty ones the person gave; without a company answer, the
email's domain stands in unless it is a free-mail domain.
Enrichment fills its own columns (`enriched_*`, `seniority`) and the rebuild never touches them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luma.emails import FREE_MAIL_DOMAINS
from luma.models import APPROVED_STATUSES, REGISTERED_STATUSES
from store.db import rowcount, upsert_insert
from store.models import Event, Guest, GuestNote, GuestProfile, GuestTag, utcnow

_BATCH = 1000
TAG_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # a letter first: "#12" names events
SUGGESTED_TAGS = ("vip", "speaker", "sponsor", "press", "team")
NOTE_MAX = 1000


class BadTag(ValueError):
    """Tags are short slugs starting with a letter: lowercase letters, digits, - and _."""


def clean_tag(raw: str) -> str:
    """The tag as stored (lowercase, no leading #), or BadTag."""
    tag = raw.strip().lstrip("#").lower()
    if not TAG_PATTERN.match(tag):
        raise BadTag(raw)
    return tag


def _chunks(emails: Iterable[str]) -> Iterator[list[str]]:
    """Distinct keys in slices small enough for one IN (...) list."""
    keys = sorted(set(emails))
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


def _events_where(condition: ColumnElement[bool]) -> Any:
    """Distinct events where the condition held: two addresses of one inbox on one guest
    list are one registration."""
    return func.count(func.distinct(case((condition, Guest.luma_event_id))))


def _live(org_id: int, emails: Collection[str] | None) -> list[ColumnElement[bool]]:
    where = [Guest.org_id == org_id, Guest.gone_at.is_(None)]
    if emails is not None:
        where.append(Guest.normalized_email.in_(list(emails)))
    return where


def _latest(column: Any, where: list[ColumnElement[bool]]) -> Subquery:
    """Per person, the value of `column` on their most recent row where it is not empty."""
    seen = func.coalesce(Guest.registered_at, Guest.invited_at)
    rank = (
        func.row_number()
        .over(
            partition_by=Guest.normalized_email,
            order_by=(seen.desc().nulls_last(), Guest.id.desc()),
        )
        .label("rank")
    )
    return (
        select(Guest.normalized_email.label("key"), column.label("value"), rank)
        .where(*where, column.is_not(None), column != "")
        .subquery()
    )


def _company(answered: str | None, domain: str | None) -> tuple[str | None, str | None]:
    if answered:
        return answered[:255], "answers"
    if domain and domain not in FREE_MAIL_DOMAINS:
        return domain[:255], "domain"
    return None, None


async def refresh_profiles(
    session: AsyncSession,
    *,
    org_id: int,
    emails: Collection[str] | None = None,
    now: datetime | None = None,
) -> int:
    """Rebuild the org's profiles (or only those of `emails`, identity keys) from the cache.

    Returns how many were written; people no longer on any live guest list lose their
    profile (their tags and notes stay: they are ours, keyed by the same identity).
    """
    now = now or utcnow()
    where = _live(org_id, emails)
    approved = Guest.approval_status.in_(APPROVED_STATUSES)
    seen = func.coalesce(Guest.registered_at, Guest.invited_at)
    latest = {
        name: _latest(column, where)
        for name, column in (
            ("name", Guest.name),
            ("company", Guest.company),
            ("domain", Guest.email_domain),
        )
    }
    counts = (
        select(
            Guest.normalized_email.label("key"),
            _events_where(Guest.approval_status.in_(REGISTERED_STATUSES)).label("registered"),
            _events_where(approved).label("approved"),
            _events_where(Guest.checked_in_at.is_not(None)).label("attended"),
            _events_where(and_(approved, Guest.checked_in_at.is_(None), Event.end_at < now)).label(
                "no_shows"
            ),
            func.min(seen).label("first"),
            func.max(seen).label("last"),
        )
        .outerjoin(
            Event, and_(Event.org_id == Guest.org_id, Event.luma_event_id == Guest.luma_event_id)
        )
        .where(*where)
        .group_by(Guest.normalized_email)
        .subquery()
    )
    statement = select(counts, *(sub.c.value.label(name) for name, sub in latest.items()))
    for sub in latest.values():
        statement = statement.outerjoin(sub, and_(sub.c.key == counts.c.key, sub.c.rank == 1))
    rows = []
    for found in await session.execute(statement):
        company, source = _company(found.company, found.domain)
        rows.append(
            {
                "org_id": org_id,
                "normalized_email": found.key,
                "name": (found.name or "")[:255],
                "company": company,
                "company_source": source,
                "events_registered": found.registered or 0,
                "events_approved": found.approved or 0,
                "events_attended": found.attended or 0,
                "no_shows": found.no_shows or 0,
                "first_seen_at": found.first,
                "last_seen_at": found.last,
                "updated_at": now,
            }
        )
    for start in range(0, len(rows), _BATCH):
        insert = upsert_insert(session.get_bind().dialect.name, GuestProfile)
        batch = insert.values(rows[start : start + _BATCH])
        refreshed = {
            column: batch.excluded[column]
            for column in rows[0]
            if column not in ("org_id", "normalized_email")
        }
        await session.execute(
            batch.on_conflict_do_update(
                index_elements=["org_id", "normalized_email"], set_=refreshed
            )
        )
    await _drop_vanished(session, org_id, emails, {row["normalized_email"] for row in rows})
    return len(rows)


async def _drop_vanished(
    session: AsyncSession, org_id: int, emails: Collection[str] | None, kept: set[str]
) -> None:
    scope = [GuestProfile.org_id == org_id]
    if emails is not None:
        scope.append(GuestProfile.normalized_email.in_(list(emails)))
    known = await session.scalars(select(GuestProfile.normalized_email).where(*scope))
    for stale in _chunks(key for key in known if key not in kept):
        await session.execute(
            delete(GuestProfile).where(
                GuestProfile.org_id == org_id, GuestProfile.normalized_email.in_(stale)
            )
        )


async def get_profile(
    session: AsyncSession, *, org_id: int, normalized_email: str
) -> GuestProfile | None:
    return await session.scalar(
        select(GuestProfile).where(
            GuestProfile.org_id == org_id, GuestProfile.normalized_email == normalized_email
        )
    )


async def profiles_for(
    session: AsyncSession, *, org_id: int, emails: Iterable[str]
) -> dict[str, GuestProfile]:
    """Profiles by identity key, for the given people of one org."""
    found: dict[str, GuestProfile] = {}
    for keys in _chunks(emails):
        rows = await session.scalars(
            select(GuestProfile).where(
                GuestProfile.org_id == org_id, GuestProfile.normalized_email.in_(keys)
            )
        )
        found.update((profile.normalized_email, profile) for profile in rows)
    return found


def company_of(profile: GuestProfile) -> tuple[str | None, str | None]:
    """The company to show and where it came from: what the person answered, else
    enrichment's, else the email domain."""
    if profile.company_source == "answers":
        return profile.company, "answers"
    if profile.enriched_company:
        return profile.enriched_company, "enrichment"
    return profile.company, profile.company_source


# --- tags and notes ---------------------------------------------------------------------------


async def add_tag(
    session: AsyncSession, *, org_id: int, normalized_email: str, tag: str, user_id: int | None
) -> bool:
    """Tag a person; False when they already had the tag (nothing written)."""
    insert = upsert_insert(session.get_bind().dialect.name, GuestTag).values(
        org_id=org_id, normalized_email=normalized_email, tag=tag, created_by=user_id
    )
    # RETURNING, not rowcount: drivers count a skipped ON CONFLICT row differently.
    added = await session.scalar(
        insert.on_conflict_do_nothing(
            index_elements=["org_id", "normalized_email", "tag"]
        ).returning(GuestTag.id)
    )
    return added is not None


async def remove_tag(
    session: AsyncSession, *, org_id: int, normalized_email: str, tag: str
) -> bool:
    """Untag a person; False when they did not have the tag."""
    result = await session.execute(
        delete(GuestTag).where(
            GuestTag.org_id == org_id,
            GuestTag.normalized_email == normalized_email,
            GuestTag.tag == tag,
        )
    )
    return bool(rowcount(result))


async def tags_for(
    session: AsyncSession, *, org_id: int, emails: Iterable[str]
) -> dict[str, list[str]]:
    """Each person's tags, alphabetically (people without tags are absent)."""
    found: dict[str, list[str]] = {}
    for keys in _chunks(emails):
        rows = await session.execute(
            select(GuestTag.normalized_email, GuestTag.tag)
            .where(GuestTag.org_id == org_id, GuestTag.normalized_email.in_(keys))
            .order_by(GuestTag.tag)
        )
        for key, tag in rows:
            found.setdefault(key, []).append(tag)
    return found


async def tagged_emails(session: AsyncSession, *, org_id: int, tags: Iterable[str]) -> set[str]:
    """Identity keys of the org's people carrying any of `tags`."""
    wanted = list({tag.lower() for tag in tags})
    if not wanted:
        return set()
    rows = await session.scalars(
        select(GuestTag.normalized_email).where(GuestTag.org_id == org_id, GuestTag.tag.in_(wanted))
    )
    return set(rows)


async def add_note(
    session: AsyncSession, *, org_id: int, normalized_email: str, text: str, user_id: int | None
) -> GuestNote:
    note = GuestNote(
        org_id=org_id,
        normalized_email=normalized_email,
        text=text[:NOTE_MAX],
        author_user_id=user_id,
    )
    session.add(note)
    await session.flush()
    return note


async def delete_note(
    session: AsyncSession, *, org_id: int, normalized_email: str, note_id: int
) -> bool:
    """Delete one of a person's notes; False when the org has no such note for them."""
    result = await session.execute(
        delete(GuestNote).where(
            GuestNote.id == note_id,
            GuestNote.org_id == org_id,
            GuestNote.normalized_email == normalized_email,
        )
    )
    return bool(rowcount(result))


async def notes_for(
    session: AsyncSession, *, org_id: int, emails: Iterable[str]
) -> dict[str, list[GuestNote]]:
    """Each person's notes, oldest first."""
    found: dict[str, list[GuestNote]] = {}
    for keys in _chunks(emails):
        rows = await session.scalars(
            select(GuestNote)
            .where(GuestNote.org_id == org_id, GuestNote.normalized_email.in_(keys))
            .order_by(GuestNote.created_at, GuestNote.id)
        )
        for note in rows:
            found.setdefault(note.normalized_email, []).append(note)
    return found


async def is_known_person(session: AsyncSession, *, org_id: int, normalized_email: str) -> bool:
    """Someone on one of the org's guest lists (tags and notes are only for them)."""
    found = await session.scalar(
        select(Guest.id)
        .where(Guest.org_id == org_id, Guest.normalized_email == normalized_email)
        .limit(1)
    )
    return found is not None
