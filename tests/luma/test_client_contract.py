"""Every client call against the simulator over HTTP, on both path generations.

The `pool` fixture is parametrized (current, legacy), so each test runs once per generation;
each test gets a fresh calendar, with its own key and data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

import pytest

from luma.client import LumaClient, LumaPool
from luma.errors import BadRequestError, InvalidKeyError, NotFoundError
from luma.models import ApprovalStatus
from standins.luma import CalendarHandle, RunningSimulator, SimulatorConfig, running_simulator

T0 = datetime(2027, 3, 1, 18, tzinfo=UTC)
GATED = {"approved": 0.4, "pending_approval": 0.3, "declined": 0.1, "waitlist": 0.2}


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(calendars=0, rate_limit=None)  # limits are tested elsewhere
    async with running_simulator(config) as running:
        yield running


@pytest.fixture(params=["current", "legacy"])
async def pool(sim: RunningSimulator, request: pytest.FixtureRequest) -> AsyncIterator[LumaPool]:
    async with LumaPool(sim.base_url, legacy_paths=request.param == "legacy") as pool:
        yield pool


@pytest.fixture
def calendar(sim: RunningSimulator) -> CalendarHandle:
    return sim.state.add_calendar()


@pytest.fixture
def luma(pool: LumaPool, calendar: CalendarHandle) -> LumaClient:
    return pool.client(calendar.api_key, budget_key=calendar.id)


@pytest.fixture
async def current_luma(
    sim: RunningSimulator, calendar: CalendarHandle
) -> AsyncIterator[LumaClient]:
    async with LumaPool(sim.base_url) as pool:
        yield pool.client(calendar.api_key, budget_key=calendar.id)


def legacy(pool: LumaPool) -> bool:
    return pool.paths.name == "legacy"


def requests_sent(sim: RunningSimulator, calendar: CalendarHandle) -> int:
    return sim.state.requests[calendar.id]


async def test_get_self(sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient) -> None:
    owner = sim.state.calendar(calendar.id).owner
    user = await luma.get_self()
    assert (user.id, user.email, user.name) == (owner.id, owner.email, owner.name)


async def test_list_events_with_after_and_before(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    ids = [
        sim.state.add_event(calendar.id, name=f"Day {day}", start_at=T0 + timedelta(days=day))
        for day in range(5)
    ]
    everything = [event async for event in luma.iter_events()]
    assert [event.id for event in everything] == ids

    page = await luma.list_events_page(after=T0 + timedelta(hours=12), limit=2)
    assert [event.id for event in page.entries] == ids[1:3]
    assert page.has_more and page.next_cursor
    rest = await luma.list_events_page(after=T0 + timedelta(hours=12), cursor=page.next_cursor)
    assert [event.id for event in rest.entries] == ids[3:]
    assert not rest.has_more

    window = [
        event.id
        async for event in luma.iter_events(
            after=T0 + timedelta(hours=12), before=T0 + timedelta(days=2, hours=12)
        )
    ]
    assert window == ids[1:3]

    first = everything[0]
    assert first.name == "Day 0"
    assert first.start_at == T0
    assert first.calendar_id == calendar.id
    assert first.city and first.country and first.full_address and first.timezone


async def test_get_event(sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient) -> None:
    event_id = sim.state.add_event(calendar.id, name="Founders Dinner", city="Lisbon", start_at=T0)
    event = await luma.get_event(event_id)
    assert (event.id, event.name, event.city, event.country) == (
        event_id,
        "Founders Dinner",
        "Lisbon",
        "Portugal",
    )
    assert event.start_at == T0
    assert event.end_at is not None and event.end_at > event.start_at
    assert event.url and event.visibility
    listed = (await luma.list_events_page()).entries[0]
    # Legacy get-event carries no tags (list entries do); everything else matches.
    same = {"raw", "tags"}
    assert listed.model_dump(exclude=same) == event.model_dump(exclude=same)


async def test_list_guests_filters_by_status_and_sorts(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    event_id = sim.state.add_event(calendar.id, guests=50, status_mix=GATED)
    pending = [guest async for guest in luma.iter_guests(event_id, status="pending_approval")]
    assert len(pending) == 15
    assert {guest.status for guest in pending} == {ApprovalStatus.PENDING_APPROVAL}

    by_email = [guest.email async for guest in luma.iter_guests(event_id, sort_column="email")]
    assert len(by_email) == 50 and by_email == sorted(by_email)
    page = await luma.list_guests_page(
        event_id, sort_column="email", sort_direction="desc", limit=10
    )
    assert [guest.email for guest in page.entries] == sorted(by_email, reverse=True)[:10]
    assert page.has_more

    approved = await luma.list_guests_page(event_id, status="approved", limit=100)
    registered = approved.entries[0]
    assert registered.registered_at is not None and registered.registered_at.tzinfo is not None
    assert registered.company is not None or registered.registration_answers == []


async def test_get_guest_by_email_and_by_id(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    event_id = sim.state.add_event(calendar.id, guests=5, status_mix={"approved": 1.0})
    other, _, listed, *_ = (await luma.list_guests_page(event_id)).entries
    assert await luma.get_guest(event_id, email=listed.email.upper()) == listed
    assert await luma.get_guest(event_id, guest_id=listed.id) == listed
    # Given both (as webhooks do), the exact id wins.
    assert await luma.get_guest(event_id, email=other.email, guest_id=listed.id) == listed
    with pytest.raises(ValueError):
        await luma.get_guest(event_id)


async def test_update_status_is_visible_afterwards(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient, pool: LumaPool
) -> None:
    event_id = sim.state.add_event(calendar.id, guests=4, status_mix={"pending_approval": 1.0})
    first, second, *_ = (await luma.list_guests_page(event_id)).entries
    writes_before = len(sim.state.writes)

    await luma.update_guest_status(event_id, email=first.email, status="approved")
    await luma.update_guest_status(event_id, guest_id=second.id, status="declined")

    assert (await luma.get_guest(event_id, guest_id=first.id)).status is ApprovalStatus.APPROVED
    assert (await luma.get_guest(event_id, email=second.email)).status is ApprovalStatus.DECLINED
    log = sim.state.writes_since(writes_before)
    assert [(w.guest_id, w.old_status, w.new_status) for w in log] == [
        (first.id, "pending_approval", "approved"),
        (second.id, "pending_approval", "declined"),
    ]

    if legacy(pool):
        sent = requests_sent(sim, calendar)
        with pytest.raises(BadRequestError, match="approved, declined"):
            await luma.update_guest_status(event_id, guest_id=first.id, status="waitlist")
        with pytest.raises(BadRequestError, match="current Luma API"):
            await luma.update_guest_status(
                event_id, guest_id=first.id, status="approved", message="Welcome!"
            )
        assert requests_sent(sim, calendar) == sent  # refused before sending
    else:
        await luma.update_guest_status(
            event_id, guest_id=first.id, status="waitlist", send_email=True, message="Soon!"
        )
        assert (await luma.get_guest(event_id, guest_id=first.id)).approval_status == "waitlist"


async def test_update_status_validates_messages_before_sending(
    sim: RunningSimulator, calendar: CalendarHandle, current_luma: LumaClient
) -> None:
    """Messages exist on the current API only (legacy refusals are checked above)."""
    luma = current_luma
    event_id = sim.state.add_event(calendar.id, guests=1, status_mix={"pending_approval": 1.0})
    guest = (await luma.list_guests_page(event_id)).entries[0]
    sent = requests_sent(sim, calendar)
    with pytest.raises(BadRequestError, match="200 characters"):
        await luma.update_guest_status(
            event_id, guest_id=guest.id, status="approved", message="x" * 201
        )
    with pytest.raises(BadRequestError, match="send_email"):
        await luma.update_guest_status(
            event_id, guest_id=guest.id, status="approved", send_email=False, message="Hi"
        )
    with pytest.raises(BadRequestError, match="status must be one of"):
        await luma.update_guest_status(event_id, guest_id=guest.id, status="invited")
    assert requests_sent(sim, calendar) == sent


async def test_declining_a_paid_guest_needs_a_refund_decision(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    event_id = sim.state.add_event(
        calendar.id, guests=2, status_mix={"approved": 1.0}, paid_share=1.0
    )
    paid, other = (await luma.list_guests_page(event_id)).entries
    assert paid.is_paid and other.is_paid

    with pytest.raises(BadRequestError) as refused:
        await luma.update_guest_status(event_id, guest_id=paid.id, status="declined")
    assert "should_refund" in refused.value.user_message
    assert (await luma.get_guest(event_id, guest_id=paid.id)).status is ApprovalStatus.APPROVED

    await luma.update_guest_status(
        event_id, guest_id=paid.id, status="declined", should_refund=True
    )
    await luma.update_guest_status(
        event_id, email=other.email, status="declined", should_refund=False
    )
    assert sim.state.writes[-2].should_refund is True
    assert sim.state.writes[-1].should_refund is False


async def test_add_guests_and_send_invites(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    event_id = sim.state.add_event(calendar.id)
    await luma.add_guests(event_id, [("New.Person@Example.com", "New Person"), ("x@y.io", None)])
    await luma.send_invites(event_id, ["Invitee@Example.org"])

    added = await luma.get_guest(event_id, email="new.person@example.com")
    assert (added.name, added.status) == ("New Person", ApprovalStatus.APPROVED)
    invited = await luma.get_guest(event_id, email="invitee@example.org")
    assert invited.status is ApprovalStatus.INVITED
    assert invited.invited_at is not None
    assert [w.endpoint for w in sim.state.writes if w.event_id == event_id] == [
        "add-guests",
        "add-guests",
        "send-invites",
    ]


async def test_list_people(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    sim.state.add_event(calendar.id, guests=130)
    expected = {person.email for person in sim.state.calendar(calendar.id).people}
    people = [person async for person in luma.iter_people()]
    assert len(people) == len(expected) > 100  # more than one page
    assert {person.email for person in people} == expected
    assert all(person.id and person.name for person in people)


async def test_bad_key_raises_invalid_key_without_showing_it(
    sim: RunningSimulator, pool: LumaPool
) -> None:
    bad_key = "secret-not-a-real-key-7Qx2"
    client = pool.client(bad_key, budget_key="cal-unknown")
    with pytest.raises(InvalidKeyError) as caught:
        await client.get_self()
    error = caught.value
    assert error.status == 401
    assert "Settings → API" in error.user_message
    for text in (str(error), repr(error), error.user_message, repr(client)):
        assert bad_key not in text
    assert repr(client).count("7Qx2") == 1


async def test_unknown_event_and_guest_raise_not_found(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await luma.get_event("evt-doesnotexist")
    assert caught.value.status == 404 and "not found" in str(caught.value)
    event_id = sim.state.add_event(calendar.id, guests=1)
    with pytest.raises(NotFoundError):
        await luma.get_guest(event_id, email="nobody@example.com")
    with pytest.raises(NotFoundError):
        await luma.list_guests_page("evt-doesnotexist")


async def test_pagination_over_ten_thousand_guests_returns_each_once(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    event_id = sim.state.add_event(calendar.id, guests=10_000)
    before = requests_sent(sim, calendar)
    ids = [guest.id async for guest in luma.iter_guests(event_id)]
    assert len(ids) == len(set(ids)) == 10_000
    assert set(ids) == set(sim.state.event(event_id).guests)
    assert requests_sent(sim, calendar) - before == 100


async def test_stopping_a_listing_early_cancels_the_prefetch(
    sim: RunningSimulator, calendar: CalendarHandle, luma: LumaClient
) -> None:
    event_id = sim.state.add_event(calendar.id, guests=1_000)
    before = requests_sent(sim, calendar)
    async with aclosing(luma.iter_guests(event_id)) as guests:
        async for _ in guests:
            break
    assert requests_sent(sim, calendar) - before <= 2  # the first page and at most one ahead
    assert (await luma.list_guests_page(event_id, limit=1)).has_more
