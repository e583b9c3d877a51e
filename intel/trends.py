"""Trends over an org's cached events and guests, by event, city, month, email domain or company.

Counted from our cache (never from Luma), with the same rules as guest profiles: registered
means a registered status (invitations are not), approved means approved or session,
attended means checked in, and a no-show is an approved guest who never checked in to an
event that is over. Attendance and no-show rates are taken over approved guests of events
that are over, so an upcoming event does not drag them down.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import SQLColumnExpression, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luma.models import APPROVED_STATUSES, REGISTERED_STATUSES
from store.models import Event, Guest, GuestProfile

UNKNOWN = "(unknown)"


class Dimension(StrEnum):
    EVENT = "event"
    CITY = "city"
    MONTH = "month"
    DOMAIN = "domain"
    COMPANY = "company"


# Time-like dimensions read in order; the others rank the biggest first.
CHRONOLOGICAL = frozenset({Dimension.EVENT, Dimension.MONTH})


@dataclass
class Tally:
    """Counts for one group of guests (an event, a city, a month, a domain, a company)."""

    key: str
    events: int = 0
    registered: int = 0
    approved: int = 0
    approved_past: int = 0  # approved for events that are over: the base of attendance
    attended: int = 0
    no_shows: int = 0
    start_at: datetime | None = None  # earliest event start, for chronological order

    def add(self, other: Tally) -> None:
        self.events += other.events
        self.registered += other.registered
        self.approved += other.approved
        self.approved_past += other.approved_past
        self.attended += other.attended
        self.no_shows += other.no_shows
        if other.start_at and (self.start_at is None or other.start_at < self.start_at):
            self.start_at = other.start_at

    @property
    def approval_rate(self) -> float | None:
        return self.approved / self.registered if self.registered else None

    @property
    def attendance_rate(self) -> float | None:
        return self.attended / self.approved_past if self.approved_past else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.approved_past if self.approved_past else None

    def public(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values (API, stored summaries)."""
        return {
            "key": self.key,
            "events": self.events,
            "registered": self.registered,
            "approved": self.approved,
            "attended": self.attended,
            "no_shows": self.no_shows,
            "approval_rate": self.approval_rate,
            "attendance_rate": self.attendance_rate,
            "no_show_rate": self.no_show_rate,
        }


@dataclass
class TrendReport:
    dimension: Dimension
    rows: list[Tally]
    total: Tally
    more: int = 0  # groups left out by the limit


@dataclass
class History:
    """How the org's earlier events went, for a post-event summary to compare with."""

    events: int
    attendance_rate: float | None
    no_show_rate: float | None
    per_event: list[Tally] = field(default_factory=list)


def _sum(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _counts(org_id: int, now: datetime, *keys: Any) -> Any:
    """Guest counts grouped by `keys`, over live guests of live events of one org."""
    approved = Guest.approval_status.in_(APPROVED_STATUSES)
    over = Event.end_at < now
    return (
        select(
            *keys,
            func.count(func.distinct(Guest.luma_event_id)),
            _sum(Guest.approval_status.in_(REGISTERED_STATUSES)),
            _sum(approved),
            _sum(and_(approved, over)),
            _sum(Guest.checked_in_at.is_not(None)),
            _sum(and_(approved, over, Guest.checked_in_at.is_(None))),
        )
        .join(Event, and_(Event.org_id == Guest.org_id, Event.luma_event_id == Guest.luma_event_id))
        .where(Guest.org_id == org_id, Guest.gone_at.is_(None), Event.gone_at.is_(None))
        .group_by(*keys)
    )


def _tally(key: str, counts: Sequence[Any]) -> Tally:
    events, registered, approved, approved_past, attended, no_shows = (int(c) for c in counts)
    return Tally(key, events, registered, approved, approved_past, attended, no_shows)


async def event_tallies(session: AsyncSession, *, org_id: int, now: datetime) -> list[Tally]:
    """One tally per live event (keyed by its Luma id), guestless events included, by start."""
    events = (
        await session.scalars(select(Event).where(Event.org_id == org_id, Event.gone_at.is_(None)))
    ).all()
    counted = {
        row[0]: _tally(row[0], row[1:])
        for row in await session.execute(_counts(org_id, now, Guest.luma_event_id))
    }
    tallies = []
    for event in events:
        tally = counted.get(event.luma_event_id) or Tally(event.luma_event_id)
        tally.events, tally.start_at = 1, event.start_at
        tallies.append(tally)
    return sorted(tallies, key=_chronological)


def _chronological(tally: Tally) -> tuple[bool, datetime | None, str]:
    return (tally.start_at is None, tally.start_at, tally.key)


def _month(start_at: datetime | None, zone: ZoneInfo) -> str:
    return start_at.astimezone(zone).strftime("%Y-%m") if start_at else UNKNOWN


async def trends(
    session: AsyncSession,
    *,
    org_id: int,
    dimension: Dimension,
    now: datetime,
    timezone: str = "UTC",
    limit: int = 12,
) -> TrendReport:
    """The org's registrations, approvals and attendance grouped by `dimension`.

    Event and month rows are the latest `limit` in time order; city, domain and company rows
    are the `limit` biggest by attendance, then registrations.
    """
    if dimension in (Dimension.DOMAIN, Dimension.COMPANY):
        groups = await _guest_groups(session, org_id=org_id, dimension=dimension, now=now)
    else:
        groups = await _event_groups(
            session, org_id=org_id, dimension=dimension, now=now, tz=timezone
        )
    # Counted over all guests at once: an event has guests of many domains, so the number of
    # events is not the sum of the groups' (the other figures are).
    total = _tally("total", (await session.execute(_counts(org_id, now))).one())
    if dimension in CHRONOLOGICAL:
        groups.sort(key=_chronological)
        shown = groups[-limit:]
    else:
        groups.sort(key=lambda t: (t.key == UNKNOWN, -t.attended, -t.registered, t.key))
        shown = groups[:limit]
    return TrendReport(dimension, shown, total, more=len(groups) - len(shown))


async def _event_groups(
    session: AsyncSession, *, org_id: int, dimension: Dimension, now: datetime, tz: str
) -> list[Tally]:
    events = {
        event.luma_event_id: event
        for event in await session.scalars(
            select(Event).where(Event.org_id == org_id, Event.gone_at.is_(None))
        )
    }
    zone = ZoneInfo(tz)
    groups: dict[str, Tally] = {}
    for tally in await event_tallies(session, org_id=org_id, now=now):
        event = events[tally.key]
        if dimension is Dimension.CITY:
            key = event.city or UNKNOWN
        elif dimension is Dimension.MONTH:
            key = _month(event.start_at, zone)
        else:
            key = _event_row_key(event, zone, taken=groups)
        groups.setdefault(key, Tally(key)).add(tally)
    return list(groups.values())


def _event_row_key(event: Event, zone: ZoneInfo, *, taken: Container[str]) -> str:
    """The event's name, told apart from earlier rows of the same name (a yearly conference, a
    weekly meetup) by month, then day, then time, then Luma id: one row per event, never two
    events counted as one."""
    start = event.start_at.astimezone(zone) if event.start_at else None
    marks = [start.strftime(f) for f in ("%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M")] if start else []
    for key in (event.name, *(f"{event.name} ({mark})" for mark in marks)):
        if key not in taken:
            return key
    return f"{event.name} ({event.luma_event_id})"


async def _guest_groups(
    session: AsyncSession, *, org_id: int, dimension: Dimension, now: datetime
) -> list[Tally]:
    key: SQLColumnExpression[str]
    if dimension is Dimension.DOMAIN:
        key = Guest.email_domain
        statement = _counts(org_id, now, key)
    else:
        # What the guest wrote at registration first, else what enrichment found.
        key = func.coalesce(Guest.company, GuestProfile.enriched_company)
        statement = _counts(org_id, now, key).outerjoin(
            GuestProfile,
            and_(
                GuestProfile.org_id == Guest.org_id,
                GuestProfile.normalized_email == Guest.normalized_email,
            ),
        )
    return [_tally(row[0] or UNKNOWN, row[1:]) for row in await session.execute(statement)]


async def org_history(
    session: AsyncSession, *, org_id: int, now: datetime, before: datetime | None, exclude: str
) -> History:
    """Mean attendance and no-show rates of the org's events that were over before `before`
    (other than `exclude`), each event weighing the same."""
    earlier = [
        tally
        for tally in await event_tallies(session, org_id=org_id, now=now)
        if tally.key != exclude
        and tally.approved_past
        and (before is None or (tally.start_at is not None and tally.start_at < before))
    ]
    if not earlier:
        return History(0, None, None)
    count = len(earlier)
    attendance = sum(t.attendance_rate or 0.0 for t in earlier) / count
    no_shows = sum(t.no_show_rate or 0.0 for t in earlier) / count
    return History(count, attendance, no_shows, earlier)


async def new_and_repeat(
    session: AsyncSession, *, org_id: int, luma_event_id: str, start_at: datetime | None
) -> tuple[int, int]:
    """Of the event's registered guests: how many are new, and how many registered for an
    earlier event of the org (the same person by normalized email)."""
    registered = Guest.approval_status.in_(REGISTERED_STATUSES)
    people = set(
        await session.scalars(
            select(Guest.normalized_email).where(
                Guest.org_id == org_id,
                Guest.luma_event_id == luma_event_id,
                Guest.gone_at.is_(None),
                registered,
            )
        )
    )
    if not people or start_at is None:
        return len(people), 0
    earlier = set(
        await session.scalars(
            select(Guest.normalized_email)
            .join(
                Event,
                and_(Event.org_id == Guest.org_id, Event.luma_event_id == Guest.luma_event_id),
            )
            .where(
                Guest.org_id == org_id,
                Guest.luma_event_id != luma_event_id,
                Guest.gone_at.is_(None),
                Event.start_at < start_at,
                registered,
                Guest.normalized_email.in_(people),
            )
        )
    )
    return len(people - earlier), len(earlier)
