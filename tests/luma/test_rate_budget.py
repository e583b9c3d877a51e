"""The database budget keeps every process of one calendar under Luma's limit together."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luma.client import LumaPool
from luma.errors import RateLimitedError
from luma.ratelimit import BudgetPolicy
from migrations import runner
from standins.luma import SimulatorConfig, running_simulator
from store.budget_leases import MAX_LEASE, Lease
from store.db import create_engine, session_factory
from store.models import LumaRateSend
from store.rate_budget import DatabaseRateBudget

ROOT = Path(__file__).resolve().parents[2]
FAST = BudgetPolicy(limit=20, window=1.0, margin=0.1, interactive_reserve=0.25, safety=2)
# Matches a simulator limited to 30 requests per 2 s window.
SHARED = BudgetPolicy(limit=30, window=2.0, margin=0.3, interactive_reserve=0.3, safety=2)
PER_WORKER = 18  # two workers need two windows: 21 bulk sends fit in one
WORKER = (
    "import asyncio, sys; from tests.luma.test_rate_budget import hammer; "
    "print(asyncio.run(hammer(*sys.argv[1:])))"
)


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
    assert policy.span == 62.0
    assert BudgetPolicy(limit=1, safety=2).cap(1, interactive=True) == 1
    assert policy.cap(200, interactive=False, person_recently=False) == 198
    assert policy.spacing(200) == 62.0 / 200
    assert policy.tolerance(200) == 19 * policy.spacing(200)  # 20 back to back after a pause
    assert BudgetPolicy.scaled(200, 60.0) == policy
    assert BudgetPolicy.scaled(10, 1.0).cap(10, interactive=False, person_recently=False) == 10
    # A lease of bulk sends takes only what the pace allows now: a burst after a pause, one
    # when the pace is as far ahead as its tolerance.
    assert policy.paced_sends(200, timedelta(0)) == 20
    assert policy.paced_sends(200, timedelta(seconds=policy.tolerance(200))) == 1
    assert policy.paced_sends(200, timedelta(seconds=5 * policy.spacing(200))) == 15


async def test_per_key_limits(sessions: async_sessionmaker[AsyncSession]) -> None:
    by_map = DatabaseRateBudget(sessions, FAST, limits={"org-key": 500})
    assert by_map.limit_for("org-key") == 500
    assert by_map.limit_for("other") == FAST.limit
    by_function = DatabaseRateBudget(sessions, FAST, limits=lambda k: 7 if k == "x" else 9)
    assert (by_function.limit_for("x"), by_function.limit_for("y")) == (7, 9)


async def test_bulk_paces_itself_and_a_person_still_gets_through_quickly(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    budget = DatabaseRateBudget(sessions, FAST)
    calendar = key()
    usable = FAST.cap(FAST.limit, interactive=True)
    share = FAST.cap(FAST.limit, interactive=False)
    stop = asyncio.Event()
    sent_at: list[float] = []

    async def bulk() -> None:
        while not stop.is_set():
            await budget.acquire(calendar, interactive=False)
            sent_at.append(time.perf_counter())

    started = time.perf_counter()
    workers = [asyncio.create_task(bulk()) for _ in range(4)]
    await asyncio.sleep(FAST.span * 1.5)  # paced bulk sends fill the window by now
    # Nobody asked for a span: bulk borrowed the reserve, but spread its sends out.
    before_person = await max_in_any_span(sessions, calendar, FAST.span)
    early = sum(1 for moment in sent_at if moment - started < 0.3)
    latencies = []
    for _ in range(3):
        asked = time.perf_counter()
        await budget.acquire(calendar, interactive=True)
        latencies.append(time.perf_counter() - asked)
        await asyncio.sleep(0.05)
    person_done = time.perf_counter()
    await asyncio.sleep(FAST.span)
    stop.set()
    await asyncio.gather(*workers)

    assert share < before_person <= usable
    pace = FAST.spacing(FAST.limit)
    assert early <= (FAST.tolerance(FAST.limit) + 0.3) / pace + 1
    # Not queued behind bulk: a person without the reserve would wait for a send to leave
    # the window (about a window). How quick it is exactly: bench/rate_budget.py.
    assert max(latencies) < FAST.window / 2, latencies
    # While a person's call is recent (a span), bulk keeps to its share.
    assert sum(1 for moment in sent_at if 0 < moment - person_done < FAST.window - 0.1) <= share
    assert await max_in_any_span(sessions, calendar, FAST.span) <= usable


async def test_penalty_makes_every_process_wait(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    calendar = key()
    refused = DatabaseRateBudget(sessions, FAST)
    other_engine = create_engine(db_url)  # another process's engine and connections
    try:
        other = DatabaseRateBudget(session_factory(other_engine), FAST)
        await other.acquire(calendar, interactive=True)
        block = 2.0
        await refused.penalize(calendar, block)
        await refused.penalize(calendar, 0.1)  # a shorter block never shortens the longer
        started = time.perf_counter()
        async with asyncio.timeout(30):  # hang guards, far above the block
            await other.acquire(key(), interactive=True)  # other calendars are not blocked
            unrelated = time.perf_counter() - started
            await other.acquire(calendar, interactive=True)
            waited = time.perf_counter() - started
    finally:
        await other_engine.dispose()
    assert waited >= block - 0.1
    assert unrelated < block / 2  # blocked, it would have waited the whole block


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
        async with asyncio.timeout(30):  # a hang guard
            await asyncio.gather(
                *(
                    budget.acquire(calendar, interactive=False)
                    for budget in budgets
                    for _ in range(12)
                )
            )
        elapsed = time.perf_counter() - started
        assert await max_in_any_span(session_factory(engines[0]), calendar, policy.span) <= 8
    finally:
        for engine in engines:
            await engine.dispose()
    assert elapsed >= 0.5  # 24 sends at 8 per 0.55 s need two more windows


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(15):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def hammer(db_url: str, base_url: str, api_key: str, budget_key: str, count: str) -> str:
    """One bulk process: `count` calls as fast as the shared budget allows, no retries."""
    engine = create_engine(db_url)
    budget = DatabaseRateBudget(session_factory(engine), SHARED)
    refused = 0
    try:
        async with LumaPool(base_url, budget=budget, max_retries=0) as pool:
            luma = pool.client(api_key, budget_key=budget_key)
            for _ in range(int(count)):
                try:
                    await luma.get_self()
                except RateLimitedError:
                    refused += 1
    finally:
        await engine.dispose()
    return json.dumps({"refused": refused})


async def test_two_processes_and_an_interactive_caller_share_one_calendar_budget(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    config = SimulatorConfig(
        calendars=1, events_per_calendar=0, rate_limit=30, rate_window_seconds=2.0
    )
    async with running_simulator(config) as sim:
        calendar = sim.calendars[0]
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER,
                db_url,
                sim.base_url,
                calendar.api_key,
                calendar.id,
                str(PER_WORKER),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        # Once the bulk processes have spent their share, a person's lookup still goes through.
        await until(lambda: sim.state.requests[calendar.id] >= SHARED.cap(30, interactive=False))
        budget = DatabaseRateBudget(sessions, SHARED)
        latencies = []
        async with LumaPool(sim.base_url, budget=budget, max_retries=0) as pool:
            person = pool.client(calendar.api_key, budget_key=calendar.id, interactive=True)
            for _ in range(3):
                started = time.perf_counter()
                await person.get_self()
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.2)
        outputs = [await worker.communicate() for worker in workers]
        results = [json.loads(stdout) for stdout, _ in outputs]
        stats = sim.state.stats()

    assert all(worker.returncode == 0 for worker in workers)
    assert stats["rate_limited"] == 0
    assert [result["refused"] for result in results] == [0, 0]
    assert stats["requests"][calendar.id] == 2 * PER_WORKER + 3
    # Not queued behind the bulk processes, which would mean waiting for sends to leave the
    # 2 s window; how quick exactly is bench/rate_budget.py's business.
    assert max(latencies) < SHARED.window / 2, latencies
    assert await max_in_any_span(sessions, calendar.id, SHARED.window) < 30


async def test_cancelled_callers_never_leave_the_database_locked(tmp_path: Path) -> None:
    """A caller cancelled mid-transaction (a prefetch dropped, a timeout) must not keep
    SQLite's write lock; the transaction finishes in the background instead."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'budget.db'}"
    await asyncio.to_thread(runner.upgrade, url)
    engine = create_engine(url)
    budget = DatabaseRateBudget(session_factory(engine), BudgetPolicy(limit=10_000))
    try:
        for delay in (0, 0.0002, 0.0005, 0.001, 0.002, 0.004) * 2:
            caller = asyncio.ensure_future(budget.acquire("cal", interactive=False))
            await asyncio.sleep(delay)
            caller.cancel()
            async with asyncio.timeout(2):
                await budget.acquire("cal", interactive=True)
    finally:
        await engine.dispose()


async def _commits(engine: Any, run: Callable[[], Any]) -> int:
    """How many transactions `run` commits on `engine`."""
    counted = 0

    def count(_connection: Any) -> None:
        nonlocal counted
        counted += 1

    event.listen(engine.sync_engine, "commit", count)
    try:
        await run()
    finally:
        event.remove(engine.sync_engine, "commit", count)
    return counted


async def test_a_process_leases_slots_in_batches_and_gives_back_what_it_did_not_use(
    db_url: str,
) -> None:
    """40 callers at once take 400 slots in a few dozen transactions, not 400; leased
    slots count as sent while leased, and those never used leave the log at the next
    refill, so the log ends with exactly the sends made."""
    policy = BudgetPolicy(limit=100_000, window=60.0, margin=2.0, safety=0)
    engine = create_engine(db_url)
    budget = DatabaseRateBudget(session_factory(engine), policy)
    calendar = key()

    async def caller() -> None:
        for _ in range(10):
            await budget.acquire(calendar, interactive=True)
            await asyncio.sleep(0)

    try:
        commits = await _commits(engine, lambda: asyncio.gather(*(caller() for _ in range(40))))
        async with session_factory(engine)() as session:
            logged = await session.scalar(
                select(func.count()).where(LumaRateSend.budget_key == calendar)
            )
        assert commits <= 400 / 8, commits
        assert logged is not None and 400 <= logged <= 400 + 2 * MAX_LEASE  # and one ahead
        lease = budget._leases[(calendar, True)]  # what is left of the last lease
        if lease.refill is not None:
            await lease.refill
        lease.slots = deque((slot, 0.0) for slot, _ in lease.slots)  # as if their time ran out
        lease.fresh = None
        await budget.acquire(calendar, interactive=True)  # the refill gives the rest back
        if lease.refill is not None:
            await lease.refill
        async with session_factory(engine)() as session:
            after = await session.scalar(
                select(func.count()).where(LumaRateSend.budget_key == calendar)
            )
        assert after == 401 + len(budget._leases[(calendar, True)].slots)
    finally:
        await engine.dispose()


async def test_a_penalty_drops_the_lease_of_the_process_that_was_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = BudgetPolicy(limit=100_000, window=60.0, margin=2.0, safety=0)
    budget = DatabaseRateBudget(sessions, policy)
    calendar = key()
    await asyncio.gather(*(budget.acquire(calendar, interactive=False) for _ in range(30)))
    await budget.acquire(calendar, interactive=False)  # a lease of 2 now: one slot left
    assert budget._leases[(calendar, False)].slots
    await budget.penalize(calendar, 1.0)
    started = time.perf_counter()
    await budget.acquire(calendar, interactive=False)  # not from a slot leased before
    assert time.perf_counter() - started >= 0.9


def test_a_lease_that_runs_out_of_time_is_sized_to_what_was_used() -> None:
    lease = Lease()
    lease.grant(list(range(8)), expires=10.0)
    assert all(lease.take(now=1.0) for _ in range(3))
    assert not lease.take(now=11.0)  # five slots past their time: given back, none handed out
    assert (lease.size, lease.take_stale()) == (3, [3, 4, 5, 6, 7])
    lease.grant([8, 9], expires=20.0)
    assert lease.take(now=25.0)  # a new grant's first slot, however late its caller woke
    assert not lease.take(now=25.0) and lease.take_stale() == [9]
