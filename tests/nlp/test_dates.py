"""Relative dates resolve against today in the chat's time zone, by the documented rules."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from nlp.context import ParseContext
from nlp.dates import find_dates

WEDNESDAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("phrase", "date_from", "date_to"),
    [
        ("today", "2026-11-25", "2026-11-25"),
        ("tonight", "2026-11-25", "2026-11-25"),
        ("tomorrow", "2026-11-26", "2026-11-26"),
        ("yesterday", "2026-11-24", "2026-11-24"),
        ("this weekend", "2026-11-28", "2026-11-29"),
        ("next weekend", "2026-12-05", "2026-12-06"),
        ("this week", "2026-11-23", "2026-11-29"),
        ("next week", "2026-11-30", "2026-12-06"),
        ("last week", "2026-11-16", "2026-11-22"),
        ("this month", "2026-11-01", "2026-11-30"),
        ("next month", "2026-12-01", "2026-12-31"),
        ("last month", "2026-10-01", "2026-10-31"),
        ("in march", "2027-03-01", "2027-03-31"),
        ("in november", "2026-11-01", "2026-11-30"),
        ("in december", "2026-12-01", "2026-12-31"),
        ("in feb 2027", "2027-02-01", "2027-02-28"),
        ("next 30 days", "2026-11-25", "2026-12-25"),
        ("in the next 2 weeks", "2026-11-25", "2026-12-09"),
        ("last 7 days", "2026-11-18", "2026-11-25"),
        ("later this month", "2026-11-25", "2026-11-30"),
        ("this friday", "2026-11-27", "2026-11-27"),
        ("on wednesday", "2026-11-25", "2026-11-25"),
        ("next friday", "2026-12-04", "2026-12-04"),
        ("dec 5", "2026-12-05", "2026-12-05"),
        ("the 5th of december", "2026-12-05", "2026-12-05"),
        ("nov 20", "2027-11-20", "2027-11-20"),
        ("2026-12-05", "2026-12-05", "2026-12-05"),
        ("between dec 1 and dec 10", "2026-12-01", "2026-12-10"),
        ("dec 31 to jan 2", "2026-12-31", "2027-01-02"),
        ("upcoming", "2026-11-25", None),
        ("past events", None, "2026-11-24"),
        ("next 3 events", "2026-11-25", None),
    ],
)
def test_phrase(phrase: str, date_from: str | None, date_to: str | None) -> None:
    found = find_dates(phrase, WEDNESDAY)
    assert found is not None
    assert (found.date_from, found.date_to) == (
        date.fromisoformat(date_from) if date_from else None,
        date.fromisoformat(date_to) if date_to else None,
    )


@pytest.mark.parametrize(
    ("phrase", "date_from"),
    [("in october", "2026-10-01"), ("in march", "2026-03-01"), ("nov 20", "2026-11-20")],
)
def test_past_tense_reads_the_last_one(phrase: str, date_from: str) -> None:
    found = find_dates(phrase, WEDNESDAY, past=True)
    assert found is not None and found.date_from == date.fromisoformat(date_from)


@pytest.mark.parametrize(
    ("today", "phrase", "date_from", "date_to"),
    [
        (date(2026, 12, 15), "next month", "2027-01-01", "2027-01-31"),
        (date(2028, 1, 10), "next month", "2028-02-01", "2028-02-29"),
        (date(2026, 11, 29), "this weekend", "2026-11-28", "2026-11-29"),  # on a Sunday
        (date(2026, 3, 20), "in march", "2026-03-01", "2026-03-31"),
    ],
)
def test_boundaries(today: date, phrase: str, date_from: str, date_to: str) -> None:
    found = find_dates(phrase, today)
    assert found is not None
    assert (found.date_from, found.date_to) == (
        date.fromisoformat(date_from),
        date.fromisoformat(date_to),
    )


@pytest.mark.parametrize("text", ["may i see the guests", "sat at the front", "summer mixer stats"])
def test_words_that_are_not_dates(text: str) -> None:
    assert find_dates(text, WEDNESDAY) is None


def test_today_is_the_chats_day_not_utcs() -> None:
    late_utc = datetime.fromisoformat("2026-11-25T22:30:00+00:00")
    assert ParseContext(now=late_utc, timezone="Asia/Dubai").today == date(2026, 11, 26)
    assert ParseContext(now=late_utc, timezone="America/New_York").today == date(2026, 11, 25)


def test_context_refuses_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ParseContext(now=datetime(2026, 11, 25, 10), timezone="UTC")
