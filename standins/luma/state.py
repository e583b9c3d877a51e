"""The simulator's whole world: calendars, events, guests, and what happened to them.

Everything lives in memory and is mutated only from the event loop, so each request's effect
is atomic. Besides the Luma data it keeps what tests need to judge a client: a log of every
accepted write, counters of requests and 429s, and the injected latency and faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from standins.luma import seed
from standins.luma.limits import RateLimiter
from standins.luma.model import (
    APPROVAL_STATUSES,
    ApiError,
    Calendar,
    ContactTag,
    Event,
    Guest,
    Organization,
    Person,
    SkippedTagging,
    Webhook,
    WriteRecord,
)
from standins.luma.paging import Page, paginate

GUEST_SORT_COLUMNS = ("name", "email", "created_at", "registered_at", "checked_in_at")
SORT_DIRECTIONS = ("asc", "desc", "asc nulls last", "desc nulls last")

Fault = Literal["error", "timeout"]
GuestListener = Callable[[str, Guest, Event], None]


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Seeded data sizes and the runtime knobs (limits, latency, faults, webhook).

    `rate_limit=None` lifts the limit. Fault rates are shares of admitted requests; a timeout
    makes the server sleep `hang_seconds` so the client's own timeout fires first.
    """

    seed: int = 42
    calendars: int = 2
    events_per_calendar: int = 12
    guests_per_event: int = 120
    # Organizations seeded after the calendars: each with its own organization key and
    # `calendars_per_organization` calendars (seeded like the others) that key opens.
    organizations: int = 0
    calendars_per_organization: int = 3
    now: datetime | None = None  # the seeded data's "now"; real time when None
    rate_limit: int | None = 200
    org_rate_limit: int | None = 500
    rate_window_seconds: float = 60.0
    rate_block_seconds: float = 60.0
    # False: answers announce nothing (no X-RateLimit-* headers; a 429 keeps Retry-After),
    # like a proxy that strips them; the limit still applies.
    rate_headers: bool = True
    latency_seconds: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    # False: a timed-out request changes nothing. True: the write lands, only the answer is
    # lost, which is the case a client's retries must survive without doubling effects.
    timeouts_apply_writes: bool = False
    webhook_url: str | None = None
    # False: like a calendar without Luma Plus, `/v2/webhooks/create` answers 403.
    webhooks_allowed: bool = True
    fault_seed: int | None = None  # defaults to `seed`


RUNTIME_FIELDS = frozenset(
    {
        "rate_limit",
        "org_rate_limit",
        "rate_window_seconds",
        "rate_block_seconds",
        "rate_headers",
        "latency_seconds",
        "error_rate",
        "timeout_rate",
        "hang_seconds",
        "timeouts_apply_writes",
        "webhook_url",
        "webhooks_allowed",
    }
)


@dataclass(frozen=True, slots=True)
class CalendarHandle:
    id: str
    api_key: str  # the calendar's own key
    name: str
    organization_id: str | None = None  # set when an organization key opens it too


@dataclass(frozen=True, slots=True)
class OrganizationHandle:
    """An organization, its organization key, and the calendars that key opens."""

    id: str
    api_key: str
    name: str
    calendars: list[CalendarHandle]


# Who a key authenticates: one calendar (a calendar key) or an organization (its key).
Principal = Calendar | Organization


@dataclass(frozen=True, slots=True)
class Admission:
    """An authenticated request that passed the rate limit, and the fault it is to suffer."""

    principal: Principal
    headers: dict[str, str] = field(default_factory=dict)
    fault: Fault | None = None


class SimulatorState:
    """Calendars with their data, plus the write log, counters, limits and faults."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.now = seed.as_epoch(self.config.now, seed.utc_now())
        self.writes: list[WriteRecord] = []
        self.counters: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.listeners: list[GuestListener] = []
        self.webhooks: dict[str, Webhook] = {}  # by id; registered through the API
        self.contact_tags: dict[str, ContactTag] = {}  # by id; made through the API
        self.skipped_taggings: list[SkippedTagging] = []
        self._calendars: dict[str, Calendar] = {}
        self._organizations: dict[str, Organization] = {}
        self._by_key: dict[str, Principal] = {}
        self._events: dict[str, Event] = {}
        self._rng = random.Random(f"{self.config.seed}/calendars")
        self._runtime_rng = random.Random(f"{self.config.seed}/runtime")
        fault_seed = self.config.seed if self.config.fault_seed is None else self.config.fault_seed
        self._fault_rng = random.Random(fault_seed)
        self._limiter = RateLimiter()
        self._release = asyncio.Event()
        for _ in range(self.config.calendars):
            self.add_calendar(
                events=self.config.events_per_calendar,
                guests_per_event=self.config.guests_per_event,
            )
        for _ in range(self.config.organizations):
            self.add_organization(
                calendars=self.config.calendars_per_organization,
                events=self.config.events_per_calendar,
                guests_per_event=self.config.guests_per_event,
            )

    # --- building data -----------------------------------------------------------------

    def add_calendar(
        self,
        name: str | None = None,
        *,
        events: int = 0,
        guests_per_event: int | None = None,
        own_owner: bool = False,
        organization_id: str | None = None,
    ) -> CalendarHandle:
        """A calendar with its own key and `events` seeded events around `now`.

        Like a real Luma user running a calendar per city or brand, one person owns every
        calendar of the simulator (get-self answers the same user for each key) unless
        `own_owner` gives the new calendar a person of its own. A calendar of an organization
        (`organization_id`) is owned by the organization's owner, and its key opens it too."""
        organization = self._organizations.get(organization_id) if organization_id else None
        if organization_id and organization is None:
            raise ApiError(404, f"Unknown organization {organization_id}")
        calendar = seed.new_calendar(self._rng, len(self._calendars), name, self.now)
        if organization is not None:
            calendar.owner, calendar.organization_id = organization.owner, organization.id
            organization.calendar_ids.append(calendar.id)
        elif self._calendars and not own_owner:
            calendar.owner = next(iter(self._calendars.values())).owner
        self._calendars[calendar.id] = calendar
        self._by_key[calendar.api_key] = calendar
        per_event = self.config.guests_per_event if guests_per_event is None else guests_per_event
        plan_rng = random.Random(f"{self.config.seed}/{calendar.id}/plan")
        for index in range(events):
            plan = seed.seeded_event_plan(plan_rng, index, events, self.now)
            self.add_event(
                calendar.id,
                name=plan.name,
                city=plan.city.name,
                start_at=plan.start_at,
                guests=round(per_event * plan_rng.uniform(0.6, 1.4)),
                status_mix=plan.status_mix,
                paid_share=plan.paid_share,
                duration_hours=plan.duration_hours,
            )
        return _handle(calendar)

    def add_organization(
        self,
        name: str | None = None,
        *,
        calendars: int = 3,
        events: int = 0,
        guests_per_event: int | None = None,
    ) -> OrganizationHandle:
        """An organization with its organization key (500 requests a minute for all of it)
        and `calendars` calendars, each seeded with `events` events and a key of its own."""
        if calendars < 0:
            raise ApiError(400, "calendars must be >= 0")
        name = name or f"Organization {len(self._organizations) + 1}"
        organization = seed.new_organization(self._rng, name, self.now)
        self._organizations[organization.id] = organization
        self._by_key[organization.api_key] = organization
        for _ in range(calendars):
            self.add_calendar(
                events=events, guests_per_event=guests_per_event, organization_id=organization.id
            )
        return self._org_handle(organization)

    def add_event(
        self,
        calendar_id: str,
        *,
        name: str | None = None,
        city: str | None = None,
        start_at: datetime | float | None = None,
        guests: int = 0,
        status_mix: Mapping[str, float] | None = None,
        paid_share: float = 0.0,
        checked_in_share: float | None = None,
        repeat_share: float = 0.3,
        duration_hours: float = 2.5,
    ) -> str:
        """An event with exactly `guests` guests in exactly the proportions of `status_mix`.

        Default start is two weeks after `now`; past events get 60% of approved guests checked
        in unless `checked_in_share` says otherwise. Returns the event id.
        """
        calendar = self._calendars.get(calendar_id)
        if calendar is None:
            raise ApiError(404, f"Unknown calendar {calendar_id}")
        if guests < 0 or not 0 <= paid_share <= 1:
            raise ApiError(400, "guests must be >= 0 and paid_share within 0..1")
        rng = random.Random(f"{self.config.seed}/{calendar.id}/event/{calendar.event_counter}")
        calendar.event_counter += 1
        start = seed.as_epoch(start_at, self.now + 14 * seed.DAY)
        event = seed.new_event(
            rng,
            calendar,
            now=self.now,
            name=name,
            city=seed.find_city(city, rng),
            start_at=start,
            duration_hours=duration_hours,
        )
        seed.fill_guests(
            rng,
            calendar,
            event,
            now=self.now,
            total=guests,
            status_mix=status_mix or seed.MIX_OPEN,
            paid_share=paid_share,
            checked_in_share=0.6 if checked_in_share is None else checked_in_share,
            repeat_share=repeat_share,
        )
        calendar.events[event.id] = event
        self._events[event.id] = event
        return event.id

    @property
    def calendars(self) -> list[CalendarHandle]:
        return [_handle(calendar) for calendar in self._calendars.values()]

    @property
    def organizations(self) -> list[OrganizationHandle]:
        return [self._org_handle(organization) for organization in self._organizations.values()]

    def calendar(self, calendar_id: str) -> Calendar:
        return self._calendars[calendar_id]

    def organization(self, organization_id: str) -> Organization:
        return self._organizations[organization_id]

    def calendars_of(self, organization: Organization) -> list[Calendar]:
        return [self._calendars[calendar_id] for calendar_id in organization.calendar_ids]

    def _org_handle(self, organization: Organization) -> OrganizationHandle:
        calendars = [_handle(calendar) for calendar in self.calendars_of(organization)]
        return OrganizationHandle(
            organization.id, organization.api_key, organization.name, calendars
        )

    def event(self, event_id: str) -> Event:
        return self._events[event_id]

    # --- runtime knobs ----------------------------------------------------------------

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change limits, latency, faults or the webhook URL while serving."""
        unknown = set(changes) - RUNTIME_FIELDS
        if unknown:
            raise ApiError(400, f"Not changeable at runtime: {sorted(unknown)}")
        url = changes.get("webhook_url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise ApiError(400, "webhook_url must be an http(s) URL")
        self.config = dataclasses.replace(self.config, **changes)
        return self.config

    def reset_rate_limits(self) -> None:
        """Forget all windows and blocks, e.g. between benchmark phases."""
        self._limiter.reset()

    def writes_since(self, seq: int = 0) -> list[WriteRecord]:
        return self.writes[seq:]

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "rate_limited": sum(self.rate_limited.values()),
            "rate_limited_by_calendar": dict(self.rate_limited),
            "unauthorized": self.counters["unauthorized"],
            "injected_errors": self.counters["injected_errors"],
            "injected_timeouts": self.counters["injected_timeouts"],
            "writes": len(self.writes),
            "webhooks_sent": self.counters["webhooks_sent"],
            "webhooks_failed": self.counters["webhooks_failed"],
            "webhooks_registered": len(self.webhooks),
        }

    # --- admission: auth, rate limit, faults --------------------------------------------

    def admit(self, api_key: str | None) -> Admission:
        """Authenticate, count and rate-limit a request, and decide its fault up front.

        Deciding before the handler runs is what guarantees an injected 500 never leaves a
        half-applied write behind.
        """
        principal = self._by_key.get(api_key) if api_key else None
        if principal is None:
            self.counters["unauthorized"] += 1
            message = "Invalid API key" if api_key else "Missing x-luma-api-key header"
            raise ApiError(401, message)
        self.requests[principal.id] += 1
        config = self.config
        org_key = isinstance(principal, Organization)
        limit = config.org_rate_limit if org_key else config.rate_limit
        headers: dict[str, str] = {}
        if limit is not None:
            # Luma counts a calendar key per calendar, an organization key per organization:
            # every calendar reached through the key shares its 500 a minute.
            bucket = f"org:{principal.id}" if org_key else principal.id
            decision = self._limiter.check(
                bucket, limit, config.rate_window_seconds, config.rate_block_seconds
            )
            headers = decision.headers
            if not config.rate_headers:
                headers = {k: v for k, v in headers.items() if k == "Retry-After"}
            if not decision.allowed:
                self.rate_limited[principal.id] += 1
                raise ApiError(429, "Rate limit exceeded, retry later", headers)
        draw = self._fault_rng.random()
        fault: Fault | None = None
        if draw < config.error_rate:
            fault = "error"
            self.counters["injected_errors"] += 1
        elif draw < config.error_rate + config.timeout_rate:
            fault = "timeout"
            self.counters["injected_timeouts"] += 1
        return Admission(principal=principal, headers=headers, fault=fault)

    async def hang(self) -> None:
        """Sleep like a stuck server, but let `release_hangs` end it for a quick shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.config.hang_seconds)

    def release_hangs(self) -> None:
        self._release.set()

    def arm_hangs(self) -> None:
        self._release.clear()

    # --- reads ----------------------------------------------------------------------------

    def event_for(self, principal: Principal, event_id: str | None) -> Event:
        """An event the key manages: its calendar's, or for an organization key one of its
        calendars'; any other event is as unknown as a made-up id."""
        if not event_id:
            raise ApiError(400, "Missing event id")
        event = self._events.get(event_id)
        managed = principal.calendar_ids if isinstance(principal, Organization) else (principal.id,)
        if event is None or event.calendar_id not in managed:
            raise ApiError(404, f"Event {event_id} not found")
        return event

    def list_events(
        self,
        principal: Principal,
        *,
        after: float | None,
        before: float | None,
        descending: bool,
        cursor: str | None,
        limit: int,
    ) -> Page[Event]:
        """A calendar's events, or every event of an organization's calendars."""
        calendars = (
            self.calendars_of(principal) if isinstance(principal, Organization) else [principal]
        )
        events = sorted(
            (
                e
                for calendar in calendars
                for e in calendar.events.values()
                if (after is None or e.start_at > after) and (before is None or e.start_at < before)
            ),
            key=lambda e: (e.start_at, e.id),
        )
        keys = [(e.start_at, e.id) for e in events]
        return paginate(keys, events, cursor, limit, descending=descending)

    def list_guests(
        self,
        event: Event,
        *,
        status: str | None,
        column: str,
        direction: str,
        cursor: str | None,
        limit: int,
    ) -> Page[Guest]:
        if status is not None and status not in APPROVAL_STATUSES:
            raise ApiError(400, f"approval_status must be one of {list(APPROVAL_STATUSES)}")
        if column not in GUEST_SORT_COLUMNS:
            raise ApiError(400, f"sort_column must be one of {list(GUEST_SORT_COLUMNS)}")
        if direction not in SORT_DIRECTIONS:
            raise ApiError(400, f"sort_direction must be one of {list(SORT_DIRECTIONS)}")
        descending = direction.startswith("desc")
        # Nulls sort last ascending; descending they come first unless "nulls last" is asked.
        null_rank = -1 if direction == "desc nulls last" else 1
        keys, guests = _sorted_guests(event, status, column, null_rank)
        return paginate(keys, guests, cursor, limit, descending=descending)

    def guest_for(self, event: Event, ref: str | None) -> Guest:
        """A guest by id (`gst-…`) or by email, the two references Luma accepts."""
        if not ref:
            raise ApiError(400, "Missing guest id or email")
        guest = event.guests.get(ref) or event.by_email.get(ref.strip().lower())
        if guest is None:
            raise ApiError(404, f"Guest {ref} not found in event {event.id}")
        return guest

    def list_people(
        self, calendar: Calendar, *, query: str | None, cursor: str | None, limit: int
    ) -> Page[Person]:
        # The pool is append-only, so the position is a stable cursor key.
        indexed = list(enumerate(calendar.people))
        if query:
            needle = query.casefold()
            indexed = [
                (i, p) for i, p in indexed if needle in p.email or needle in p.name.casefold()
            ]
        return paginate([(i,) for i, _ in indexed], [p for _, p in indexed], cursor, limit)

    # --- writes ---------------------------------------------------------------------------

    def update_guest_status(
        self,
        calendar: Calendar,
        event: Event,
        guest: Guest,
        status: str,
        *,
        should_refund: bool | None,
        path: str,
    ) -> None:
        if status not in APPROVAL_STATUSES:
            raise ApiError(400, f"Invalid status {status!r}")
        if status == "declined" and guest.paid and should_refund is None:
            raise ApiError(
                400,
                "Guest has a paid ticket: declining requires an explicit should_refund "
                "(true or false)",
            )
        old = guest.approval_status
        guest.approval_status = status
        guest.updated_at = time.time()
        if status == "declined" and should_refund and guest.ticket is not None:
            guest.ticket.refunded = True
        event.version += 1
        self._log("update-guest-status", path, calendar, guest, old, should_refund)
        if old != status:
            self._emit("guest.updated", guest, event)

    def add_guests(
        self,
        calendar: Calendar,
        event: Event,
        entries: list[tuple[str, str | None]],
        *,
        status: str,
        path: str,
    ) -> None:
        """Add guests (approved, or pending / wait-listed on request) or invitations
        (`invited`); people already on the list are left as is."""
        endpoint = "send-invites" if status == "invited" else "add-guests"
        now = time.time()
        for email, name in entries:
            existing = event.by_email.get(email)
            if existing is not None:
                self._log(endpoint, path, calendar, existing, existing.approval_status, None)
                continue
            person = calendar.people_by_email.get(email) or self._new_person(
                calendar, email, name, now
            )
            guest = Guest(
                id=seed.new_id(self._runtime_rng, "gst"),
                event_id=event.id,
                person=person,
                approval_status=status,
                created_at=now,
                updated_at=now,
                registered_at=now if status != "invited" else None,
                invited_at=now if status == "invited" else None,
                checked_in_at=None,
                answered=False,
                ticket=None,
                utm_source=None,
            )
            event.add_guest(guest)
            calendar.link(guest)
            self._log(endpoint, path, calendar, guest, None, None)
            if status != "invited":
                self._emit("guest.registered", guest, event)

    def _new_person(self, calendar: Calendar, email: str, name: str | None, at: float) -> Person:
        first, _, last = (name or email.split("@")[0]).strip().partition(" ")
        person = Person(
            id=seed.new_id(self._runtime_rng, "usr"),
            email=email,
            first_name=first,
            last_name=last,
            created_at=at,
            company=None,
            job_title=None,
            linkedin_url=None,
        )
        calendar.add_person(person)
        return person

    def _log(
        self,
        endpoint: str,
        path: str,
        calendar: Calendar,
        guest: Guest,
        old: str | None,
        should_refund: bool | None,
    ) -> None:
        self.writes.append(
            WriteRecord(
                seq=len(self.writes),
                endpoint=endpoint,
                path=path,
                calendar_id=calendar.id,
                event_id=guest.event_id,
                guest_id=guest.id,
                email=guest.person.email,
                old_status=old,
                new_status=guest.approval_status,
                should_refund=should_refund,
                at=time.time(),
            )
        )

    def _emit(self, kind: str, guest: Guest, event: Event) -> None:
        for listener in self.listeners:
            listener(kind, guest, event)

    # --- persistence (the demo keeps its Luma side across restarts; see persist.py) -------

    def data_snapshot(self) -> dict[str, Any]:
        """The Luma data and the id generators' positions, without runtime counters."""
        return {
            "calendars": list(self._calendars.values()),
            "organizations": list(self._organizations.values()),
            "rng": self._rng.getstate(),
            "runtime_rng": self._runtime_rng.getstate(),
        }

    def load_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Replace the seeded data with a snapshot's, so new ids never repeat old ones."""
        calendars: list[Calendar] = snapshot["calendars"]
        organizations: list[Organization] = snapshot["organizations"]
        self._calendars = {calendar.id: calendar for calendar in calendars}
        self._organizations = {organization.id: organization for organization in organizations}
        principals: list[Principal] = [*calendars, *organizations]
        self._by_key = {principal.api_key: principal for principal in principals}
        self._events = {
            event.id: event for calendar in calendars for event in calendar.events.values()
        }
        self._rng.setstate(snapshot["rng"])
        self._runtime_rng.setstate(snapshot["runtime_rng"])


def _handle(calendar: Calendar) -> CalendarHandle:
    return CalendarHandle(calendar.id, calendar.api_key, calendar.name, calendar.organization_id)


def _sort_value(guest: Guest, column: str) -> Any:
    if column == "name":
        return guest.person.name.casefold()
    if column == "email":
        return guest.person.email
    return getattr(guest, column)


def _sorted_guests(
    event: Event, status: str | None, column: str, null_rank: int
) -> tuple[list[tuple[Any, ...]], list[Guest]]:
    """Guests in ascending key order, cached until the event's guests change."""
    cache_key = (status, column, null_rank)
    cached = event.sort_cache.get(cache_key)
    if cached is not None and cached[0] == event.version:
        return cached[1], cached[2]
    rows = []
    for guest in event.guests.values():
        if status is not None and guest.approval_status != status:
            continue
        value = _sort_value(guest, column)
        key = (0, value, guest.id) if value is not None else (null_rank, 0, guest.id)
        rows.append((key, guest))
    rows.sort(key=lambda row: row[0])
    keys, guests = [row[0] for row in rows], [row[1] for row in rows]
    event.sort_cache[cache_key] = (event.version, keys, guests)
    return keys, guests
