"""The simulator's in-memory records, kept independent of either JSON generation.

Timestamps are epoch seconds (floats): generating 50,000 guests must stay fast, and floats sort
and compare cheaply; the shapes module turns them into Luma's ISO strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

APPROVAL_STATUSES = ("approved", "session", "pending_approval", "invited", "declined", "waitlist")
# Statuses a guest reaches by registering (an invited row has not registered yet).
REGISTERED_STATUSES = frozenset(APPROVAL_STATUSES) - {"invited"}


class ApiError(Exception):
    """A Luma-style error response: an HTTP status and a `{"message": ...}` body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str
    country: str
    timezone: str
    latitude: float
    longitude: float
    venue: str
    address: str
    currency: str


@dataclass(slots=True)
class Person:
    """Someone in a calendar's contact pool; the same person recurs across events."""

    id: str
    email: str
    first_name: str
    last_name: str
    created_at: float
    company: str | None
    job_title: str | None
    linkedin_url: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(slots=True)
class Ticket:
    id: str
    type_id: str
    name: str
    amount: int  # minor units (cents); zero for a free ticket
    currency: str
    amount_discount: int = 0
    amount_tax: int = 0
    refunded: bool = False


@dataclass(slots=True)
class Guest:
    id: str
    event_id: str
    person: Person
    approval_status: str
    created_at: float
    updated_at: float
    registered_at: float | None
    invited_at: float | None
    checked_in_at: float | None
    answered: bool  # filled the registration form (invited rows have not)
    ticket: Ticket | None
    utm_source: str | None

    @property
    def paid(self) -> bool:
        return self.ticket is not None and self.ticket.amount > 0 and not self.ticket.refunded


@dataclass(frozen=True, slots=True)
class Tag:
    id: str
    name: str


@dataclass(slots=True)
class Event:
    id: str
    calendar_id: str
    host_user_id: str
    name: str
    description: str
    city: City
    start_at: float
    end_at: float
    created_at: float
    updated_at: float
    slug: str
    visibility: str
    tags: list[Tag]
    question_ids: tuple[str, str, str]  # company, job title, LinkedIn
    guests: dict[str, Guest] = field(default_factory=dict)
    by_email: dict[str, Guest] = field(default_factory=dict)
    # Bumped on every guest change, so cached sort orders know they are stale.
    version: int = 0
    sort_cache: dict[tuple[Any, ...], tuple[int, list[Any], list[Guest]]] = field(
        default_factory=dict
    )

    def add_guest(self, guest: Guest) -> None:
        self.guests[guest.id] = guest
        self.by_email[guest.person.email] = guest
        self.version += 1


@dataclass(slots=True)
class Calendar:
    id: str
    name: str
    api_key: str
    owner: Person
    organization_id: str | None = None  # the Luma organization the calendar belongs to
    events: dict[str, Event] = field(default_factory=dict)
    # The contact pool: append-only, so a position in it is a stable pagination cursor.
    people: list[Person] = field(default_factory=list)
    people_by_email: dict[str, Person] = field(default_factory=dict)
    guests_by_person: dict[str, list[Guest]] = field(default_factory=dict)
    event_counter: int = 0

    def add_person(self, person: Person) -> None:
        self.people.append(person)
        self.people_by_email[person.email] = person

    def link(self, guest: Guest) -> None:
        self.guests_by_person.setdefault(guest.person.id, []).append(guest)


@dataclass(slots=True)
class Organization:
    """A Luma organization: several calendars and one organization key that opens them all.

    The spec names no organization id in any answer; `id` is the simulator's own, for its
    rate limit and its control endpoints."""

    id: str
    name: str
    api_key: str
    owner: Person
    calendar_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One accepted write, as tests need it to prove effects happened exactly once."""

    seq: int
    endpoint: str  # update-guest-status | add-guests | send-invites
    path: str
    calendar_id: str
    event_id: str
    guest_id: str
    email: str
    old_status: str | None
    new_status: str
    should_refund: bool | None
    at: float

    @property
    def changed(self) -> bool:
        return self.old_status != self.new_status


@dataclass(slots=True)
class Webhook:
    """A webhook endpoint a calendar's key registered (`/v2/webhooks/create`)."""

    id: str
    calendar_id: str
    url: str
    event_types: list[str]
    status: str  # active | paused
    secret: str  # "whsec_…": the HMAC key, used as the string it is
    created_at: float

    def wants(self, kind: str) -> bool:
        return self.status == "active" and ("*" in self.event_types or kind in self.event_types)


@dataclass(slots=True)
class ContactTag:
    """A tag on a calendar's contacts (`/v1/calendars/contact-tags/...`) and the contacts'
    emails that carry it."""

    id: str
    calendar_id: str
    name: str
    color: str
    emails: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class SkippedTagging:
    """An email a contact tag was applied to that is not one of the calendar's contacts:
    Luma skips it (it never creates a contact there); tests read what was skipped."""

    calendar_id: str
    tag_id: str
    email: str
