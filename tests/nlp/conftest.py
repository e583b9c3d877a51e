"""Fixtures for the nlp tests: a fixed "now", a fixed org event cache, a fake Gemini."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from nlp.context import KnownEvent, ParseContext
from standins.gemini import FakeGemini, RunningFake

NOW = datetime.fromisoformat("2026-11-25T10:00:00+00:00")  # a Wednesday
TIMEZONE = "Europe/Lisbon"
EVENTS = (
    KnownEvent("Summer Mixer", "Dubai", datetime.fromisoformat("2026-07-15T18:00:00+04:00")),
    KnownEvent(
        "Lisbon Founders Workshop", "Lisbon", datetime.fromisoformat("2026-12-03T09:30:00+00:00")
    ),
    KnownEvent(
        "Main Conference 2026", "Berlin", datetime.fromisoformat("2026-12-10T09:00:00+01:00")
    ),
    KnownEvent("Founders Dinner", "New York", datetime.fromisoformat("2026-11-28T19:00:00-05:00")),
    KnownEvent(
        "AI Builders Meetup", "Singapore", datetime.fromisoformat("2026-12-05T18:30:00+08:00")
    ),
    KnownEvent("Winter Gala", "London", datetime.fromisoformat("2026-12-19T19:00:00+00:00")),
    KnownEvent(
        "Product Demo Night", "San Francisco", datetime.fromisoformat("2026-11-20T18:00:00-08:00")
    ),
    KnownEvent(
        "Design Sprint Breakfast", "Dubai", datetime.fromisoformat("2027-01-14T08:00:00+04:00")
    ),
)
REPORT_KEY = pytest.StashKey[str]()


@pytest.fixture
def ctx() -> ParseContext:
    return ParseContext(now=NOW, timezone=TIMEZONE, events=EVENTS)


@pytest.fixture(scope="session")
def _running_gemini() -> Iterator[FakeGemini]:
    with RunningFake() as fake:
        yield fake


@pytest.fixture
def fake_gemini(_running_gemini: FakeGemini) -> Iterator[FakeGemini]:
    """The shared fake, emptied before each test."""
    _running_gemini.reset()
    yield _running_gemini


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Show the corpus accuracy table whether or not output capture is on."""
    if report := config.stash.get(REPORT_KEY, None):
        terminalreporter.write_sep("-", "offline parser accuracy on tests/nlp/corpus.jsonl")
        terminalreporter.write_line(report)
