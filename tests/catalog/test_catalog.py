"""Fuzzy event names, keyset paging over the cache, person history and CSV safety."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.events import EventFilter, event_counts, list_events, resolve_event
from catalog.guest_filter import GuestFilter
from catalog.guest_query import BadCursor, GuestQuery, GuestSort, cursor_for, guest_page
from catalog.guests import csv_rows, person_history, safe_cell
from store import cache, orgs
from store.models import Event, Guest

NAMES = [
    "Main Conference 2026",
    "Summer Mixer",
    "Lisbon Founders Workshop",
    "Founders Dinner",
    "Berlin Founders Workshop",
]


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def events(names=NAMES) -> list[Event]:
    return [Event(luma_event_id=f"evt-{i}", name=name) for i, name in enumerate(names)]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("the main conference", "Main Conference 2026"),
        ("'Summer Mixer'", "Summer Mixer"),
        ("sumer mixr", "Summer Mixer"),
        ("lisbon workshop", "Lisbon Founders Workshop"),
        ("evt-3", "Founders Dinner"),
    ],
)
def test_resolve_event(words: str, expected: str) -> None:
    match = resolve_event(events(), words, now=NOW)
    assert match.event is not None and match.event.name == expected
    assert match.how == "exact" and match.rule is None


def test_ambiguous_and_unknown_names() -> None:
    match = resolve_event(events(), "founders workshop", now=NOW)
    assert match.ambiguous
    assert {e.name for e in match.candidates} == {
        "Lisbon Founders Workshop",
        "Berlin Founders Workshop",
    }
    assert resolve_event(events(), "quantum picnic", now=NOW).event is None
    assert not resolve_event(events(), "quantum picnic", now=NOW).candidates
    assert resolve_event(events(), "quantum picnic", now=NOW).how == "none"


def _series(*days: int | None) -> list[Event]:
    """Same-named events `days` from NOW (None: no date yet), and one other event."""
    return [
        Event(
            luma_event_id=f"dsn-{i}",
            name="Design Systems Night",
            start_at=None if day is None else NOW + timedelta(days=day),
        )
        for i, day in enumerate(days)
    ] + [Event(luma_event_id="other", name="Founders Dinner", start_at=NOW)]


@pytest.mark.parametrize("words", ["Design Systems Night", "design systems nite", "dsn-1"])
def test_shared_names_read_the_next_one_and_say_so(words: str) -> None:
    match = resolve_event(_series(-300, 40, 10, -20), words, now=NOW)
    if words == "dsn-1":  # an id names one event, however many share its name
        assert match.how == "exact" and match.event is not None
        assert match.event.luma_event_id == "dsn-1"
        return
    assert match.how == "rule" and match.event is not None
    assert match.event.luma_event_id == "dsn-2"  # in 10 days: the next upcoming one
    assert match.rule == "the next one" and match.others == 3
    assert [e.luma_event_id for e in match.candidates] == ["dsn-2", "dsn-1", "dsn-3", "dsn-0"]


def test_shared_names_all_past_read_the_latest() -> None:
    match = resolve_event(_series(-300, -20, None), "design systems night", now=NOW)
    assert match.how == "rule" and match.event is not None
    assert match.event.luma_event_id == "dsn-1"
    assert match.rule == "the most recent one" and match.others == 2


def test_shared_names_never_pick_for_a_write() -> None:
    match = resolve_event(_series(-300, 10), "Design Systems Night", now=NOW, writes=True)
    assert match.ambiguous and match.event is None
    assert [e.luma_event_id for e in match.candidates] == ["dsn-1", "dsn-0"]
    single = resolve_event(_series(10), "Design Systems Night", now=NOW, writes=True)
    assert single.how == "exact" and single.event is not None


async def test_listing_paging_and_history(sessions, keybox, unique) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        org = await orgs.save_org(
            session,
            calendar_id=f"cal-{unique}",
            name="C",
            luma_key=f"secret-{unique}",
            keybox=keybox,
        )
        await cache.upsert_events(
            session,
            org_id=org.id,
            events=[
                {
                    "luma_event_id": "evt-a",
                    "name": "Past Party",
                    "city": "Dubai",
                    "start_at": now - timedelta(days=3),
                },
                {
                    "luma_event_id": "evt-b",
                    "name": "Future Fair",
                    "city": "Lisbon",
                    "start_at": now + timedelta(days=3),
                },
            ],
        )
        guests: list[dict[str, Any]] = [
            {
                "luma_guest_id": f"g{i}",
                "email": f"p{i}@{'acme.com' if i % 2 else 'gmail.com'}",
                "normalized_email": f"p{i}@{'acme.com' if i % 2 else 'gmail.com'}",
                "email_domain": "acme.com" if i % 2 else "gmail.com",
                "name": f"Person {i:03d}",
                "approval_status": "approved" if i % 3 else "pending_approval",
                "checked_in_at": now if i < 5 else None,
            }
            for i in range(57)
        ]
        await cache.upsert_guests(session, org_id=org.id, luma_event_id="evt-b", guests=guests)
        await cache.upsert_guests(
            session,
            org_id=org.id,
            luma_event_id="evt-a",
            guests=[{**guests[1], "name": "=cmd|' /C calc'!A0"}],
        )

    async with sessions() as session:
        upcoming = await list_events(
            session, org_id=org.id, query=EventFilter(when="upcoming"), now=now
        )
        assert [e.name for e in upcoming] == ["Future Fair"]
        in_dubai = await list_events(
            session, org_id=org.id, query=EventFilter(city="dubai"), now=now
        )
        assert [e.name for e in in_dubai] == ["Past Party"]
        counts = await event_counts(session, org_id=org.id, event=upcoming[0])
        assert (counts.approved, counts.pending, counts.checked_in) == (38, 19, 5)

        everyone = GuestQuery(org.id, "evt-b")
        seen, cursor, pages = [], None, []
        while True:
            page = await guest_page(session, everyone, after=cursor, limit=10)
            seen += [g.name for g in page.guests]
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(g["name"] for g in guests) and page.total == 57
        # Walking back from the last page gives the pages before it, in order.
        back = await guest_page(session, everyone, before=pages[-1].prev_cursor, limit=10)
        assert [g.name for g in back.guests] == [g.name for g in pages[-2].guests]
        assert back.next_cursor and back.prev_cursor
        acme = await guest_page(
            session,
            GuestQuery(org.id, "evt-b", GuestFilter(domains=["@ACME.com"], statuses=["approved"])),
            sort=GuestSort("email"),
            limit=100,
        )
        assert acme.total == len(
            [
                g
                for g in guests
                if g["email_domain"] == "acme.com" and g["approval_status"] == "approved"
            ]
        )
        with pytest.raises(BadCursor):
            await guest_page(session, everyone, after="garbage!")
        with pytest.raises(BadCursor):  # a cursor of another order
            await guest_page(session, everyone, sort=GuestSort("email"), after=pages[0].next_cursor)
        # Hand-made cursors: a time without its zone, a row id out of range.
        timed = GuestSort("registered_at")
        for sort, forged in (
            (timed, cursor_for(timed, datetime(2020, 1, 1), 1)),
            (GuestSort(), cursor_for(GuestSort(), "a", 10**30)),
        ):
            with pytest.raises(BadCursor):
                await guest_page(session, everyone, sort=sort, after=forged)
        # A question asked for but left blank matches nobody, never everybody.
        blank = GuestQuery(org.id, "evt-b", GuestFilter(answer_label="   "))
        assert (await guest_page(session, blank)).total == 0

        history = await person_history(session, org_id=org.id, who="P1@acme.com")
        assert [event.name if event else None for _, event in history] == [
            "Future Fair",
            "Past Party",
        ]
        exported = csv_rows([guest for guest, _ in history])
        assert "'=cmd" in exported and "\n=cmd" not in exported
        assert all(isinstance(guest, Guest) for guest, _ in history)  # what csv_rows reads


@pytest.mark.parametrize(
    "cell", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1+1", "\r=1+1", "\tcmd", "\rcmd"]
)
def test_every_formula_start_is_neutralized(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    assert safe_cell("Ada Lovelace") == "Ada Lovelace" and safe_cell(3) == 3
