"""Luma's published OpenAPI spec is the contract, for the simulator and for the client.

1. The product's own client drives the simulator through every operation the product uses;
   every request it sends and every answer it gets, recorded at the simulator's door, is
   validated against the spec (answers against the 200 schema, bodies against requestBody,
   queries against the declared parameters).
2. A field the product reads that the spec does not define is a failing test: the client's
   readers are fed spec-shaped answers whose every object records the keys looked up in it.
3. The client's parsing is checked on hand-written spec shapes, including the answers it must
   refuse (`has_more` without a `next_cursor`).
4. The simulator refuses (400) the bodies and queries the spec refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activities.sync import event_row, guest_row
from core.http_server import serving
from luma import BadRequestError, LumaClient, LumaGuest, LumaPool, LumaProtocolError, NotFoundError
from luma.client import (
    CONTACT_TAG_BATCH,
    READERS,
    next_cursor,
    read_event,
    read_event_page,
    read_guest,
)
from luma.paths import CURRENT, Endpoint
from luma.ratelimit import ORGANIZATION_KEY
from standins.luma import SimulatorState
from tests.contract import examples
from tests.contract.conftest import Exchange, RecordedSimulator
from tests.contract.openapi import (
    KeyReads,
    body_schema,
    is_valid,
    optional_dropped,
    problems,
    query_problems,
    response_schema,
    spec,
    undefined_reads,
)

ROUTES = {endpoint: (CURRENT.method(endpoint), path) for endpoint, path in CURRENT.routes.items()}


def test_the_spec_is_the_published_one() -> None:
    document = spec()
    assert document["openapi"].startswith("3.1")
    assert sum(len(ops) for ops in document["paths"].values()) == 62
    for method, path in ROUTES.values():
        assert method.lower() in document["paths"][path], (method, path)


# --- 1. every request and answer of a real session, validated -----------------------------


@pytest.fixture(scope="module")
async def session(recorded_sim: RecordedSimulator) -> list[Exchange]:
    """Every exchange of the product's client using each operation it has, with data that
    exercises what the product reads: past events with check-ins and paid tickets, an
    upcoming gated event, several pages; then through an organization key."""
    state, recorder = recorded_sim.state, recorded_sim.recorder
    calendar = state.add_calendar()
    now = datetime.fromtimestamp(state.now, UTC)
    past = state.add_event(
        calendar.id,
        name="Founders Dinner",
        start_at=now - timedelta(days=10),
        guests=140,
        status_mix={"approved": 0.7, "invited": 0.2, "declined": 0.1},
        paid_share=0.5,
        checked_in_share=0.7,
    )
    upcoming = state.add_event(
        calendar.id,
        start_at=now + timedelta(days=14),
        guests=30,
        status_mix={"pending_approval": 12, "approved": 12, "waitlist": 6},
        paid_share=1.0,
    )
    state.add_event(calendar.id, start_at=now + timedelta(days=30), guests=5)
    first = len(recorder.exchanges)
    async with LumaPool(recorded_sim.base_url, max_retries=0) as pool:
        luma = pool.client(calendar.api_key, budget_key=calendar.id)
        await _use_every_operation(luma, past, upcoming, now)
        await _use_an_organization_key(pool, state, now)
    return recorder.exchanges[first:]


async def _use_an_organization_key(pool: LumaPool, state: SimulatorState, now: datetime) -> None:
    """A tenant on one calendar of an organization key: the organization's routes (more
    than a page of events), its own events and guests, and nothing of the sister calendar's."""
    organization = state.add_organization("Builders Org", calendars=2)
    berlin, lisbon = organization.calendars
    for day in range(1, 111):  # 110 events without guests: the organization lists two pages
        state.add_event((berlin, lisbon)[day % 2].id, start_at=now + timedelta(days=day))
    mine = state.add_event(berlin.id, guests=12, status_mix={"pending_approval": 1.0})
    theirs = state.add_event(lisbon.id, guests=3)
    luma = pool.tenant_client(
        organization.api_key, calendar_id=berlin.id, key_kind=ORGANIZATION_KEY
    )
    assert [c.id for c in await luma.list_org_calendars()] == [berlin.id, lisbon.id]
    assert (await luma.get_calendar()).name == berlin.name
    assert len([e async for e in luma.iter_org_events()]) == 112
    own = [e async for e in luma.iter_events(after=now - timedelta(days=1))]
    assert len(own) == 56 and {e.calendar_id for e in own} == {berlin.id}
    page = await luma.list_events_page(limit=10)
    assert page.has_more and {e.calendar_id for e in page.entries} == {berlin.id}
    await luma.list_events_page(cursor=page.next_cursor, limit=10)
    guests = [g async for g in luma.iter_guests(mine)]
    await luma.update_guest_status(mine, guest_id=guests[0].id, status="approved")
    sent = state.writes[-1]
    assert (sent.calendar_id, sent.event_id) == (berlin.id, mine)
    with pytest.raises(NotFoundError):  # Luma answers (the key opens it); the client refuses
        await luma.get_event(theirs)
    with pytest.raises(NotFoundError):
        await luma.update_guest_status(theirs, email="a@b.co", status="approved")
    with pytest.raises(BadRequestError):  # a calendar's own route: never sent
        await luma.list_people_page()
    assert state.writes[-1] == sent


async def _use_every_operation(luma: LumaClient, past: str, upcoming: str, now: datetime) -> None:
    await luma.get_self()
    await luma.get_calendar()
    assert len([e async for e in luma.iter_events()]) == 3
    window = luma.iter_events(after=now - timedelta(days=30), before=now + timedelta(days=20))
    assert len([e async for e in window]) == 2
    page = await luma.list_events_page(limit=1)
    await luma.list_events_page(cursor=page.next_cursor, limit=1)
    await luma.get_event(past)
    await luma.get_event(upcoming)

    guests = [g async for g in luma.iter_guests(past)]  # two pages
    assert len(guests) == 140
    page_one = await luma.list_guests_page(past, sort_column="email", limit=50)
    await luma.list_guests_page(past, sort_column="email", cursor=page_one.next_cursor, limit=50)
    pending = await luma.list_guests_page(
        upcoming, status="pending_approval", sort_column="registered_at", sort_direction="desc"
    )
    approved = await luma.list_guests_page(upcoming, status="approved")
    checked_in = next(g for g in guests if g.checked_in_at is not None)
    await luma.get_guest(past, email=checked_in.email)
    await luma.get_guest(past, guest_id=checked_in.id)

    first, second, third, *_ = pending.entries
    await luma.update_guest_status(upcoming, guest_id=first.id, status="approved")
    await luma.update_guest_status(
        upcoming, email=second.email, status="waitlist", send_email=True, message="Soon!"
    )
    await luma.update_guest_status(
        upcoming, guest_id=third.id, status="pending_approval", send_email=False
    )
    paid = approved.entries[0]
    await luma.update_guest_status(
        upcoming, guest_id=paid.id, status="declined", should_refund=True
    )
    await luma.add_guests(upcoming, [("New.Person@Example.com", "New Person"), ("x@y.io", None)])
    await luma.send_invites(upcoming, ["Friend@Example.org"])

    people = [p async for p in luma.iter_people()]  # two pages
    assert len(people) > 100
    people_page = await luma.list_people_page(limit=40)
    await luma.list_people_page(cursor=people_page.next_cursor, limit=40)

    await _use_contact_tags(luma, people[0].email, people[1].email)

    hook = await luma.create_webhook(
        "https://bot.example.com/luma/webhook/path-token", ["guest.registered", "guest.updated"]
    )
    assert hook.secret and hook.secret.startswith("whsec_") and hook.active
    assert [listed.id for listed in await luma.list_webhooks()] == [hook.id]
    await luma.delete_webhook(hook.id)
    assert await luma.list_webhooks() == []


async def _use_contact_tags(luma: LumaClient, first: str, second: str) -> None:
    """Tags made once (a second ensure creates nothing), applied in more than one request,
    and an email that is not a contact skipped, never made one."""
    assert await luma.list_contact_tags() == []
    ids = await luma.ensure_contact_tags(["vip", "speaker"])
    assert await luma.ensure_contact_tags(["VIP", "speaker"]) == {
        "VIP": ids["vip"],
        "speaker": ids["speaker"],
    }
    assert {tag.name for tag in await luma.list_contact_tags()} == {"vip", "speaker"}
    await luma.create_contact_tag("sponsor", color="green")
    strangers = [f"stranger{n}@example.com" for n in range(CONTACT_TAG_BATCH)]
    applied = await luma.apply_contact_tag(ids["vip"], [first, *strangers, second])
    assert (applied.applied_count, applied.skipped_count) == (2, CONTACT_TAG_BATCH)
    by_name = await luma.apply_contact_tag("speaker", [first])
    assert (by_name.applied_count, by_name.skipped_count) == (1, 0)


def test_every_operation_the_product_uses_was_exercised(session: list[Exchange]) -> None:
    used = {(exchange.method, exchange.path) for exchange in session}
    assert used == set(ROUTES.values())
    assert all(exchange.status == 200 for exchange in session), [
        (e.method, e.path, e.status, e.answer) for e in session if e.status != 200
    ]


def test_every_answer_validates_against_the_spec(session: list[Exchange]) -> None:
    failures = {
        (exchange.method, exchange.path): found
        for exchange in session
        if (found := problems(response_schema(exchange.method, exchange.path), exchange.answer))
    }
    assert failures == {}
    assert len(session) >= 25


def test_every_request_body_validates_against_the_spec(session: list[Exchange]) -> None:
    writes = [exchange for exchange in session if exchange.method == "POST"]
    assert len(writes) == 9 + 3 + 3  # guests and webhooks; tags made, tags applied
    for exchange in writes:
        schema = body_schema(exchange.method, exchange.path)
        assert schema is not None
        assert problems(schema, exchange.body) == [], (exchange.path, exchange.body)
    for exchange in session:
        if exchange.method == "GET":
            assert exchange.body is None


def test_every_query_uses_only_declared_parameters(session: list[Exchange]) -> None:
    failures = {
        (exchange.method, exchange.path, str(exchange.query)): found
        for exchange in session
        if (found := query_problems(exchange.method, exchange.path, exchange.query))
    }
    assert failures == {}


def test_the_answers_carry_what_the_product_reads(session: list[Exchange]) -> None:
    """Realistic data, not just valid data: check-ins on tickets, company answers with a
    job title, ticket orders, a waitlist, hosts."""
    guests = [
        guest
        for exchange in session
        if exchange.path == ROUTES[Endpoint.LIST_GUESTS][1]
        for guest in exchange.answer["entries"]
    ]
    tickets = [ticket for guest in guests for ticket in guest["event_tickets"]]
    assert any(ticket["checked_in_at"] for ticket in tickets)
    assert any(ticket["amount"] > 0 for ticket in tickets)
    answers = [a for guest in guests for a in guest["registration_answers"] or []]
    assert any(a["question_type"] == "company" and a["answer_company"] for a in answers)
    assert all("checked_in_at" not in guest for guest in guests)
    one = next(e.answer for e in session if e.path == ROUTES[Endpoint.GET_GUEST][1])
    assert one["event_ticket_orders"]
    events = [e.answer for e in session if e.path == ROUTES[Endpoint.GET_EVENT][1]]
    assert {event["waitlist_status"] for event in events} == {"enabled", "disabled"}
    assert all(event["hosts"] and event["registration_questions"] for event in events)
    calendar = next(e.answer for e in session if e.path == ROUTES[Endpoint.GET_CALENDAR][1])
    assert calendar["id"].startswith("cal-") and calendar["slug"]


# --- 2. nothing read that the spec does not define -----------------------------------------

EXAMPLES = {
    Endpoint.GET_SELF: examples.SELF,
    Endpoint.GET_CALENDAR: examples.CALENDAR,
    Endpoint.LIST_EVENTS: examples.EVENTS_PAGE,
    Endpoint.GET_EVENT: examples.EVENT_GET,
    Endpoint.LIST_GUESTS: examples.GUESTS_PAGE,
    Endpoint.GET_GUEST: examples.GUEST_GET,
    Endpoint.LIST_PEOPLE: examples.PEOPLE_PAGE,
    Endpoint.CREATE_WEBHOOK: examples.WEBHOOK,
    Endpoint.LIST_WEBHOOKS: examples.WEBHOOKS_PAGE,
    Endpoint.LIST_ORG_CALENDARS: examples.ORG_CALENDARS_PAGE,
    Endpoint.LIST_ORG_EVENTS: examples.ORG_EVENTS_PAGE,
    Endpoint.LIST_CONTACT_TAGS: examples.CONTACT_TAGS,
    Endpoint.CREATE_CONTACT_TAG: examples.CONTACT_TAG_CREATED,
    Endpoint.APPLY_CONTACT_TAG: examples.CONTACT_TAG_APPLIED,
}
VARIANTS = ["every-field", "required-only"]


def _example(endpoint: Endpoint, variant: str) -> dict[str, Any]:
    full = EXAMPLES[endpoint]
    if variant == "every-field":
        return full
    result: dict[str, Any] = optional_dropped(response_schema(*ROUTES[endpoint]), full)
    return result


def test_every_read_operation_has_a_reader_and_an_example() -> None:
    reads = {endpoint for endpoint, (method, _) in ROUTES.items() if method == "GET"}
    # The writes whose answers are read: a webhook's secret, a new tag's id, applied counts.
    reads |= {Endpoint.CREATE_WEBHOOK, Endpoint.CREATE_CONTACT_TAG, Endpoint.APPLY_CONTACT_TAG}
    assert set(READERS) == reads == set(EXAMPLES)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("endpoint", list(EXAMPLES), ids=str)
def test_the_examples_are_valid(endpoint: Endpoint, variant: str) -> None:
    example = _example(endpoint, variant)
    assert problems(response_schema(*ROUTES[endpoint]), example) == []


def _use(parsed: Any) -> None:
    """What the product does with an answer (the sync's rows, the derived guest facts)."""
    for item in getattr(parsed, "entries", [parsed]):
        if isinstance(item, LumaGuest):
            guest_row(item)
            assert item.linkedin is None or item.linkedin
        elif hasattr(item, "tag_names"):
            event_row(item)
        item.model_dump()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("endpoint", list(EXAMPLES), ids=str)
def test_the_client_reads_only_what_the_spec_defines(endpoint: Endpoint, variant: str) -> None:
    example = _example(endpoint, variant)
    reads = KeyReads()
    tracked = reads.track(example)
    _use(READERS[endpoint](tracked))
    if "entries" in example:  # a list: the client pages on
        if example["has_more"] and "next_cursor" not in example:  # valid, yet unusable
            with pytest.raises(LumaProtocolError):
                next_cursor(endpoint, tracked)
        else:
            next_cursor(endpoint, tracked)
    assert reads.lookups, "the answer was not read through the tracked objects"
    assert undefined_reads(response_schema(*ROUTES[endpoint]), example, reads) == []


def test_a_read_outside_the_spec_is_caught() -> None:
    """The check itself: a guest-level `checked_in_at` or an `email` on a guest is not in the
    spec, and looking either up (even finding nothing) is reported."""
    reads = KeyReads()
    guest = reads.track(examples.GUEST)
    assert guest.get("checked_in_at") is None
    assert "email" not in guest
    assert guest["event_tickets"][1]["checked_in_at"]
    schema = response_schema(*ROUTES[Endpoint.GET_GUEST])
    assert undefined_reads(schema, examples.GUEST, reads) == [
        "(root): 'checked_in_at'",
        "(root): 'email'",
    ]


# Older spellings the client still reads, each only after the name the spec gives it (on the
# right) was looked up and found absent in the same object: generation-1 answers (`api_id`,
# `{"api_id", "event": {...}}` wrappers), guests spelled without the `user_` prefix, and guest
# check-ins from before they moved to the tickets.
LEGACY_FALLBACKS: dict[str, tuple[str, ...]] = {
    "api_id": ("id",),
    "calendar_api_id": ("calendar_id",),
    "user_api_id": ("user_id",),
    "event_ticket_type_api_id": ("event_ticket_type_id",),
    "event": ("id",),
    "guest": ("id",),
    "user": ("id",),
    "email": ("user_email",),
    "name": ("user_name",),
    "first_name": ("user_first_name",),
    "last_name": ("user_last_name",),
    "event_ticket": ("event_tickets",),
    "checked_in_at": ("event_tickets",),
}

LEGACY_EVENT = {
    "api_id": "evt-1",
    "calendar_api_id": "cal-1",
    "user_api_id": "usr-1",
    "name": "AI Night",
    "start_at": "2026-03-01T18:00:00.000Z",
    "end_at": "2026-03-01T20:00:00.000Z",
    "timezone": "America/Los_Angeles",
    "geo_address_json": examples.GEO,
    "geo_latitude": "37.79",
    "url": "https://lu.ma/ai-night",
    "visibility": "public",
}
LEGACY_GUEST = {
    "api_id": "gst-1",
    "user_api_id": "usr-1",
    "user_email": "ann@acme.com",
    "user_name": "Ann Lee",
    "approval_status": "approved",
    "checked_in_at": "2026-03-01T18:05:00.000Z",
    "registration_answers": [
        {"label": "Company", "question_id": "q1", "question_type": "company", "answer": "Acme"}
    ],
    "event_tickets": [
        {
            "api_id": "tkt-1",
            "amount": 2500,
            "currency": "usd",
            "checked_in_at": "2026-03-01T18:05:00.000Z",
            "event_ticket_type_api_id": "ett-1",
        }
    ],
    "event_ticket": {"api_id": "tkt-1", "amount": 2500},
}
LEGACY = {
    Endpoint.GET_SELF: {"user": {"api_id": "usr-1", "email": "o@x.com", "name": "O"}},
    Endpoint.LIST_EVENTS: {
        "entries": [
            {"api_id": "evt-1", "event": LEGACY_EVENT, "tags": [{"api_id": "t", "name": "AI"}]}
        ],
        "has_more": False,
        "next_cursor": None,
    },
    Endpoint.GET_EVENT: {"event": LEGACY_EVENT, "hosts": []},
    Endpoint.LIST_GUESTS: {
        "entries": [
            {"api_id": "gst-1", "guest": LEGACY_GUEST},
            {"id": "gst-2", "email": "bo@x.com", "checked_in_at": "2026-03-01T18:00:00Z"},
        ],
        "has_more": False,
    },
    Endpoint.GET_GUEST: {"guest": LEGACY_GUEST},
    Endpoint.LIST_PEOPLE: {
        "entries": [{"api_id": "per-1", "user": {"api_id": "usr-1", "email": "p@x.com"}}],
        "has_more": False,
    },
}


def _property_names(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        names = set(schema.get("properties", {}))
        return names.union(*(_property_names(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_property_names(value) for value in schema))
    return set()


@pytest.mark.parametrize("endpoint", list(LEGACY), ids=str)
def test_older_spellings_are_read_only_where_the_spec_name_is_absent(endpoint: Endpoint) -> None:
    spec_names = _property_names(response_schema(*ROUTES[endpoint]))
    reads = KeyReads()
    parsed = READERS[endpoint](reads.track(LEGACY[endpoint]))
    _use(parsed)
    missed: dict[Any, set[str]] = {}
    wrong = []
    for lookup in reads.lookups:
        seen = missed.setdefault(lookup.path, set())
        if lookup.key not in spec_names:
            stands_for = LEGACY_FALLBACKS.get(lookup.key, ())
            if not seen & set(stands_for):
                wrong.append((lookup.path, lookup.key))
        if not lookup.present:
            seen.add(lookup.key)
    assert wrong == []


# --- 3. the client's parsing on the spec's shapes ------------------------------------------


def test_a_spec_guest() -> None:
    page = READERS[Endpoint.LIST_GUESTS](examples.GUESTS_PAGE)
    ann, bo = page.entries  # type: ignore[attr-defined]
    assert (ann.id, ann.user_id, ann.email, ann.name) == (
        "gst-Ann8xQ",
        "usr-ann",
        "ann.lee@acme.com",
        "Ann Lee",
    )
    assert (ann.first_name, ann.last_name, ann.utm_source) == ("Ann", "Lee", "newsletter")
    assert ann.company == "Acme" and ann.job_title == "CTO"  # answer_company, answer_job_title
    assert ann.linkedin == "https://www.linkedin.com/in/ann-lee"
    assert ann.checked_in_at == datetime(2026, 3, 5, 17, 21, 9, tzinfo=UTC)  # from a ticket
    assert ann.is_paid
    assert [t.ticket_type_id for t in ann.tickets] == ["ett-general", "ett-workshop"]
    texts = {answer.label: answer.text for answer in ann.registration_answers}
    assert texts["Company"] == "Acme"
    assert texts["Topics"] == "AI, Infra" and texts["Photo release"] == "yes"
    row = guest_row(ann)
    assert (row["company"], row["job_title"], row["checked_in_at"]) == (
        "Acme",
        "CTO",
        ann.checked_in_at,
    )

    assert bo.email == "bo@gmail.com" and bo.name is None
    assert bo.registration_answers == [] and bo.tickets == []  # `registration_answers: null`
    assert bo.checked_in_at is None and not bo.is_paid
    assert bo.invited_at == datetime(2026, 2, 1, 12, tzinfo=UTC)

    assert read_guest(examples.GUEST_GET) == ann  # the ticket orders add nothing we read


def test_job_title_from_a_separate_question_or_the_company_value() -> None:
    separate = {
        **examples.GUEST_GET,
        "registration_answers": [
            {"label": "Company", "question_id": "q1", "question_type": "company",
             "value": {"company": "Globex", "job_title": None}, "answer_company": None,
             "answer_job_title": None},
            {"label": "Job title", "question_id": "q2", "question_type": "text",
             "value": "Designer", "answer": "Designer"},
        ],
    }  # fmt: skip
    assert problems(response_schema(*ROUTES[Endpoint.GET_GUEST]), separate) == []
    guest = read_guest(separate)
    assert (guest.company, guest.job_title) == ("Globex", "Designer")


def test_a_spec_event_list_and_a_single_event() -> None:
    page = read_event_page(examples.EVENTS_PAGE)
    luma_event, external = page.entries
    assert (luma_event.id, luma_event.calendar_id, luma_event.tag_names) == (
        "evt-7Qx2LmNp4RtY9a",
        "cal-berlinbuilders",
        ["AI"],
    )
    assert (luma_event.city, luma_event.country) == ("Berlin", "Germany")
    assert luma_event.full_address and luma_event.full_address.startswith("Factory Berlin")
    assert luma_event.start_at == datetime(2026, 3, 5, 17, tzinfo=UTC)
    assert (luma_event.platform, luma_event.location_type) == ("luma", "offline")
    assert (external.platform, external.city, external.description) == ("external", None, None)
    assert page.has_more and page.next_cursor == "c2VlbiB0aHJvdWdo"

    single = read_event(examples.EVENT_GET)
    assert single.tags == [] and single.raw["hosts"][0]["id"] == "usr-owner1"
    same = {"raw", "tags"}
    assert single.model_dump(exclude=same) == luma_event.model_dump(exclude=same)
    row = event_row(single)
    assert (row["city"], row["country"], row["timezone"]) == ("Berlin", "Germany", "Europe/Berlin")


def test_a_spec_calendar_self_and_contacts() -> None:
    calendar = READERS[Endpoint.GET_CALENDAR](examples.CALENDAR)
    assert calendar.model_dump() == {
        "id": "cal-berlinbuilders",
        "name": "Berlin Builders",
        "slug": "berlin-builders",
        "url": "https://luma.com/berlin-builders",
    }
    user = READERS[Endpoint.GET_SELF](examples.SELF)
    assert user.model_dump()["email"] == "maya@berlinbuilders.com"
    person = READERS[Endpoint.LIST_PEOPLE](examples.PEOPLE_PAGE).entries[0]  # type: ignore[attr-defined]
    assert (person.id, person.user_id, person.email, person.name) == (
        "cm-ann",
        "usr-ann",
        "ann.lee@acme.com",
        "Ann Lee",
    )
    assert (person.event_approved_count, person.event_checked_in_count) == (4, 3)
    assert [tag.name for tag in person.tags] == ["VIP"]


def test_a_spec_organization_calendar_and_event_list() -> None:
    calendars = READERS[Endpoint.LIST_ORG_CALENDARS](examples.ORG_CALENDARS_PAGE)
    assert [c.id for c in calendars.entries] == ["cal-berlinbuilders", "cal-lisbonbuilders"]  # type: ignore[attr-defined]
    assert calendars.has_more and calendars.next_cursor == "b3JnLWNhbGVuZGFycw"  # type: ignore[attr-defined]
    page = READERS[Endpoint.LIST_ORG_EVENTS](examples.ORG_EVENTS_PAGE)
    berlin, lisbon = page.entries  # type: ignore[attr-defined]
    assert (berlin.id, berlin.calendar_id, berlin.tags) == (
        "evt-7Qx2LmNp4RtY9a",
        "cal-berlinbuilders",
        [],
    )
    assert (lisbon.calendar_id, lisbon.tags) == ("cal-lisbonbuilders", [])
    assert page.has_more and page.next_cursor == "b3JnLWV2ZW50cw"  # type: ignore[attr-defined]
    same = {"raw", "tags"}
    assert berlin.model_dump(exclude=same) == read_event(examples.EVENT_GET).model_dump(
        exclude=same
    )
    with pytest.raises(LumaProtocolError, match="no next_cursor"):
        next_cursor(Endpoint.LIST_ORG_EVENTS, {**examples.ORG_EVENTS_PAGE, "next_cursor": ""})


def test_next_cursor_rules() -> None:
    assert next_cursor(Endpoint.LIST_GUESTS, {"entries": [], "has_more": False}) is None
    assert next_cursor(Endpoint.LIST_GUESTS, {"has_more": True, "next_cursor": "c"}) == "c"
    for bad in ({"has_more": True}, {"has_more": True, "next_cursor": ""}):
        with pytest.raises(LumaProtocolError, match="next_cursor"):
            next_cursor(Endpoint.LIST_GUESTS, bad)


def test_an_unreadable_answer_is_a_protocol_error() -> None:
    with pytest.raises(LumaProtocolError, match="get_guest: unreadable answer") as caught:
        read_guest({"user_email": "no-id@example.com"})
    assert "try again" in caught.value.user_message


@pytest.fixture
async def endless_luma() -> AsyncIterator[tuple[LumaClient, list[str]]]:
    """A server that always says `has_more` and never gives a cursor."""
    asked: list[str] = []

    async def guests(request: Request) -> JSONResponse:
        asked.append(str(request.url.query))
        return JSONResponse({"entries": [examples.GUEST], "has_more": True})

    app = Starlette(routes=[Route(CURRENT.routes[Endpoint.LIST_GUESTS], guests)])
    async with serving(app) as url, LumaPool(url, max_retries=0) as pool:
        yield pool.client("secret-contract-test-key", budget_key="cal-endless"), asked


async def test_has_more_without_a_cursor_raises_instead_of_looping(
    endless_luma: tuple[LumaClient, list[str]],
) -> None:
    luma, asked = endless_luma
    seen = []
    with pytest.raises(LumaProtocolError, match="no next_cursor") as caught:
        async for guest in luma.iter_guests("evt-1"):
            seen.append(guest.id)
    assert caught.value.user_message.startswith("Luma sent an answer")
    assert seen == [] and len(asked) == 1  # nothing taken from a page that cannot be trusted
    with pytest.raises(LumaProtocolError):
        await luma.list_guests_page("evt-1")  # the sync pages by hand: refused there too
    assert len(asked) == 2


# --- 4. the simulator refuses what the spec refuses ---------------------------------------


@pytest.fixture
async def sim_http(recorded_sim: RecordedSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=recorded_sim.base_url, timeout=10) as http:
        yield http


def _mutations(valid: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Bodies near a valid one: each property dropped, nulled, of another type or value."""
    found = []
    for name in schema["properties"]:
        found.append({k: v for k, v in valid.items() if k != name})
        others: tuple[Any, ...] = (None, 7, "maybe", True, [], {}, "x" * 201, [{}], [{"email": 7}])
        for value in others:
            found.append({**valid, name: value})
    return found


WRITES = [Endpoint.UPDATE_GUEST_STATUS, Endpoint.ADD_GUESTS, Endpoint.SEND_INVITES]


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
async def test_the_simulator_refuses_bodies_the_spec_refuses(
    recorded_sim: RecordedSimulator, sim_http: httpx.AsyncClient, endpoint: Endpoint
) -> None:
    state = recorded_sim.state
    calendar = state.add_calendar()
    event_id = state.add_event(calendar.id, guests=400, status_mix={"pending_approval": 1.0})
    fresh_guests = iter(state.event(event_id).guests)
    method, path = ROUTES[endpoint]
    schema = body_schema(method, path)
    assert schema is not None
    if endpoint is Endpoint.UPDATE_GUEST_STATUS:
        valid: dict[str, Any] = {"event_id": event_id, "guest_id": "", "status": "approved"}
    else:
        valid = {"event_id": event_id, "guests": [{"email": ""}]}
    refused = accepted = 0
    for index, body in enumerate(_mutations(valid, schema)):
        # Each body that may be applied names someone new, so none is a no-op by accident.
        if body.get("guest_id") == "":
            body["guest_id"] = next(fresh_guests)
        if body.get("guests") == [{"email": ""}]:
            body["guests"] = [{"email": f"guest{index}@example.com"}]
        response = await sim_http.post(
            path, json=body, headers={"x-luma-api-key": calendar.api_key}
        )
        if is_valid(schema, body):
            assert response.status_code in (200, 404), (body, response.text)  # 404: no such id
            accepted += response.status_code == 200
        else:
            assert response.status_code == 400, (body, response.text)
            assert response.json()["message"]
            refused += 1
    assert refused >= 10 and accepted >= 3


@pytest.mark.parametrize("endpoint", [Endpoint.CREATE_CONTACT_TAG, Endpoint.APPLY_CONTACT_TAG])
async def test_the_simulator_refuses_tag_bodies_the_spec_refuses(
    recorded_sim: RecordedSimulator, sim_http: httpx.AsyncClient, endpoint: Endpoint
) -> None:
    state = recorded_sim.state
    calendar = state.add_calendar()
    state.add_event(calendar.id, guests=3)
    contact = state.calendar(calendar.id).people[0].email
    headers = {"x-luma-api-key": calendar.api_key}
    made = await sim_http.post(
        ROUTES[Endpoint.CREATE_CONTACT_TAG][1], json={"name": "base"}, headers=headers
    )
    method, path = ROUTES[endpoint]
    schema = body_schema(method, path)
    assert schema is not None
    if endpoint is Endpoint.CREATE_CONTACT_TAG:
        valid: dict[str, Any] = {"name": "", "color": "blue"}
    else:
        valid = {"tag": made.json()["id"], "emails": [contact]}
    refused = accepted = 0
    for index, body in enumerate(_mutations(valid, schema)):
        if body.get("name") == "":  # each tag that may be made is new, so no name repeats
            body["name"] = f"tag {index}"
        response = await sim_http.post(path, json=body, headers=headers)
        if is_valid(schema, body):
            assert response.status_code in (200, 404), (body, response.text)  # 404: no such tag
            accepted += response.status_code == 200
        else:
            assert response.status_code == 400, (body, response.text)
            assert response.json()["message"]
            refused += 1
    assert refused >= 5 and accepted >= 3


QUERIES: dict[Endpoint, list[dict[str, str | None]]] = {
    Endpoint.LIST_EVENTS: [
        {"sort_direction": "sideways"},
        {"platforms": "zoom"},
        {"status": "bogus"},
        {"sort_column": "name"},
        {"pagination_limit": "ten"},
        {"after": "next tuesday"},
    ],
    Endpoint.GET_EVENT: [{"event_id": None}],
    Endpoint.LIST_GUESTS: [
        {"approval_status": "maybe"},
        {"sort_column": "shoe_size"},
        {"sort_direction": "up"},
        {"event_id": None},
    ],
    Endpoint.GET_GUEST: [{"id": None}, {"event_id": None}],
    Endpoint.LIST_PEOPLE: [{"sort_column": "height"}, {"membership_status": "gold"}],
}


async def test_the_simulator_refuses_queries_the_spec_refuses(
    recorded_sim: RecordedSimulator, sim_http: httpx.AsyncClient
) -> None:
    state = recorded_sim.state
    calendar = state.add_calendar()
    event_id = state.add_event(calendar.id, guests=3)
    guest_id = next(iter(state.event(event_id).guests))
    base: dict[Endpoint, dict[str, str]] = {
        Endpoint.LIST_EVENTS: {},
        Endpoint.GET_EVENT: {"event_id": event_id},
        Endpoint.LIST_GUESTS: {"event_id": event_id},
        Endpoint.GET_GUEST: {"event_id": event_id, "id": guest_id},
        Endpoint.LIST_PEOPLE: {},
    }
    headers = {"x-luma-api-key": calendar.api_key}
    for endpoint, changes in QUERIES.items():
        method, path = ROUTES[endpoint]
        for change in changes:
            query = {k: v for k, v in {**base[endpoint], **change}.items() if v is not None}
            assert query_problems(method, path, list(query.items())), (path, query)
            response = await sim_http.get(path, params=query, headers=headers)
            assert response.status_code == 400, (path, query, response.text)
    # And the same operations with valid queries are answered.
    for endpoint, query in base.items():
        method, path = ROUTES[endpoint]
        assert query_problems(method, path, list(query.items())) == []
        assert (await sim_http.get(path, params=query, headers=headers)).status_code == 200


ORGANIZATION_QUERIES: dict[Endpoint, list[dict[str, str]]] = {
    Endpoint.LIST_ORG_CALENDARS: [{"pagination_limit": "many"}],
    Endpoint.LIST_ORG_EVENTS: [
        {"sort_direction": "sideways"},
        {"before": "tomorrow"},
        {"pagination_limit": "ten"},
    ],
}


async def test_the_simulator_refuses_organization_queries_the_spec_refuses(
    recorded_sim: RecordedSimulator, sim_http: httpx.AsyncClient
) -> None:
    organization = recorded_sim.state.add_organization(calendars=1, events=1)
    headers = {"x-luma-api-key": organization.api_key}
    for endpoint, changes in ORGANIZATION_QUERIES.items():
        method, path = ROUTES[endpoint]
        for query in changes:
            assert query_problems(method, path, list(query.items())), (path, query)
            response = await sim_http.get(path, params=query, headers=headers)
            assert response.status_code == 400, (path, query, response.text)
        assert query_problems(method, path, []) == []
        assert (await sim_http.get(path, headers=headers)).status_code == 200
