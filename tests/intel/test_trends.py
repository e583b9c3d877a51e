"""Trend numbers against hand counts made from the Luma simulator's own state.

The calendar is seeded by the simulator (past events with check-ins, upcoming ones with
approvals), synced through the real sync workflow, and every expected figure is counted here
independently from the simulator's guests, never through our code.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.luma_access import LumaAccess
from activities.summary import SummaryActivities, summary_text
from intel.trends import Dimension, History, new_and_repeat, org_history, trends
from luma.emails import identity_key
from services.automations import Automations
from standins.luma import RunningSimulator
from store.models import utcnow
from store.orgs import save_org
from tests.workflows.conftest import automations, job_defaults, pool, simulator  # noqa: F401
from workflows.contracts.summary import EventRef

REGISTERED = {"approved", "session", "pending_approval", "waitlist", "declined"}
APPROVED = {"approved", "session"}


async def seeded_org(sessions, keybox, sim: RunningSimulator, events: int = 10) -> tuple[int, Any]:
    calendar = sim.state.add_calendar(
        f"Trends {uuid.uuid4().hex[:6]}", events=events, guests_per_event=30
    )
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=calendar.id,
            name=calendar.name,
            luma_key=calendar.api_key,
            keybox=keybox,
        )
    return org.id, sim.state.calendar(calendar.id)


def hand_counts(calendar: Any, key_of, now: datetime) -> dict[str, dict[str, int]]:
    """Registered, approved, attended, no-shows per key, from the simulator's guests."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in calendar.events.values():
        over = event.end_at < now.timestamp()
        for guest in event.guests.values():
            row = counts[key_of(event, guest)]
            status = guest.approval_status
            row["registered"] += status in REGISTERED
            row["approved"] += status in APPROVED
            row["attended"] += guest.checked_in_at is not None
            row["no_shows"] += status in APPROVED and over and guest.checked_in_at is None
            row["approved_past"] += status in APPROVED and over
    return {key: dict(row) for key, row in counts.items()}


def as_counts(tally: Any) -> dict[str, int]:
    return {
        "registered": tally.registered,
        "approved": tally.approved,
        "attended": tally.attended,
        "no_shows": tally.no_shows,
        "approved_past": tally.approved_past,
    }


def sorted_items(row: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(row.items())


def month_of(event: Any, _guest: Any = None) -> str:
    return datetime.fromtimestamp(event.start_at, UTC).strftime("%Y-%m")


KEYS = {
    Dimension.CITY: lambda event, guest: event.city.name,
    Dimension.MONTH: month_of,
    Dimension.DOMAIN: lambda event, guest: guest.person.email.lower().rpartition("@")[2],
    Dimension.EVENT: lambda event, guest: event.id,
}


@pytest.fixture
async def synced(sessions, keybox, simulator, automations: Automations):  # noqa: F811
    org_id, calendar = await seeded_org(sessions, keybox, simulator)
    other_id, _ = await seeded_org(sessions, keybox, simulator, events=4)
    for org in (org_id, other_id):
        await (await automations.sync_now(org)).result()
    return org_id, calendar


@pytest.mark.parametrize("dimension", list(KEYS))
async def test_trends_match_hand_counts(sessions, synced, dimension: Dimension) -> None:
    org_id, calendar = synced
    now = utcnow()
    expected = hand_counts(calendar, KEYS[dimension], now)
    async with sessions() as session:
        report = await trends(session, org_id=org_id, dimension=dimension, now=now, limit=1000)
    got = {row.key: as_counts(row) for row in report.rows}
    if dimension is Dimension.EVENT:  # seeded events may share a name: compare per event row
        # (rows, not a dict by key: two events of one name are two rows with the same key)
        assert sorted(sorted_items(as_counts(row)) for row in report.rows) == sorted(
            map(sorted_items, expected.values())
        )
    else:
        assert got == expected
    assert report.more == 0
    total = {k: sum(row[k] for row in expected.values()) for k in next(iter(expected.values()))}
    assert as_counts(report.total) == total
    assert report.total.events == len(calendar.events)


async def test_rates_and_order(sessions, synced) -> None:
    org_id, calendar = synced
    now = utcnow()
    async with sessions() as session:
        by_month = await trends(session, org_id=org_id, dimension=Dimension.MONTH, now=now)
        by_domain = await trends(
            session, org_id=org_id, dimension=Dimension.DOMAIN, now=now, limit=3
        )
    months = [row.key for row in by_month.rows]
    assert months == sorted(months)
    assert sorted({month_of(e) for e in calendar.events.values()})[-12:] == months
    for row in by_month.rows:
        assert row.approval_rate == (row.approved / row.registered if row.registered else None)
        if row.approved_past:
            assert row.no_show_rate == pytest.approx(row.no_shows / row.approved_past)
            assert row.attendance_rate == pytest.approx(row.attended / row.approved_past)
    attended = [row.attended for row in by_domain.rows]
    assert attended == sorted(attended, reverse=True) and len(attended) == 3
    assert by_domain.more > 0


async def test_history_and_repeat_guests(sessions, synced) -> None:
    org_id, calendar = synced
    now = utcnow()
    events = sorted(calendar.events.values(), key=lambda e: e.start_at)
    past = [e for e in events if e.end_at < now.timestamp()]
    latest = past[-1]
    earlier = [
        e
        for e in past
        if e.id != latest.id
        and e.start_at < latest.start_at
        and any(g.approval_status in APPROVED for g in e.guests.values())
    ]
    rates = []
    for event in earlier:
        approved = [g for g in event.guests.values() if g.approval_status in APPROVED]
        rates.append(sum(g.checked_in_at is not None for g in approved) / len(approved))
    seen_before = {  # one person, one inbox: the same identity rule as profiles
        identity_key(g.person.email)
        for e in events
        if e.start_at < latest.start_at
        for g in e.guests.values()
        if g.approval_status in REGISTERED
    }
    registered = {
        identity_key(g.person.email)
        for g in latest.guests.values()
        if g.approval_status in REGISTERED
    }
    repeat = len(registered & seen_before)
    async with sessions() as session:
        start = datetime.fromtimestamp(latest.start_at, UTC)
        history = await org_history(
            session, org_id=org_id, now=now, before=start, exclude=latest.id
        )
        new, again = await new_and_repeat(
            session, org_id=org_id, luma_event_id=latest.id, start_at=start
        )
    assert history.events == len(earlier)
    if rates:
        assert history.attendance_rate == pytest.approx(sum(rates) / len(rates))
        assert history.no_show_rate == pytest.approx(1 - sum(rates) / len(rates))
    assert (new, again) == (len(registered) - repeat, repeat)


async def test_post_event_summary_compares_with_history(sessions, keybox, pool, synced) -> None:  # noqa: F811
    org_id, calendar = synced
    now = utcnow()
    past = sorted(
        (e for e in calendar.events.values() if e.end_at < now.timestamp()),
        key=lambda e: e.start_at,
    )
    latest, earlier = past[-1], past[:-1]

    def rates(event: Any) -> tuple[float, float] | None:
        approved = [g for g in event.guests.values() if g.approval_status in APPROVED]
        if not approved:
            return None
        shown = sum(g.checked_in_at is not None for g in approved) / len(approved)
        return shown, 1 - shown

    history = [r for r in map(rates, earlier) if r is not None]
    mine = rates(latest)
    assert mine is not None and history

    activities = SummaryActivities(LumaAccess(sessions, keybox, pool))
    result = await ActivityEnvironment().run(
        activities.compute_summary, EventRef(org_id, latest.id)
    )

    def pct(value: float) -> str:
        return f"{round(100 * value)}%"

    average = sum(a for a, _ in history) / len(history)
    no_shows = sum(n for _, n in history) / len(history)
    lines = result.text.splitlines()
    assert (
        f"Attendance {pct(mine[0])} vs your average {pct(average)} "
        f"over {len(history)} earlier events."
    ) in lines
    assert f"No-show rate {pct(mine[1])} vs your average {pct(no_shows)}." in lines
    assert any(line.startswith("New guests ") for line in lines)


def test_summary_text_without_history_says_nothing_of_it() -> None:
    figures = {
        "registered": 10,
        "approved": 8,
        "declined": 1,
        "waitlisted": 1,
        "pending": 0,
        "invited": 0,
        "checked_in": 6,
        "attendance_rate": 0.75,
        "no_shows": 2,
        "top_companies": [],
        "top_domains": [],
        "repeat_guests": 3,
        "new_guests": 7,
        "returning_guests": 3,
    }
    text = summary_text("Meetup", figures, History(0, None, None))
    assert "New guests 7 · returning 3 (registered for an earlier event)." in text
    assert "your average" not in text
    one = summary_text("Meetup", figures, History(1, 0.5, 0.5))
    assert "Attendance 75% vs your average 50% over 1 earlier event." in one
    assert "No-show rate 25% vs your average 50%." in one


async def test_unknown_org_sees_nothing(sessions) -> None:
    async with sessions() as session:
        report = await trends(session, org_id=10**9, dimension=Dimension.CITY, now=utcnow())
    assert report.rows == [] and report.total.registered == 0


async def test_events_of_one_name_are_one_row_each(
    sessions,
    keybox,
    simulator,  # noqa: F811
    automations,  # noqa: F811
) -> None:
    """A weekly meetup held twice in a month, and twice on one day: still a row per event."""
    org_id, calendar = await seeded_org(sessions, keybox, simulator, events=0)
    base = datetime(2026, 11, 3, 18, tzinfo=UTC)
    for day, hour, guests in ((0, 0, 3), (7, 0, 5), (7, 3, 7), (14, 0, 9)):
        simulator.state.add_event(
            calendar.id,
            name="Weekly Meetup",
            start_at=base.replace(day=base.day + day, hour=base.hour + hour),
            guests=guests,
            status_mix={"approved": 1.0},
        )
    await (await automations.sync_now(org_id)).result()
    async with sessions() as session:
        report = await trends(session, org_id=org_id, dimension=Dimension.EVENT, now=utcnow())
    assert [(row.key, row.registered) for row in report.rows] == [
        ("Weekly Meetup", 3),
        ("Weekly Meetup (2026-11)", 5),
        ("Weekly Meetup (2026-11-10)", 7),
        ("Weekly Meetup (2026-11-17)", 9),
    ]
