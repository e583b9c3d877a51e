"""Retries: transient faults are ridden out, refusals are not retried, 429s are waited out;
single-attempt clients (activities') leave retrying to Temporal."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from activities.luma_access import activity_failure, only_this_call
from luma.client import MAX_RESET_WAIT, LumaPool
from luma.errors import (
    BadRequestError,
    InvalidKeyError,
    LumaUnavailableError,
    NotFoundError,
    RateLimitedError,
)
from standins.luma import CalendarHandle, RunningSimulator, SimulatorConfig, running_simulator


@dataclass
class RecordingBudget:
    """A RateBudget that admits everything and remembers what it was told."""

    acquired: list[tuple[str, bool]] = field(default_factory=list)
    penalties: list[tuple[str, float]] = field(default_factory=list)
    announced: list[tuple[str, int]] = field(default_factory=list)

    async def acquire(self, budget_key: str, *, interactive: bool) -> None:
        self.acquired.append((budget_key, interactive))

    async def penalize(self, budget_key: str, retry_after: float) -> None:
        self.penalties.append((budget_key, retry_after))

    def announce(self, budget_key: str, limit: int) -> None:
        self.announced.append((budget_key, limit))


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(calendars=0, rate_limit=None, hang_seconds=2.0, fault_seed=7)
    async with running_simulator(config) as running:
        yield running


@pytest.fixture
def calendar(sim: RunningSimulator) -> Iterator[CalendarHandle]:
    yield sim.state.add_calendar()
    sim.state.configure(error_rate=0.0, timeout_rate=0.0, rate_limit=None)
    sim.state.reset_rate_limits()


async def test_listing_survives_injected_errors_and_timeouts(
    sim: RunningSimulator, calendar: CalendarHandle, caplog: pytest.LogCaptureFixture
) -> None:
    event_id = sim.state.add_event(calendar.id, guests=2_000)
    before = sim.state.stats()
    sim.state.configure(error_rate=0.1, timeout_rate=0.1)
    budget = RecordingBudget()
    async with LumaPool(
        sim.base_url, budget=budget, timeout=0.3, max_retries=6, backoff_base=0.005
    ) as pool:
        luma = pool.client(calendar.api_key, budget_key=calendar.id)
        with caplog.at_level(logging.WARNING, logger="luma.client"):
            ids = [guest.id async for guest in luma.iter_guests(event_id)]

    assert len(ids) == len(set(ids)) == 2_000
    stats = sim.state.stats()
    errors = stats["injected_errors"] - before["injected_errors"]
    timeouts = stats["injected_timeouts"] - before["injected_timeouts"]
    assert errors > 0 and timeouts > 0
    faults = errors + timeouts
    assert sim.state.requests[calendar.id] == 20 + faults  # each fault cost one retry
    # Retries are counted in the budget too, and the listing takes one slot ahead that the
    # last page turns out not to need.
    assert len(budget.acquired) == 20 + faults + 1
    assert "retry" in caplog.text
    assert calendar.api_key not in caplog.text


async def test_faults_beyond_the_retry_limit_surface_as_unavailable(
    sim: RunningSimulator, calendar: CalendarHandle
) -> None:
    sim.state.configure(error_rate=1.0)
    async with LumaPool(sim.base_url, max_retries=2, backoff_base=0.001) as pool:
        with pytest.raises(LumaUnavailableError) as caught:
            await pool.client(calendar.api_key, budget_key=calendar.id).get_self()
    assert sim.state.requests[calendar.id] == 3
    assert caught.value.status == 500
    assert "try again" in caught.value.user_message


async def test_refusals_are_not_retried(sim: RunningSimulator, calendar: CalendarHandle) -> None:
    unauthorized = sim.state.counters["unauthorized"]
    async with LumaPool(sim.base_url, max_retries=5, backoff_base=0.001) as pool:
        with pytest.raises(InvalidKeyError):
            await pool.client("secret-wrong-key-123456", budget_key=calendar.id).get_self()
        assert sim.state.counters["unauthorized"] == unauthorized + 1

        luma = pool.client(calendar.api_key, budget_key=calendar.id)
        with pytest.raises(NotFoundError):
            await luma.get_event("evt-missing")
        assert sim.state.requests[calendar.id] == 1


async def test_429_waits_for_retry_after_and_tells_the_budget(
    sim: RunningSimulator, calendar: CalendarHandle
) -> None:
    sim.state.configure(rate_limit=3, rate_window_seconds=30.0, rate_block_seconds=1.0)
    budget = RecordingBudget()
    async with LumaPool(sim.base_url, budget=budget, backoff_base=0.001) as pool:
        luma = pool.client(calendar.api_key, budget_key=calendar.id, interactive=True)
        for _ in range(3):
            await luma.get_self()
        started = time.perf_counter()
        async with asyncio.timeout(30):  # a hang guard; one refusal is asserted below
            await luma.get_self()  # refused once, then admitted after the block
        waited = time.perf_counter() - started

    assert waited >= 0.9  # Retry-After: 1 s was honoured
    assert sim.state.rate_limited[calendar.id] == 1
    # The third answer said none was left: the budget was told to hold the key until Luma's
    # 30 s window resets (this recording budget does not hold, so the fourth call was sent
    # and refused, and the refusal recorded its own 1 s block).
    (held_key, held_for), refused = budget.penalties
    assert held_key == calendar.id and 0 < held_for <= 31
    assert refused == (calendar.id, 1.0)
    assert budget.announced == [(calendar.id, 3)] * 5  # every answer, the 429 too
    assert budget.acquired == [(calendar.id, True)] * 5


async def test_429_beyond_the_retry_limit_raises_rate_limited(
    sim: RunningSimulator, calendar: CalendarHandle
) -> None:
    sim.state.configure(rate_limit=1, rate_window_seconds=30.0, rate_block_seconds=30.0)
    async with LumaPool(sim.base_url, max_retries=0) as pool:
        luma = pool.client(calendar.api_key, budget_key=calendar.id)
        await luma.get_self()
        with pytest.raises(RateLimitedError) as caught:
            await luma.get_self()
    assert caught.value.retry_after == 30.0
    assert "try again in a minute" in caught.value.user_message


async def test_a_single_attempt_client_fails_at_once_but_still_tells_the_budget(
    sim: RunningSimulator, calendar: CalendarHandle
) -> None:
    """What activities get (`LumaAccess` asks for `max_retries=0` from a retrying pool)."""
    budget = RecordingBudget()
    async with LumaPool(sim.base_url, budget=budget, max_retries=5, backoff_base=0.001) as pool:
        luma = pool.client(calendar.api_key, budget_key=calendar.id, max_retries=0)
        sim.state.configure(error_rate=1.0)
        with pytest.raises(LumaUnavailableError):
            await luma.get_self()
        assert sim.state.requests[calendar.id] == 1

        sim.state.configure(error_rate=0.0, rate_limit=1, rate_block_seconds=7.0)
        await luma.get_self()
        # A client that slept through the 7 s Retry-After would trip this wide guard.
        async with asyncio.timeout(5):
            with pytest.raises(RateLimitedError) as caught:
                await luma.get_self()
    assert sim.state.requests[calendar.id] == 3
    assert caught.value.retry_after == 7.0
    # The hold Luma's "none left" asked for, then the refusal's own block.
    assert [key for key, _ in budget.penalties] == [calendar.id] * 2
    assert budget.penalties[0][1] <= MAX_RESET_WAIT
    assert budget.penalties[1] == (calendar.id, 7.0)
    assert pool.client(calendar.api_key, budget_key=calendar.id).max_retries == 5


def test_luma_failures_map_to_activity_failures() -> None:
    """Final where retrying cannot help; a 429 paced by Luma; outages left to the policy."""
    rejected = activity_failure(InvalidKeyError("GET /v1/user/get-self → 401", status=401))
    assert (rejected.type, rejected.non_retryable) == ("InvalidKey", True)
    assert activity_failure(NotFoundError("x", status=404)).non_retryable
    assert activity_failure(BadRequestError("bad", status=400)).non_retryable
    limited = activity_failure(RateLimitedError(12.0))
    assert (limited.type, limited.non_retryable) == ("RateLimited", False)
    assert limited.next_retry_delay == timedelta(seconds=12)
    assert activity_failure(RateLimitedError(0.0)).next_retry_delay is None
    down = activity_failure(LumaUnavailableError("GET /v1/event/get → 503", status=503))
    assert (down.type, down.non_retryable, down.next_retry_delay) == (
        "LumaUnavailable",
        False,
        None,
    )
    assert only_this_call(down) and not only_this_call(limited)
    assert not only_this_call(rejected)


@pytest.mark.parametrize("answer", [b"GARBAGE\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n"])
async def test_a_garbled_answer_is_luma_unavailable(answer: bytes) -> None:
    """What aiohttp raises and the transport does not map is still "Luma did not answer"."""

    async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garble, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with LumaPool(f"http://127.0.0.1:{port}") as pool:
            client = pool.client("secret-key", budget_key="garbled", max_retries=0)
            with pytest.raises(LumaUnavailableError):
                await client.get_event("evt-garbled")
    finally:
        server.close()
        await server.wait_closed()
