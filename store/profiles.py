"""Unified guest profiles: one row per person (normalized email) across an org's events.

Recomputed from the guests cache after each sync, so a profile always agrees with the cache:
events registered, approved, attended (checked in), no-shows (approved for an event that is
over, never checked in), first and last seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luma.models import APPROVED_STATUSES, REGISTERED_STATUSES
from store.db import upsert_insert
from store.models import Event, Guest, GuestProfile, utcnow

_BATCH = 1000


def _count(condition) -> object:  # type: ignore[no-untyped-def]
    return func.sum(case((condition, 1), else_=0))


async def refresh_profiles(
    session: AsyncSession, *, org_id: int, now: datetime | None = None
) -> int:
    """Rebuild the org's profiles from its live cached guests; returns how many were written."""
    now = now or utcnow()
    approved = Guest.approval_status.in_(APPROVED_STATUSES)
    seen = func.coalesce(Guest.registered_at, Guest.invited_at)
    statement = (
        select(
            Guest.normalized_email,
            func.max(Guest.name),
            func.max(Guest.company),
            _count(Guest.approval_status.in_(REGISTERED_STATUSES)),
            _count(approved),
            _count(Guest.checked_in_at.is_not(None)),
            _count(and_(approved, Guest.checked_in_at.is_(None), Event.end_at < now)),
            func.min(seen),
            func.max(seen),
        )
        .outerjoin(
            Event, and_(Event.org_id == Guest.org_id, Event.luma_event_id == Guest.luma_event_id)
        )
        .where(Guest.org_id == org_id, Guest.gone_at.is_(None))
        .group_by(Guest.normalized_email)
    )
    rows = [
        {
            "org_id": org_id,
            "normalized_email": email,
            "name": name or "",
            "company": company,
            "events_registered": registered or 0,
            "events_approved": approved_count or 0,
            "events_attended": attended or 0,
            "no_shows": no_shows or 0,
            "first_seen_at": first,
            "last_seen_at": last,
            "updated_at": now,
        }
        for email, name, company, registered, approved_count, attended, no_shows, first, last in (
            await session.execute(statement)
        )
    ]
    for start in range(0, len(rows), _BATCH):
        insert = upsert_insert(session.bind.dialect.name, GuestProfile)
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
    return len(rows)


async def get_profile(
    session: AsyncSession, *, org_id: int, normalized_email: str
) -> GuestProfile | None:
    return await session.scalar(
        select(GuestProfile).where(
            GuestProfile.org_id == org_id, GuestProfile.normalized_email == normalized_email
        )
    )
