"""The Luma simulator over real HTTP: both path generations, isolation, limits, faults, webhooks.

Other tests trust the simulator to behave like Luma, so these check the shapes from the API
notes (shared/luma-api.md) field by field and the behaviours a client must survive.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web

from standins.luma import (
    CalendarHandle,
    OrganizationHandle,
    RunningSimulator,
    SimulatorConfig,
    SimulatorState,
    running_simulator,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SMALL = SimulatorConfig(
    seed=7, calendars=2, events_per_calendar=4, guests_per_event=40, now=NOW, rate_limit=None
)

LEGACY_EVENT_FIELDS = {
    "api_id", "created_at", "cover_url", "calendar_api_id", "description", "description_md",
    "duration_interval", "end_at", "geo_address_json", "geo_latitude", "geo_longitude",
    "meeting_url", "name", "start_at", "timezone", "url", "user_api_id", "visibility",
    "zoom_meeting_url",
}  # fmt: skip
LEGACY_GUEST_FIELDS = {
    "api_id", "user_api_id", "user_email", "user_name", "user_first_name", "user_last_name",
    "approval_status", "check_in_qr_code", "checked_in_at", "custom_source", "eth_address",
    "invited_at", "joined_at", "phone_number", "registered_at", "registration_answers",
    "solana_address", "event_tickets", "event_ticket",
}  # fmt: skip
LEGACY_TICKET_FIELDS = {
    "api_id", "amount", "amount_discount", "amount_tax", "currency", "checked_in_at",
    "event_ticket_type_api_id", "is_captured", "name",
}  # fmt: skip
# Exactly the published spec's guest (tests/contract checks the values against its schema).
CURRENT_GUEST_FIELDS = {
    "id", "user_id", "user_email", "user_name", "user_first_name", "user_last_name",
    "approval_status", "check_in_qr_code", "eth_address", "invited_at", "joined_at",
    "phone_number", "registered_at", "registration_answers", "solana_address", "utm_source",
    "event_tickets",
}  # fmt: skip
UPDATE_PATHS = ("/public/v1/event/update-guest-status", "/v1/events/guests/update-status")
GEO_FIELDS = {
    "address", "city", "region", "country", "city_state", "full_address",
    "google_maps_place_id", "apple_maps_place_id", "description",
}  # fmt: skip


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(SMALL) as running:
        yield running


@pytest.fixture
async def http(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as client:
        yield client


def auth(holder: CalendarHandle | OrganizationHandle) -> dict[str, str]:
    return {"x-luma-api-key": holder.api_key}


async def all_pages(
    http: httpx.AsyncClient, path: str, calendar: CalendarHandle | OrganizationHandle, **params: Any
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"pagination_cursor": cursor} if cursor else {})}
        response = await http.get(path, params=query, headers=auth(calendar))
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["entries"]
        if not body["has_more"]:
            assert body.get("next_cursor") is None  # the spec's answer leaves it out
            return entries
        cursor = body["next_cursor"]


def guest_with(sim: RunningSimulator, event_id: str, **wanted: Any) -> Any:
    event = sim.state.event(event_id)
    return next(
        g
        for g in event.guests.values()
        if all(getattr(g, name) == value for name, value in wanted.items())
    )


# --- shapes of both generations ------------------------------------------------------------


async def test_get_self_in_both_generations(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    calendar = sim.calendars[0]
    legacy = (await http.get("/public/v1/user/get-self", headers=auth(calendar))).json()
    current = (await http.get("/v1/users/get-self", headers=auth(calendar))).json()
    assert set(legacy) == {"user"}
    assert set(legacy["user"]) == {
        "api_id",
        "email",
        "name",
        "first_name",
        "last_name",
        "avatar_url",
    }
    assert legacy["user"]["api_id"].startswith("usr-")
    assert set(current) == {"id", "name", "avatar_url", "email", "first_name", "last_name"}
    assert current["id"] == legacy["user"]["api_id"]


async def test_event_list_and_get_shapes(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    calendar = sim.calendars[0]
    legacy = await all_pages(http, "/public/v1/calendar/list-events", calendar)
    current = await all_pages(http, "/v1/calendars/events/list", calendar)
    assert len(legacy) == len(current) == 4

    entry = legacy[0]
    assert set(entry) == {"api_id", "event", "tags"}
    assert set(entry["event"]) == LEGACY_EVENT_FIELDS
    assert set(entry["event"]["geo_address_json"]) == GEO_FIELDS
    assert entry["event"]["calendar_api_id"] == calendar.id
    assert entry["api_id"].startswith("evt-")

    flat = current[0]
    assert flat["id"] == entry["api_id"]
    assert "api_id" not in flat and "event" not in flat
    assert flat["platform"] == "luma" and flat["location_type"] == "offline"
    assert set(flat["coordinate"]) == {"latitude", "longitude"}
    assert all(set(tag) == {"id", "name"} for tag in flat["tags"])
    starts = [e["start_at"] for e in current]
    assert starts == sorted(starts)

    one = await http.get(
        "/public/v1/event/get", params={"api_id": flat["id"]}, headers=auth(calendar)
    )
    assert one.json()["event"]["api_id"] == flat["id"]
    one = await http.get("/v1/events/get", params={"event_id": flat["id"]}, headers=auth(calendar))
    assert one.json()["id"] == flat["id"] and one.json()["name"] == flat["name"]


async def test_event_filters_sorting_and_pages(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[0]
    everything = await all_pages(http, "/v1/calendars/events/list", calendar)
    middle = everything[1]["start_at"]
    after = await all_pages(http, "/v1/calendars/events/list", calendar, after=middle)
    before = await all_pages(http, "/public/v1/calendar/list-events", calendar, before=middle)
    assert [e["id"] for e in after] == [e["id"] for e in everything[2:]]
    assert [e["api_id"] for e in before] == [everything[0]["id"]]

    paged = await all_pages(
        http, "/v1/calendars/events/list", calendar, sort_direction="desc", pagination_limit=1
    )
    assert [e["id"] for e in paged] == [e["id"] for e in reversed(everything)]
    pending = await all_pages(http, "/v1/calendars/events/list", calendar, status="pending")
    assert pending == []
    bad = await http.get(
        "/v1/calendars/events/list", params={"after": "next tuesday"}, headers=auth(calendar)
    )
    assert bad.status_code == 400 and "message" in bad.json()


async def test_guest_shapes_in_both_generations(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[0]
    event_id = sim.state.add_event(
        calendar.id, guests=30, status_mix={"approved": 20, "invited": 10}, paid_share=1.0
    )
    legacy = await all_pages(http, "/public/v1/event/get-guests", calendar, event_api_id=event_id)
    current = await all_pages(http, "/v1/events/guests/list", calendar, event_id=event_id)
    assert len(legacy) == len(current) == 30

    entry = next(e for e in legacy if e["guest"]["approval_status"] == "approved")
    assert set(entry) == {"api_id", "guest"}
    guest = entry["guest"]
    assert set(guest) == LEGACY_GUEST_FIELDS
    assert "@" in guest["user_email"] and guest["user_name"]
    assert set(guest["event_tickets"][0]) == LEGACY_TICKET_FIELDS
    assert guest["event_tickets"][0]["amount"] > 0
    answer_types = {a["question_type"] for a in guest["registration_answers"]}
    assert answer_types <= {"company", "text", "linkedin"}
    assert all("value" not in a for a in guest["registration_answers"])

    flat = next(g for g in current if g["id"] == entry["api_id"])
    assert set(flat) == CURRENT_GUEST_FIELDS  # no guest-level checked_in_at, no api_id
    assert flat["user_email"] == guest["user_email"] and flat["user_name"] == guest["user_name"]
    company = flat["registration_answers"][0]
    assert company["question_type"] == "company"
    assert company["answer_company"] == company["value"]["company"] == company["answer"]
    others = flat["registration_answers"][1:]
    assert all(a["value"] == a["answer"] for a in others)
    assert "event_ticket_type_id" in flat["event_tickets"][0]

    invited = next(g for g in current if g["approval_status"] == "invited")
    assert invited["invited_at"] and invited["registered_at"] is None

    by_email = await http.get(
        "/public/v1/event/get-guest",
        params={"event_api_id": event_id, "email": guest["user_email"]},
        headers=auth(calendar),
    )
    assert by_email.json()["guest"]["api_id"] == entry["api_id"]
    for ref in (flat["id"], flat["user_email"].upper()):
        one = await http.get(
            "/v1/events/guests/get",
            params={"event_id": event_id, "id": ref},
            headers=auth(calendar),
        )
        assert one.status_code == 200 and one.json()["id"] == flat["id"]


async def test_guest_filter_and_sort_columns(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[0]
    event_id = sim.state.add_event(
        calendar.id,
        start_at=datetime(2026, 2, 1, 18, tzinfo=UTC),
        guests=60,
        status_mix={"approved": 40, "pending_approval": 15, "declined": 5},
        checked_in_share=0.5,
    )
    pending = await all_pages(
        http,
        "/v1/events/guests/list",
        calendar,
        event_id=event_id,
        approval_status="pending_approval",
    )
    assert len(pending) == 15 and {g["approval_status"] for g in pending} == {"pending_approval"}

    by_name = await all_pages(
        http, "/v1/events/guests/list", calendar, event_id=event_id, sort_column="name",
        pagination_limit=7,
    )  # fmt: skip
    names = [g["user_name"].casefold() for g in by_name]
    assert names == sorted(names) and len(by_name) == 60

    checked = await all_pages(
        http, "/public/v1/event/get-guests", calendar, event_api_id=event_id,
        sort_column="checked_in_at", sort_direction="desc nulls last", pagination_limit=9,
    )  # fmt: skip
    times = [e["guest"]["checked_in_at"] for e in checked]
    present = [t for t in times if t is not None]
    assert present and times[: len(present)] == sorted(present, reverse=True)
    assert all(t is None for t in times[len(present) :])

    bad = await http.get(
        "/v1/events/guests/list",
        params={"event_id": event_id, "sort_column": "shoe_size"},
        headers=auth(calendar),
    )
    assert bad.status_code == 400


async def test_people_are_distinct_contacts(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    calendar = sim.calendars[1]
    legacy = await all_pages(
        http, "/public/v1/calendar/list-people", calendar, pagination_limit=100
    )
    current = await all_pages(http, "/v1/calendars/contacts/list", calendar, pagination_limit=100)
    emails = [p["email"] for p in current]
    assert len(emails) == len(set(emails)) == len(legacy)
    assert set(legacy[0]) >= {"api_id", "user", "event_approved_count", "event_checked_in_count"}
    assert legacy[0]["user"]["email"] == current[0]["email"]
    # The contact pool is shared: some people attend several of the calendar's events.
    assert max(p["event_approved_count"] for p in current) >= 2


# --- auth and isolation --------------------------------------------------------------------


async def test_missing_or_unknown_key_is_401(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    for headers in ({}, {"x-luma-api-key": "secret-sim-not-a-real-key"}):
        for path in ("/v1/users/get-self", "/public/v1/calendar/list-events"):
            response = await http.get(path, headers=headers)
            assert response.status_code == 401
            assert response.json()["message"]


async def test_a_key_never_sees_another_calendars_data(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    mine, theirs = sim.calendars
    their_event = next(iter(sim.state.calendar(theirs.id).events.values()))
    their_guest = next(iter(their_event.guests.values()))
    mine_events = await all_pages(http, "/v1/calendars/events/list", mine)
    assert their_event.id not in {e["id"] for e in mine_events}

    reads = [
        ("/v1/events/get", {"event_id": their_event.id}),
        ("/public/v1/event/get", {"api_id": their_event.id}),
        ("/v1/events/guests/list", {"event_id": their_event.id}),
        ("/public/v1/event/get-guests", {"event_api_id": their_event.id}),
        ("/v1/events/guests/get", {"event_id": their_event.id, "id": their_guest.id}),
    ]
    for path, params in reads:
        response = await http.get(path, params=params, headers=auth(mine))
        assert response.status_code == 404, path
    write = await http.post(
        "/v1/events/guests/update-status",
        json={"event_id": their_event.id, "guest_id": their_guest.id, "status": "approved"},
        headers=auth(mine),
    )
    assert write.status_code == 404
    assert not [w for w in sim.state.writes if w.event_id == their_event.id]


# --- writes ----------------------------------------------------------------------------------


async def test_status_update_is_visible_and_logged(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[0]
    event_id = sim.state.add_event(
        calendar.id,
        start_at=datetime(2026, 2, 20, 18, tzinfo=UTC),
        guests=20,
        status_mix={"approved": 10, "pending_approval": 10},
        checked_in_share=1.0,
    )
    pending = guest_with(sim, event_id, approval_status="pending_approval")
    checked_in = guest_with(sim, event_id, approval_status="approved")
    before = pending.updated_at
    since = len(sim.state.writes)

    legacy = await http.post(
        "/public/v1/event/update-guest-status",
        json={
            "event_api_id": event_id,
            "guest": {"type": "email", "email": pending.person.email},
            "status": "approved",
        },
        headers=auth(calendar),
    )
    assert legacy.status_code == 200 and legacy.json() == {}
    current = await http.post(
        "/v1/events/guests/update-status",
        json={"event_id": event_id, "guest_id": checked_in.id, "status": "waitlist"},
        headers=auth(calendar),
    )
    assert current.status_code == 200 and current.json() == {}

    read = await http.get(
        "/v1/events/guests/get",
        params={"event_id": event_id, "id": pending.id},
        headers=auth(calendar),
    )
    assert read.json()["approval_status"] == "approved"
    assert pending.updated_at > before
    moved = await http.get(
        "/public/v1/event/get-guest",
        params={"event_api_id": event_id, "email": checked_in.person.email},
        headers=auth(calendar),
    )
    assert moved.json()["guest"]["approval_status"] == "waitlist"
    assert moved.json()["guest"]["checked_in_at"] is not None

    log = (await http.get("/_sim/writes", params={"since": since})).json()["entries"]
    assert [(w["guest_id"], w["old_status"], w["new_status"]) for w in log] == [
        (pending.id, "pending_approval", "approved"),
        (checked_in.id, "approved", "waitlist"),
    ]
    assert {w["endpoint"] for w in log} == {"update-guest-status"}
    assert log[0]["path"] == "/public/v1/event/update-guest-status"


async def test_bad_update_bodies_are_400_and_unknown_guests_404(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[0]
    event_id = sim.state.add_event(calendar.id, guests=5, status_mix={"pending_approval": 1.0})
    guest = guest_with(sim, event_id)
    since = len(sim.state.writes)
    legacy_path, current_path = UPDATE_PATHS
    legacy = {"event_api_id": event_id, "status": "approved"}
    current = {"event_id": event_id, "guest_id": guest.id, "status": "approved"}
    bad = [
        # The snippet seen in the wild: a flat email instead of a guest object.
        (legacy_path, {**legacy, "email": guest.person.email}),
        (legacy_path, {**legacy, "guest": {"type": "email", "email": guest.person.email},
                       "status": "waitlist"}),
        (current_path, {**current, "status": "maybe"}),
        (current_path, {"event_id": event_id, "status": "approved"}),
        (current_path, {**current, "send_email": False, "message": "hi"}),
        (current_path, {**current, "message": "x" * 201}),
        (current_path, {**current, "status": "declined", "should_refund": "yes"}),
    ]  # fmt: skip
    for path, body in bad:
        response = await http.post(path, json=body, headers=auth(calendar))
        assert response.status_code == 400, body
        assert response.json()["message"]
    not_json = await http.post(current_path, content=b"{", headers=auth(calendar))
    assert not_json.status_code == 400

    unknown = await http.post(
        current_path,
        json={"event_id": event_id, "guest_id": "nobody@example.com", "status": "approved"},
        headers=auth(calendar),
    )
    assert unknown.status_code == 404
    ok = await http.post(
        current_path,
        json={
            "event_id": event_id,
            "guest_id": guest.id,
            "status": "approved",
            "message": "Welcome!",
        },
        headers=auth(calendar),
    )
    assert ok.status_code == 200
    assert len(sim.state.writes_since(since)) == 1


async def test_declining_a_paid_guest_needs_an_explicit_refund_decision(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[0]
    event_id = sim.state.add_event(
        calendar.id, guests=4, status_mix={"approved": 1.0}, paid_share=1.0
    )
    first, second = list(sim.state.event(event_id).guests.values())[:2]
    assert first.paid

    refused = await http.post(
        "/v1/events/guests/update-status",
        json={"event_id": event_id, "guest_id": first.id, "status": "declined"},
        headers=auth(calendar),
    )
    assert refused.status_code == 400 and "should_refund" in refused.json()["message"]
    assert first.approval_status == "approved"

    for guest, refund in ((first, False), (second, True)):
        response = await http.post(
            "/public/v1/event/update-guest-status",
            json={
                "event_api_id": event_id,
                "guest": {"type": "api_id", "api_id": guest.id},
                "status": "declined",
                "should_refund": refund,
            },
            headers=auth(calendar),
        )
        assert response.status_code == 200
        assert guest.approval_status == "declined"
    assert sim.state.writes[-1].should_refund is True


async def test_add_guests_and_send_invites(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    calendar = sim.calendars[1]
    event_id = sim.state.add_event(calendar.id, guests=3, status_mix={"approved": 1.0})
    existing = guest_with(sim, event_id)
    since = len(sim.state.writes)

    added = await http.post(
        "/public/v1/event/add-guests",
        json={
            "event_api_id": event_id,
            "guests": [{"email": "New.Person@Acme.com", "name": "New Person"}],
        },
        headers=auth(calendar),
    )
    assert added.status_code == 200 and added.json() == {}
    invited = await http.post(
        "/v1/events/guests/send-invites",
        json={
            "event_id": event_id,
            "guests": [{"email": "friend@gmail.com"}, {"email": existing.person.email}],
        },
        headers=auth(calendar),
    )
    assert invited.status_code == 200
    rejected = await http.post(
        "/v1/events/guests/add",
        json={
            "event_id": event_id,
            "guests": [{"email": "ok@acme.com"}, {"email": "not-an-email"}],
        },
        headers=auth(calendar),
    )
    assert rejected.status_code == 400

    guests = await all_pages(http, "/v1/events/guests/list", calendar, event_id=event_id)
    status = {g["user_email"]: g["approval_status"] for g in guests}
    assert status["new.person@acme.com"] == "approved"
    assert status["friend@gmail.com"] == "invited"
    assert status[existing.person.email] == "approved"  # an invite never downgrades a guest
    assert "ok@acme.com" not in status  # a bad request applies nothing
    log = [(w.endpoint, w.email, w.changed) for w in sim.state.writes_since(since)]
    assert log == [
        ("add-guests", "new.person@acme.com", True),
        ("send-invites", "friend@gmail.com", True),
        ("send-invites", existing.person.email, False),
    ]


# --- scale -------------------------------------------------------------------------------------


async def test_pagination_returns_each_of_10000_guests_once(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    calendar = sim.calendars[1]
    event_id = sim.state.add_event(
        calendar.id, guests=10_000, status_mix={"approved": 0.3, "invited": 0.6, "declined": 0.1}
    )
    ids: list[str] = []
    cursor = None
    flipped = False
    while True:
        params: dict[str, str | int] = {
            "event_id": event_id,
            "pagination_limit": 100,
            "sort_column": "email",
        }
        if cursor:
            params["pagination_cursor"] = cursor
        body = (
            await http.get("/v1/events/guests/list", params=params, headers=auth(calendar))
        ).json()
        assert len(body["entries"]) <= 100
        ids += [g["id"] for g in body["entries"]]
        if not flipped:
            # A write between pages must not shift the page boundary.
            sim.state.update_guest_status(
                sim.state.calendar(calendar.id),
                sim.state.event(event_id),
                guest_with(sim, event_id, approval_status="invited"),
                "approved",
                should_refund=None,
                path="test",
            )
            flipped = True
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert len(ids) == len(set(ids)) == 10_000


async def test_a_50000_guest_event_has_exact_counts() -> None:
    # How fast it generates is bench/simulator.py's business, not a functional test's.
    state = SimulatorState(SimulatorConfig(calendars=1, events_per_calendar=0, now=NOW))
    calendar = state.calendars[0]
    big = state.add_event(calendar.id, guests=50_000, status_mix={"approved": 0.4, "invited": 0.6})
    guests = state.event(big).guests.values()
    assert Counter(g.approval_status for g in guests) == {"approved": 20_000, "invited": 30_000}
    assert len({g.person.email for g in guests}) == 50_000

    queue = state.add_event(calendar.id, guests=300, status_mix={"pending_approval": 1.0})
    assert Counter(g.approval_status for g in state.event(queue).guests.values()) == {
        "pending_approval": 300
    }


async def test_seeded_data_is_realistic_and_deterministic() -> None:
    def snapshot(state: SimulatorState) -> list[Any]:
        rows = []
        for calendar in state.calendars:
            for e in state.calendar(calendar.id).events.values():
                guests = [
                    (g.id, g.person.email, g.approval_status, g.checked_in_at)
                    for g in e.guests.values()
                ]
                rows.append((calendar.api_key, e.id, e.name, e.city.name, e.start_at, guests))
        return rows

    config = SimulatorConfig(seed=11, calendars=2, events_per_calendar=12, now=NOW)
    first, again = SimulatorState(config), SimulatorState(config)
    assert snapshot(first) == snapshot(again)
    assert snapshot(first) != snapshot(SimulatorState(SimulatorConfig(seed=12, now=NOW)))

    assert all(c.api_key.startswith("secret-sim-") for c in first.calendars)
    events = [e for c in first.calendars for e in first.calendar(c.id).events.values()]
    guests = [g for e in events for g in e.guests.values()]
    assert {g.approval_status for g in guests} == {
        "approved", "session", "pending_approval", "invited", "declined", "waitlist"
    }  # fmt: skip
    assert len({e.city.name for e in events}) >= 5
    assert any(e.start_at < NOW.timestamp() for e in events)
    assert any(e.start_at > NOW.timestamp() for e in events)
    assert any(g.checked_in_at for g in guests)
    assert all(
        g.checked_in_at is None for g in guests if g.person and g.approval_status == "invited"
    )
    assert any(g.paid for g in guests)
    domains = {g.person.email.split("@")[1] for g in guests}
    assert "gmail.com" in domains and "acme.com" in domains
    # Invite-heavy events exist, where invitations outnumber registrations.
    assert any(
        sum(g.approval_status == "invited" for g in e.guests.values()) > len(e.guests) / 2
        for e in events
    )


# --- rate limit, latency, faults -------------------------------------------------------------


async def test_rate_limit_blocks_then_recovers() -> None:
    config = SimulatorConfig(
        calendars=2, events_per_calendar=1, guests_per_event=5, now=NOW,
        rate_limit=5, rate_window_seconds=2.0, rate_block_seconds=1.0,
    )  # fmt: skip
    async with running_simulator(config) as sim, httpx.AsyncClient(base_url=sim.base_url) as http:
        calendar, other = sim.calendars
        first = await http.get("/v1/users/get-self", headers=auth(calendar))
        assert first.headers["X-RateLimit-Limit"] == "5"
        assert first.headers["X-RateLimit-Remaining"] == "4"
        assert int(first.headers["X-RateLimit-Reset"]) >= time.time()
        for _ in range(2):
            await http.get("/v1/users/get-self", headers=auth(calendar))
        for _ in range(2):  # GET and POST share one budget
            await http.post("/v1/events/guests/add", json={}, headers=auth(calendar))

        limited = await http.get("/v1/users/get-self", headers=auth(calendar))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert (await http.get("/v1/users/get-self", headers=auth(other))).status_code == 200

        await asyncio.sleep(0.5)
        assert (await http.get("/v1/users/get-self", headers=auth(calendar))).status_code == 429
        await asyncio.sleep(0.6)
        assert (await http.get("/v1/users/get-self", headers=auth(calendar))).status_code == 200
        assert sim.state.stats()["rate_limited"] == 2

        sim.state.configure(rate_limit=None)
        for _ in range(10):
            response = await http.get("/v1/users/get-self", headers=auth(calendar))
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers


async def test_organization_keys_get_the_higher_limit() -> None:
    config = SimulatorConfig(calendars=1, organizations=1, events_per_calendar=0, now=NOW)
    async with running_simulator(config) as sim, httpx.AsyncClient(base_url=sim.base_url) as http:
        (organization,) = sim.state.organizations
        calendar = sim.calendars[0]
        assert calendar.organization_id is None and len(organization.calendars) == 3
        assert all(c.organization_id == organization.id for c in organization.calendars)
        org_limit = (await http.get("/v1/users/get-self", headers=auth(organization))).headers
        plain_limit = (await http.get("/v1/users/get-self", headers=auth(calendar))).headers
        assert org_limit["X-RateLimit-Limit"] == "500"
        assert plain_limit["X-RateLimit-Limit"] == "200"


async def test_latency_injection() -> None:
    # A latency far above what a local request costs even on a loaded machine, so "the
    # delay is gone" is told apart from "the machine is slow" without a tight bound.
    latency = 1.0
    config = SimulatorConfig(calendars=1, events_per_calendar=0, now=NOW, latency_seconds=latency)
    async with running_simulator(config) as sim, httpx.AsyncClient(base_url=sim.base_url) as http:
        started = time.perf_counter()
        await http.get("/v1/users/get-self", headers=auth(sim.calendars[0]))
        assert time.perf_counter() - started >= latency
        sim.state.configure(latency_seconds=0)
        started = time.perf_counter()
        await http.get("/v1/users/get-self", headers=auth(sim.calendars[0]))
        assert time.perf_counter() - started < latency


async def test_injected_500s_follow_the_rate_and_change_nothing() -> None:
    config = SimulatorConfig(
        calendars=1, events_per_calendar=0, now=NOW, rate_limit=None, error_rate=0.3, fault_seed=3
    )
    async with running_simulator(config) as sim, httpx.AsyncClient(base_url=sim.base_url) as http:
        calendar = sim.calendars[0]
        event_id = sim.state.add_event(
            calendar.id, guests=200, status_mix={"pending_approval": 1.0}
        )
        statuses: Counter[int] = Counter()
        for guest in list(sim.state.event(event_id).guests.values()):
            response = await http.post(
                "/v1/events/guests/update-status",
                json={"event_id": event_id, "guest_id": guest.id, "status": "approved"},
                headers=auth(calendar),
            )
            statuses[response.status_code] += 1
            approved = guest.approval_status == "approved"
            assert approved == (response.status_code == 200)
        assert 40 <= statuses[500] <= 80
        assert len(sim.state.writes) == statuses[200]
        assert sim.state.stats()["injected_errors"] == statuses[500]


async def test_timeouts_hang_and_apply_nothing_unless_asked() -> None:
    config = SimulatorConfig(
        calendars=1, events_per_calendar=0, now=NOW, timeout_rate=1.0, hang_seconds=5.0
    )
    async with (
        running_simulator(config) as sim,
        httpx.AsyncClient(base_url=sim.base_url, timeout=0.3) as http,
    ):
        calendar = sim.calendars[0]
        event_id = sim.state.add_event(calendar.id, guests=2, status_mix={"pending_approval": 1.0})
        first, second = sim.state.event(event_id).guests.values()
        body = {"event_id": event_id, "status": "approved"}
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                "/v1/events/guests/update-status",
                json={**body, "guest_id": first.id},
                headers=auth(calendar),
            )
        assert first.approval_status == "pending_approval" and not sim.state.writes

        sim.state.configure(timeouts_apply_writes=True)
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                "/v1/events/guests/update-status",
                json={**body, "guest_id": second.id},
                headers=auth(calendar),
            )
        assert second.approval_status == "approved"  # the write landed, only the answer was lost
        assert len(sim.state.writes) == 1
    # Leaving the block released the hung requests instead of waiting 5 s for them.


# --- webhooks and control endpoints ----------------------------------------------------------


async def test_webhooks_are_posted_on_status_change_and_add(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hooks/token-123", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    calendar = sim.calendars[0]
    event_id = sim.state.add_event(calendar.id, guests=1, status_mix={"pending_approval": 1.0})
    guest = guest_with(sim, event_id)
    try:
        sim.state.configure(webhook_url=f"http://127.0.0.1:{port}/hooks/token-123")
        await http.post(
            "/v1/events/guests/update-status",
            json={"event_id": event_id, "guest_id": guest.id, "status": "approved"},
            headers=auth(calendar),
        )
        await http.post(
            "/v1/events/guests/add",
            json={"event_id": event_id, "guests": [{"email": "hook@acme.com"}]},
            headers=auth(calendar),
        )
        updated = await asyncio.wait_for(received.get(), 5)
        registered = await asyncio.wait_for(received.get(), 5)
    finally:
        sim.state.configure(webhook_url=None)
        await runner.cleanup()
    assert updated["type"] == "guest.updated"
    assert updated["data"]["id"] == guest.id
    assert updated["data"]["approval_status"] == "approved"
    assert updated["data"]["event"]["id"] == event_id
    assert registered["type"] == "guest.registered"
    assert registered["data"]["user_email"] == "hook@acme.com"


async def test_control_endpoints(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    calendars = (await http.get("/_sim/calendars")).json()
    assert [c["api_key"] for c in calendars] == [c.api_key for c in sim.calendars]

    created = await http.post(
        "/_sim/events",
        json={"calendar_id": sim.calendars[0].id, "name": "Founders Dinner", "city": "Lisbon",
              "guests": 300, "status_mix": {"pending_approval": 1.0}},
    )  # fmt: skip
    assert created.status_code == 200 and created.json()["guests"] == 300
    event = sim.state.event(created.json()["id"])
    assert event.name == "Founders Dinner" and event.city.name == "Lisbon"
    assert (await http.post("/_sim/events", json={"calendar_id": "cal-nope"})).status_code == 404

    patched = await http.post("/_sim/config", json={"rate_limit": 50, "latency_seconds": 0})
    assert patched.json()["rate_limit"] == 50 and sim.state.config.rate_limit == 50
    lifted = await http.post("/_sim/config", json={"rate_limit": None, "reset_rate_limits": True})
    assert lifted.json()["rate_limit"] is None
    assert (await http.post("/_sim/config", json={"seed": 1})).status_code == 400

    total = (await http.get("/_sim/writes")).json()["total"]
    assert total == len(sim.state.writes)
    assert (await http.get("/_sim/writes", params={"since": total})).json()["entries"] == []
    key = {"x-luma-api-key": sim.calendars[0].api_key}
    assert (await http.get("/v1/users/get-self", headers=key)).status_code == 200
    stats = (await http.get("/_sim/stats")).json()
    assert stats["requests"][sim.calendars[0].id] > 0
    assert stats["writes"] == total


# --- organization keys ------------------------------------------------------------------------


async def test_an_organization_key_opens_its_calendars_and_their_events_only(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    """`/v1/organizations/...` list the organization's calendars and events; event routes
    take its calendars' events (a change logged on the event's calendar); a calendar's own
    routes, which name no calendar, refuse the key, and the organization routes a calendar
    key."""
    organization = sim.state.add_organization("Org Sim", calendars=3, events=2)
    outsider = sim.calendars[0]
    calendars = await all_pages(
        http, "/v1/organizations/calendars/list", organization, pagination_limit="2"
    )
    assert [c["id"] for c in calendars] == [c.id for c in organization.calendars]
    events = await all_pages(
        http, "/v1/organizations/events/list", organization, pagination_limit="4"
    )
    assert len(events) == 6 and len({e["id"] for e in events}) == 6
    assert {e["calendar_id"] for e in events} == {c.id for c in organization.calendars}
    assert all(
        e["managing_calendars"][0]["id"] == e["calendar_id"] == e["calendar_api_id"] for e in events
    )
    assert [e["start_at"] for e in events] == sorted(e["start_at"] for e in events)

    own = events[0]
    guest = next(iter(sim.state.event(own["id"]).guests.values()))
    headers = auth(organization)
    got = await http.get("/v1/events/get", params={"event_id": own["id"]}, headers=headers)
    assert got.status_code == 200 and got.json()["calendar_id"] == own["calendar_id"]
    since = len(sim.state.writes)
    body = {
        "event_id": own["id"],
        "guest_id": guest.id,
        "status": "declined",
        "should_refund": False,
    }
    written = await http.post("/v1/events/guests/update-status", json=body, headers=headers)
    assert written.status_code == 200, written.text
    (write,) = sim.state.writes_since(since)
    assert (write.calendar_id, write.event_id) == (own["calendar_id"], own["id"])

    foreign = next(iter(sim.state.calendar(outsider.id).events))
    for path, params in (
        ("/v1/events/get", {"event_id": foreign}),
        ("/v1/events/guests/list", {"event_id": foreign}),
    ):
        assert (await http.get(path, params=params, headers=headers)).status_code == 404
    for path in ("/v1/calendars/get", "/v1/calendars/events/list", "/v1/calendars/contacts/list"):
        refused = await http.get(path, headers=headers)
        assert refused.status_code == 403 and "organization key" in refused.json()["message"]
    for path in ("/v1/organizations/calendars/list", "/v1/organizations/events/list"):
        assert (await http.get(path, headers=auth(outsider))).status_code == 403
    self_ = (await http.get("/v1/users/get-self", headers=headers)).json()
    assert self_["id"] == sim.state.organization(organization.id).owner.id


async def test_an_organizations_calendars_share_its_limit() -> None:
    config = SimulatorConfig(
        calendars=0, organizations=1, calendars_per_organization=2, events_per_calendar=0,
        now=NOW, org_rate_limit=3, rate_block_seconds=60,
    )  # fmt: skip
    async with running_simulator(config) as sim, httpx.AsyncClient(base_url=sim.base_url) as http:
        (organization,) = sim.state.organizations
        statuses = [
            (
                await http.get("/v1/organizations/calendars/list", headers=auth(organization))
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        # The calendars' own keys keep their own budgets.
        for calendar in organization.calendars:
            assert (await http.get("/v1/calendars/get", headers=auth(calendar))).status_code == 200


async def test_organizations_over_the_control_endpoints(http: httpx.AsyncClient) -> None:
    made = await http.post(
        "/_sim/organizations", json={"name": "Ctl Org", "calendars": 2, "events_per_calendar": 1}
    )
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["name"] == "Ctl Org" and len(body["calendars"]) == 2
    listed = (await http.get("/_sim/organizations")).json()
    assert body in listed
    calendars = {c["id"]: c for c in (await http.get("/_sim/calendars")).json()}
    assert all(calendars[c["id"]]["organization_id"] == body["id"] for c in body["calendars"])
    answer = await http.get(
        "/v1/organizations/calendars/list", headers={"x-luma-api-key": body["api_key"]}
    )
    assert [c["name"] for c in answer.json()["entries"]] == [c["name"] for c in body["calendars"]]
