"""A person as the organizer sees them: profile, our tags and notes, VIP score, repeat count.

A **repeat guest** is a person (one identity key) who registered — any registered status:
approved, pending, waitlist or declined; invitations alone do not count — for at least
`REPEAT_MIN_EVENTS` (default 2) distinct events of the org that are still in the cache.
Their repeat count is that number of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from intel.vip import PersonFacts, VipRules, VipScore, score
from luma.emails import email_domain
from luma.models import REGISTERED_STATUSES
from store.models import Event, Guest, GuestNote, GuestProfile, utcnow
from store.profiles import company_of, notes_for, profiles_for, tags_for


@dataclass
class Insight:
    """Everything we know about one person of one org beyond a single guest row."""

    key: str
    profile: GuestProfile | None
    tags: list[str]
    notes: list[GuestNote]
    vip: VipScore
    repeat: bool
    company: str | None = None
    company_source: str | None = None

    @property
    def repeat_count(self) -> int:
        return self.profile.events_registered if self.profile else 0


@dataclass
class Person:
    """One registration (guest row and its event) with its person's insight."""

    guest: Guest
    event: Event
    insight: Insight


@dataclass
class EventPeople:
    """The registered guests of some events, each with their insight."""

    people: list[Person] = field(default_factory=list)

    def vips(self) -> list[Person]:
        chosen = [person for person in self.people if person.insight.vip.is_vip]
        return sorted(chosen, key=lambda p: (-p.insight.vip.score, p.guest.name.lower()))

    def repeats(self) -> list[Person]:
        chosen = [person for person in self.people if person.insight.repeat]
        return sorted(
            chosen, key=lambda p: (-p.insight.repeat_count, p.guest.name.lower(), p.insight.key)
        )

    def repeat_people(self) -> list[PersonEvents]:
        """Repeat guests once each (not once per event), with the listed events they are
        registered for, most events first, then by name."""
        people: dict[str, PersonEvents] = {}
        for person in self.repeats():
            found = people.setdefault(
                person.insight.key, PersonEvents(person.guest, person.insight, [])
            )
            if all(e.luma_event_id != person.event.luma_event_id for e in found.events):
                found.events.append(person.event)
        for found in people.values():
            found.events.sort(key=lambda e: (e.start_at is None, e.start_at, e.name))
        return list(people.values())  # repeats() already ordered them


@dataclass
class PersonEvents:
    """One person (a guest row of theirs, for name and email) and the events listed for them."""

    guest: Guest
    insight: Insight
    events: list[Event]


def insight_of(
    key: str,
    profile: GuestProfile | None,
    tags: list[str],
    notes: list[GuestNote],
    rules: VipRules,
) -> Insight:
    company, source = company_of(profile) if profile else (None, None)
    facts = PersonFacts(
        attended=profile.events_attended if profile else 0,
        no_shows=profile.no_shows if profile else 0,
        tags=tuple(tags),
        company=company,
        domain=email_domain(key),
        seniority=profile.seniority if profile else None,
    )
    registered = profile.events_registered if profile else 0
    return Insight(
        key=key,
        profile=profile,
        tags=tags,
        notes=notes,
        vip=score(facts, rules),
        repeat=registered >= rules.repeat_min_events,
        company=company,
        company_source=source,
    )


async def insights_for(
    session: AsyncSession,
    *,
    org_id: int,
    emails: Iterable[str],
    rules: VipRules,
    with_notes: bool = True,
) -> dict[str, Insight]:
    """Insights by identity key for the given people of one org (unknown people get an
    empty profile, so every key asked for is answered)."""
    keys = set(emails)
    profiles = await profiles_for(session, org_id=org_id, emails=keys)
    tags = await tags_for(session, org_id=org_id, emails=keys)
    notes = await notes_for(session, org_id=org_id, emails=keys) if with_notes else {}
    return {
        key: insight_of(key, profiles.get(key), tags.get(key, []), notes.get(key, []), rules)
        for key in keys
    }


async def upcoming_events(session: AsyncSession, *, org_id: int) -> Sequence[Event]:
    """Live events not over yet: where "VIPs pending approval" without an event looks."""
    now = utcnow()
    rows = await session.scalars(
        select(Event)
        .where(
            Event.org_id == org_id,
            Event.gone_at.is_(None),
            or_(Event.end_at.is_(None), Event.end_at >= now),
        )
        .order_by(Event.start_at)
    )
    return rows.all()


async def event_people(
    session: AsyncSession,
    *,
    org_id: int,
    events: Sequence[Event],
    rules: VipRules,
    status: str | None = None,
) -> EventPeople:
    """The registered guests (or those in `status`) of `events`, with their insights."""
    by_id = {event.luma_event_id: event for event in events}
    if not by_id:
        return EventPeople()
    statuses = [status] if status else list(REGISTERED_STATUSES)
    guests = (
        await session.scalars(
            select(Guest).where(
                Guest.org_id == org_id,
                Guest.luma_event_id.in_(list(by_id)),
                Guest.gone_at.is_(None),
                Guest.approval_status.in_(statuses),
            )
        )
    ).all()
    insights = await insights_for(
        session,
        org_id=org_id,
        emails=[guest.normalized_email for guest in guests],
        rules=rules,
        with_notes=False,
    )
    return EventPeople(
        [
            Person(guest, by_id[guest.luma_event_id], insights[guest.normalized_email])
            for guest in guests
        ]
    )
