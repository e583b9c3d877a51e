"""Fixtures for the nlp tests: a fixed "now", a fixed org event cache, a fake Gemini."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.settings import Settings
from nlp.context import ParseContext
from nlp.corpus import CONTEXT_FILE, load_context
from nlp.gemini import GeminiParser
from standins.gemini import FakeGemini, RunningFake

# The fixed "now" (a Wednesday), zone and org events the corpus was written against; the
# corpus, `lumabot parse --corpus` and the benchmark read the same file.
CORPUS_CONTEXT = load_context(Path(__file__).with_name(CONTEXT_FILE))
NOW = CORPUS_CONTEXT.now
TIMEZONE = CORPUS_CONTEXT.timezone
EVENTS = CORPUS_CONTEXT.events
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


API_KEY = "AIzaFakeKeyForTests0123456789abcdefghij"
# Every answer the fake gives must arrive within it, so it is wide enough for a loaded
# machine; `hang(HANG)` replies well after it.
FAST_TIMEOUT = 2.0
HANG = 6.0


class DayQuota:
    """A per-test stand-in for the database-backed quota."""

    def __init__(self, calls_per_day: int) -> None:
        self.left = calls_per_day

    async def try_consume(self, org_id: int, *, day: date) -> bool:
        self.left -= 1
        return self.left >= 0


@pytest.fixture
async def gemini(fake_gemini: FakeGemini) -> AsyncIterator[GeminiParser]:
    settings = Settings(gemini_api_key=SecretStr(API_KEY), gemini_api_url=fake_gemini.url)
    parser = GeminiParser.from_settings(settings, timeout=FAST_TIMEOUT)
    assert parser is not None
    yield parser
    await parser.aclose()
