"""The local cache of Luma events and guests, always read and written per org.

Upserts use the backend's native `ON CONFLICT` (PostgreSQL and SQLite both have it), so a
retried sync batch writes the same rows again instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import rowcount, upsert_insert
from store.models import Event, Guest, utcnow
from store.profiles import refresh_profiles

EVENT_UPDATABLE = ("name", "start_at", "end_at", "timezone", "city", "country", "url", "capacity")
GUEST_UPDATABLE = (
    "email",
    "normalized_email",
    "email_domain",
    "name",
    "approval_status",
    "company",
    "job_title",
    "registration_answers",
    "is_paid",
    "registered_at",
    "invited_at",
    "checked_in_at",
)


async def _upsert(
    session: AsyncSession,
    table: Any,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    updatable: Sequence[str],
) -> None:
    if not rows:
        return
    statement = upsert_insert(session.get_bind().dialect.name, table).values(rows)
    refreshed = {name: statement.excluded[name] for name in (*updatable, "raw") if name in rows[0]}
    refreshed.update(fetched_at=statement.excluded.fetched_at, gone_at=None)
    await session.execute(statement.on_conflict_do_update(index_elements=keys, set_=refreshed))


async def upsert_events(
    session: AsyncSession, *, org_id: int, events: Iterable[dict[str, Any]]
) -> int:
    now = utcnow()
    rows = [{**event, "org_id": org_id, "fetched_at": now} for event in events]
    await _upsert(session, Event.__table__, rows, ("org_id", "luma_event_id"), EVENT_UPDATABLE)
    return len(rows)


async def upsert_guests(
    session: AsyncSession, *, org_id: int, luma_event_id: str, guests: Iterable[dict[str, Any]]
) -> int:
    now = utcnow()
    rows = [
        {**guest, "org_id": org_id, "luma_event_id": luma_event_id, "fetched_at": now}
        for guest in guests
    ]
    await _upsert(
        session,
        Guest.__table__,
        rows,
        ("org_id", "luma_event_id", "luma_guest_id"),
        GUEST_UPDATABLE,
    )
    return len(rows)


async def mark_guests_gone(
    session: AsyncSession, *, org_id: int, luma_event_id: str, fetched_before: datetime
) -> int:
    """Guests a full sync did not see again were removed in Luma."""
    result = await session.execute(
        update(Guest)
        .where(
            Guest.org_id == org_id,
            Guest.luma_event_id == luma_event_id,
            Guest.fetched_at < fetched_before,
            Guest.gone_at.is_(None),
        )
        .values(gone_at=utcnow())
    )
    return rowcount(result) or 0


async def set_guest_status(
    session: AsyncSession,
    *,
    org_id: int,
    luma_event_id: str,
    luma_guest_ids: Collection[str],
    status: str,
) -> int:
    """Record a status Luma just confirmed for these guests (our own write succeeded), and
    rebuild those people's profiles, so lists, digests and repeat counts show it before the
    next sync. Returns how many cached guests changed.

    Only guests whose cached status differs are touched, so a retried activity that applies
    the same statuses again changes nothing; guests not cached yet wait for the next sync.
    """
    if not luma_guest_ids:
        return 0
    changed = await session.scalars(
        update(Guest)
        .where(
            Guest.org_id == org_id,
            Guest.luma_event_id == luma_event_id,
            Guest.luma_guest_id.in_(list(luma_guest_ids)),
            Guest.approval_status != status,
        )
        .values(approval_status=status[:32])
        .returning(Guest.normalized_email)
    )
    people = list(changed)
    if people:
        await refresh_profiles(session, org_id=org_id, emails=set(people))
    return len(people)


def _live_guests(org_id: int) -> Select[Guest]:
    return select(Guest).where(Guest.org_id == org_id, Guest.gone_at.is_(None))


async def list_events(
    session: AsyncSession,
    *,
    org_id: int,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
) -> Sequence[Event]:
    query = select(Event).where(Event.org_id == org_id, Event.gone_at.is_(None))
    if starts_after is not None:
        query = query.where(Event.start_at >= starts_after)
    if starts_before is not None:
        query = query.where(Event.start_at < starts_before)
    return (await session.scalars(query.order_by(Event.start_at))).all()


async def get_event(session: AsyncSession, *, org_id: int, luma_event_id: str) -> Event | None:
    return await session.scalar(
        select(Event).where(Event.org_id == org_id, Event.luma_event_id == luma_event_id)
    )


async def list_guests(session: AsyncSession, *, org_id: int, luma_event_id: str) -> Sequence[Guest]:
    """Every live guest of one event (for whole-event figures; filtered lists, pages and
    exports go through `catalog.guest_query`, the one guest filter)."""
    query = _live_guests(org_id).where(Guest.luma_event_id == luma_event_id)
    return (await session.scalars(query.order_by(Guest.name, Guest.id))).all()


async def count_by_status(
    session: AsyncSession, *, org_id: int, luma_event_id: str
) -> dict[str, int]:
    rows = await session.execute(
        select(Guest.approval_status, func.count())
        .where(
            Guest.org_id == org_id,
            Guest.luma_event_id == luma_event_id,
            Guest.gone_at.is_(None),
        )
        .group_by(Guest.approval_status)
    )
    return {status: count for status, count in rows}


async def guests_by_email(
    session: AsyncSession, *, org_id: int, normalized_email: str
) -> Sequence[Guest]:
    """One person's rows across the org's events, newest event first."""
    query = _live_guests(org_id).where(Guest.normalized_email == normalized_email)
    return (await session.scalars(query.order_by(Guest.registered_at.desc()))).all()
