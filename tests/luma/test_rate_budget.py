"""The database budget keeps every process of one calendar under Luma's limit together."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luma.ratelimit import BudgetPolicy
from migrations import runner
from store.db import create_engine, session_factory
from store.models import LumaRateSend
from store.rate_budget import DatabaseRateBudget

FAST = BudgetPolicy(limit=20, window=1.0, margin=0.1, interactive_reserve=0.25, safety=2)


def key() -> str:
    return f"cal-{uuid.uuid4().hex[:12]}"


async def max_in_any_span(
    sessions: async_sessionmaker[AsyncSession], budget_key: str, span: float
) -> int:
    """The most sends the log holds inside any `span`-second window."""
    async with sessions() as session:
        times = (
            await session.scalars(
                select(LumaRateSend.sent_at)
                .where(LumaRateSend.budget_key == budget_key)
                .order_by(LumaRateSend.sent_at)
            )
        ).all()
    width = timedelta(seconds=span)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_policy_caps() -> None:
    policy = BudgetPolicy()
    assert policy.cap(200, interactive=False) == 180
    assert policy.cap(200, interactive=True) == 198
    assert policy.cap(500, interactive=False) == 450
    assert policy.span == 61.0
    assert BudgetPolicy(limit=1, safety=2).cap(1, interactive=True) == 1


async def test_per_key_limits(sessions: async_sessionmaker[AsyncSession]) -> None:
    by_map = DatabaseRateBudget(sessions, FAST, limits={"org-key": 500})
    assert by_map.limit_for("org-key") == 500
    assert by_map.limit_for("other") == FAST.limit
    by_function = DatabaseRateBudget(sessions, FAST, limits=lambda k: 7 if k == "x" else 9)
    assert (by_function.limit_for("x"), by_function.limit_for("y")) == (7, 9)


async def test_bulk_saturates_its_share_and_interactive_still_gets_through(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    budget = DatabaseRateBudget(sessions, FAST)
    calendar = key()
    bulk_cap = FAST.cap(FAST.limit, interactive=False)
    stop = asyncio.Event()

    async def bulk() -> int:
        sent = 0
        while not stop.is_set():
            await budget.acquire(calendar, interactive=False)
            sent += 1
        return sent

    workers = [asyncio.create_task(bulk()) for _ in range(4)]
    await asyncio.sleep(0.3)  # the bulk loop has used its whole share by now
    latencies = []
    for _ in range(3):
        started = time.perf_counter()
        await budget.acquire(calendar, interactive=True)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    stop.set()
    # Bulk workers are parked waiting for the window; they each finish one more send.
    sent = sum(await asyncio.gather(*workers))

    assert max(latencies) < 0.15, latencies
    assert bulk_cap <= sent <= 3 * bulk_cap + 4
    assert await max_in_any_span(sessions, calendar, FAST.span) <= FAST.cap(
        FAST.limit, interactive=True
    )


async def test_penalty_makes_every_process_wait(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    calendar = key()
    refused = DatabaseRateBudget(sessions, FAST)
    other_engine = create_engine(db_url)  # another process's engine and connections
    try:
        other = DatabaseRateBudget(session_factory(other_engine), FAST)
        await other.acquire(calendar, interactive=True)
        await refused.penalize(calendar, 0.6)
        await refused.penalize(calendar, 0.1)  # a shorter block never shortens the longer
        started = time.perf_counter()
        await other.acquire(calendar, interactive=True)
        waited = time.perf_counter() - started
        started = time.perf_counter()
        await other.acquire(key(), interactive=True)  # other calendars are not blocked
        unrelated = time.perf_counter() - started
    finally:
        await other_engine.dispose()
    assert 0.5 <= waited < 1.5
    assert unrelated < 0.1


async def test_old_sends_are_pruned(sessions: async_sessionmaker[AsyncSession]) -> None:
    policy = BudgetPolicy(limit=100, window=0.2, margin=0.0)
    budget = DatabaseRateBudget(sessions, policy)
    calendar = key()
    for _ in range(10):
        await budget.acquire(calendar, interactive=False)
    await asyncio.sleep(0.25)
    await budget.acquire(calendar, interactive=False)
    async with sessions() as session:
        left = await session.scalar(select(func.count()).where(LumaRateSend.budget_key == calendar))
    assert left == 1


async def test_sqlite_file_shared_by_two_engines(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'budget.db'}"
    await asyncio.to_thread(runner.upgrade, url)
    engines = [create_engine(url), create_engine(url)]
    policy = BudgetPolicy(limit=8, window=0.5, margin=0.05, interactive_reserve=0.0, safety=0)
    try:
        budgets = [DatabaseRateBudget(session_factory(engine), policy) for engine in engines]
        calendar = key()
        started = time.perf_counter()
        await asyncio.gather(
            *(budget.acquire(calendar, interactive=False) for budget in budgets for _ in range(12))
        )
        elapsed = time.perf_counter() - started
        assert await max_in_any_span(session_factory(engines[0]), calendar, policy.span) <= 8
    finally:
        for engine in engines:
            await engine.dispose()
    assert 0.5 <= elapsed < 2.5  # 24 sends at 8 per 0.55 s need two more windows
