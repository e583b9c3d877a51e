"""Temporal owns the retries of Luma calls made by activities.

The worker's activities get single-attempt Luma clients, whatever the pool was built with
(the fixture's pool retries 3 times on its own): each activity attempt sends exactly one
request, a 429 comes back after Luma's `Retry-After` (and blocks the shared budget), and a
500 is retried on the workflow's backoff. Requests are counted and timed at the simulator.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

from luma import LumaPool
from services.automations import Automations
from standins.luma import RunningSimulator
from standins.luma.state import Admission
from store.models import LumaRateState
from tests.workflows.conftest import LinkedOrg
from workflows.contracts.sync import RefreshGuestInput
from workflows.sync import RefreshGuestWorkflow


def record_arrivals(simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each request reached the simulator (monotonic seconds), 429s and 500s included."""
    arrivals: list[float] = []
    admit = simulator.state.admit

    def timed(api_key: str | None) -> Admission:
        arrivals.append(time.monotonic())
        return admit(api_key)

    monkeypatch.setattr(simulator.state, "admit", timed)
    return arrivals


async def refresh_one_guest(
    automations: Automations, simulator: RunningSimulator, org: LinkedOrg
) -> tuple[WorkflowHandle[RefreshGuestWorkflow, str], str]:
    """Start the one-request workflow (a webhook's single-guest refresh) on a fresh event."""
    event_id = simulator.state.add_event(org.calendar_id, guests=2)
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    handle = await automations.client.start_workflow(
        RefreshGuestWorkflow.run,
        RefreshGuestInput(org.org_id, event_id, guest_id=guest.id),
        id=f"retry-test-{uuid.uuid4().hex}",
        task_queue=automations.defaults.task_queue,
    )
    return handle, guest.approval_status


async def activity_start(handle: WorkflowHandle[RefreshGuestWorkflow, str]) -> HistoryEvent:
    """The activity's started event: Temporal records its final attempt and the failure
    of the attempt before it."""
    history = await handle.fetch_history()
    started = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert len(started) == 1
    return started[0]


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_429_is_retried_by_temporal_after_retry_after(
    automations: Automations,
    simulator: RunningSimulator,
    org: LinkedOrg,
    pool: LumaPool,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Five requests a minute, spent by someone outside our budget, and a 1 s block
    # (`Retry-After: 1`) once they are. (Not one a minute: the budget follows the limit Luma
    # announces, and would then hold the retry for the minute the refused attempt counts.)
    simulator.state.configure(rate_limit=5, rate_window_seconds=60.0, rate_block_seconds=1.0)
    async with LumaPool(simulator.base_url) as elsewhere:
        spender = elsewhere.client(org.api_key, budget_key=f"elsewhere-{org.calendar_id}")
        for _ in range(5):
            await spender.get_self()
    arrivals = record_arrivals(simulator, monkeypatch)

    handle, status = await refresh_one_guest(automations, simulator, org)
    assert await handle.result() == status

    # Two attempts, one request each: the 429, then the retry Temporal made after ~1 s.
    assert len(arrivals) == 2
    assert simulator.state.rate_limited[org.calendar_id] == 1
    assert arrivals[1] - arrivals[0] >= 0.9  # Luma's Retry-After was waited out
    started = (await activity_start(handle)).activity_task_started_event_attributes
    assert started.attempt == 2
    failure = started.last_failure.application_failure_info
    assert failure.type == "RateLimited" and not failure.non_retryable
    assert failure.next_retry_delay.ToTimedelta() == timedelta(seconds=1)
    # The 429 blocked the calendar's shared budget too, so other processes waited as well.
    async with sessions() as session:
        blocked = await session.scalar(
            select(LumaRateState.blocked_until).where(LumaRateState.budget_key == org.calendar_id)
        )
    assert blocked is not None


async def test_a_500_is_retried_by_temporal_not_by_the_client(
    automations: Automations,
    simulator: RunningSimulator,
    org: LinkedOrg,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator.state.configure(error_rate=1.0)
    arrivals = record_arrivals(simulator, monkeypatch)

    handle, status = await refresh_one_guest(automations, simulator, org)
    await until(lambda: len(arrivals) >= 2)  # two attempts have failed
    simulator.state.configure(error_rate=0.0)
    assert await handle.result() == status

    # One request per attempt; the client's own retries (50 ms apart in this pool) would
    # have sent four requests within the first attempt.
    assert len(arrivals) == 3
    assert simulator.state.counters["injected_errors"] == 2
    # Temporal's backoff (`LUMA_RETRY`: 1 s, then 2 s) spaced the attempts.
    assert arrivals[1] - arrivals[0] >= 0.9
    assert arrivals[2] - arrivals[1] >= 1.8
    started = (await activity_start(handle)).activity_task_started_event_attributes
    assert started.attempt == 3
    failure = started.last_failure.application_failure_info
    assert failure.type == "LumaUnavailable" and not failure.non_retryable
    assert not failure.HasField("next_retry_delay")
