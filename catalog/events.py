"""Event listings, fuzzy event names and per-event summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, process, utils
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luma.models import APPROVED_STATUSES, REGISTERED_STATUSES
from store import cache
from store.models import Event, Guest

When = Literal["upcoming", "past"]
# Scores (0-100) for fuzzy names: below MATCH nothing matches; within CLOSE of the best,
# another event is a real alternative and the user is asked which one.
MATCH = 60
CLOSE = 4


@dataclass
class EventFilter:
    when: When | None = None
    city: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    timezone: str = "UTC"
    limit: int = 50


Resolution = Literal["exact", "rule", "ambiguous", "none"]
# Reads on a name several events share take the next upcoming one, else the latest past one.
NEXT_ONE = "the next one"
LATEST_ONE = "the most recent one"


@dataclass
class EventMatch:
    """The event a phrase names, or the candidates to choose from.

    `how` says which: `exact` (one event fits), `rule` (several share the name; `rule` says
    which one was taken and `others` how many were not), `ambiguous` (the user must choose
    among `candidates`) or `none`.
    """

    event: Event | None
    candidates: list[Event] = field(default_factory=list)
    how: Resolution = "exact"
    rule: str | None = None
    others: int = 0

    @property
    def ambiguous(self) -> bool:
        return self.how == "ambiguous"


@dataclass
class EventCounts:
    event: Event
    by_status: dict[str, int]
    checked_in: int

    @property
    def registered(self) -> int:
        return sum(self.by_status.get(status, 0) for status in REGISTERED_STATUSES)

    @property
    def approved(self) -> int:
        return sum(self.by_status.get(status, 0) for status in APPROVED_STATUSES)

    @property
    def pending(self) -> int:
        return self.by_status.get("pending_approval", 0)

    @property
    def attendance_rate(self) -> float | None:
        return self.checked_in / self.approved if self.approved else None


def _day_bounds(day: date, zone: str, *, end: bool) -> datetime:
    moment = datetime.combine(day + timedelta(days=1) if end else day, time(), ZoneInfo(zone))
    return moment


async def list_events(
    session: AsyncSession, *, org_id: int, query: EventFilter, now: datetime
) -> Sequence[Event]:
    after = _day_bounds(query.date_from, query.timezone, end=False) if query.date_from else None
    before = _day_bounds(query.date_to, query.timezone, end=True) if query.date_to else None
    if query.when == "upcoming":
        after = max(after, now) if after else now
    elif query.when == "past":
        before = min(before, now) if before else now
    events = await cache.list_events(
        session, org_id=org_id, starts_after=after, starts_before=before
    )
    if query.city:
        wanted = query.city.casefold()
        events = [e for e in events if e.city and e.city.casefold() == wanted]
    if query.when == "past":
        events = list(reversed(events))  # most recent first
    return list(events)[: query.limit]


def resolve_event(
    events: Sequence[Event], words: str, *, now: datetime, writes: bool = False
) -> EventMatch:
    """The event `words` names: exact id or name first, then the best fuzzy match.

    Several events with the same name (a series repeated every year or city) are never picked
    silently: a read takes the next upcoming one (else the most recent past one) and the match
    says so; a write (`writes=True`) is ambiguous, so the user chooses.
    """
    cleaned = words.strip().strip("\"'“”‘’").strip()
    if not cleaned:
        return EventMatch(None, [], "none")
    for event in events:
        if cleaned == event.luma_event_id:
            return EventMatch(event, [event])
    named = [
        event
        for event in events
        if cleaned == event.name or cleaned.casefold() == event.name.casefold()
    ]
    if named:
        return _one_of(named, now=now, writes=writes)
    scored = process.extract(
        cleaned,
        {index: event.name for index, event in enumerate(events)},
        scorer=_name_score,
        processor=utils.default_process,
        limit=5,
    )
    hits = [(events[index], score) for _, score, index in scored if score >= MATCH]
    if not hits:
        return EventMatch(None, [], "none")
    best_score = hits[0][1]
    close = [event for event, score in hits if best_score - score <= CLOSE]
    if len({event.name.casefold() for event in close}) == 1:
        # One name (perhaps shared): all events bearing it are the candidates.
        name = close[0].name.casefold()
        return _one_of(
            [event for event in events if event.name.casefold() == name], now=now, writes=writes
        )
    return EventMatch(None, close, "ambiguous")


def _one_of(same_name: list[Event], *, now: datetime, writes: bool) -> EventMatch:
    """One event if only one bears the name; otherwise the rule (reads) or a choice (writes)."""
    if len(same_name) == 1:
        return EventMatch(same_name[0], same_name)
    upcoming = sorted(
        (e for e in same_name if e.start_at is not None and e.start_at >= now),
        key=lambda e: e.start_at or now,
    )
    past = sorted(
        (e for e in same_name if e.start_at is not None and e.start_at < now),
        key=lambda e: e.start_at or now,
        reverse=True,
    )
    undated = [e for e in same_name if e.start_at is None]
    ordered = upcoming + past + undated  # the order the choice buttons follow too
    if writes:
        return EventMatch(None, ordered, "ambiguous")
    if upcoming:
        return EventMatch(upcoming[0], ordered, "rule", NEXT_ONE, len(same_name) - 1)
    if past:
        return EventMatch(past[0], ordered, "rule", LATEST_ONE, len(same_name) - 1)
    return EventMatch(None, ordered, "ambiguous")


def _name_score(query: str, name: str, **_: object) -> float:
    """Whole-word overlap (token set) tempered by WRatio's typo and partial matching.

    Token set alone calls "lisbon workshop" equally close to every "... Workshop"; WRatio
    alone ties them too; their mean separates the event named from its siblings.
    """
    return (fuzz.token_set_ratio(query, name) + fuzz.WRatio(query, name)) / 2


async def event_counts(session: AsyncSession, *, org_id: int, event: Event) -> EventCounts:
    by_status = await cache.count_by_status(
        session, org_id=org_id, luma_event_id=event.luma_event_id
    )
    checked_in = await session.scalar(
        select(func.count()).where(
            Guest.org_id == org_id,
            Guest.luma_event_id == event.luma_event_id,
            Guest.gone_at.is_(None),
            Guest.checked_in_at.is_not(None),
        )
    )
    return EventCounts(event, by_status, checked_in or 0)
