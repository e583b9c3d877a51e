"""Benchmark: bulk approvals through the real worker, against a naive loop, in one run.

Rate-bound: the simulator allows 600 requests a minute, enforced as 100 per 10-second sliding
window (the floor: 300 updates / 600 per minute = 30 s), with 20 ms latency, and a 429 blocks
for a whole window (as Luma's blocks for its minute). Luma's own window is a minute for 200;
ten seconds keeps the run short while the window stays long against the whole seconds of
`X-RateLimit-Reset` (with a 1-second window, each "none left" answer held the budget for up
to a whole window, and the run took 2x). The workflow spends the shared budget at an even pace
(with nobody asking through the bot, the interactive reserve is lent to it), and never meets a
429; the naive loop calls update-status as fast as it can, meets the block, and while it is
blocked so is everyone else on the calendar (the bot's lookups included).

Latency-bound: no limit, 100 ms latency, 1,000 guests with 40 calls in flight, against the
concurrency floor (1,000 / 40 x 100 ms = 2.5 s) and a sequential loop timed on a 100-guest
sample of the same run. The worker's peak memory is printed.

Everything is printed first; the exit status is non-zero when a section missed its target
(rate-bound: <= 1.05x its floor and no 429; latency-bound: <= 1.5x its floor and >= 25x the
naive loop), so `make bench` names this benchmark.

    .venv/bin/python -m bench.bulk [--rate-only | --latency-only]   # PostgreSQL on :5432
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import Popen
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from catalog.guest_filter import GuestFilter
from core.binaries import temporal_cli
from core.payload_codec import data_converter
from luma import LumaPool
from migrations import runner
from services.automations import Automations, JobDefaults
from standins.luma import CalendarHandle, RunningSimulator, SimulatorConfig, running_simulator
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.orgs import save_org
from workflows.ids import SEARCH_ATTRIBUTES

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")
WINDOW = 10.0  # seconds of the rate-bound run's window
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

RATE_TARGET = 1.05  # x the rate floor, with no 429
LATENCY_GUESTS, LATENCY_IN_FLIGHT, LATENCY_SECONDS = 1000, 40, 0.1
LATENCY_TARGET = 1.5  # x the concurrency floor
NAIVE_TARGET = 25.0  # x faster than the sequential loop


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = f"lumabot_bench_{uuid.uuid4().hex[:8]}"
    admin = PG.replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG}/{name}"
    await asyncio.to_thread(runner.upgrade, url)
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dev_temporal(keys: list[str]) -> Awaitable[WorkflowEnvironment]:
    """A Temporal dev server with the product's search attributes, its payloads encrypted with
    `keys` as the worker's are (ENCRYPTION_KEYS); no UI."""
    return WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=data_converter(keys),
        ui=False,
    )


def start_worker(env: dict[str, str], **settings: str) -> Popen[bytes]:
    return Popen([LUMABOT, "worker"], env={**env, **settings}, stdout=sys.stderr, stderr=sys.stderr)


async def warm_up(
    automations: Automations, sim: RunningSimulator, calendar_id: str, org_id: int
) -> None:
    """A one-guest job first, so the timed job does not include the worker's start-up."""
    event_id = sim.state.add_event(calendar_id, guests=1, status_mix={"pending_approval": 1.0})
    await run_job(automations, org_id, event_id)


def peak_memory_mb(process: Popen[bytes]) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def stop(process: Popen[bytes]) -> None:
    process.terminate()
    await asyncio.to_thread(process.wait, 30)


async def print_timeline(handle: WorkflowHandle[Any, Any]) -> None:
    """The job's history as seconds since it started (BENCH_TIMELINE=1): where time goes."""
    history = await handle.fetch_history()
    start = history.events[0].event_time.ToDatetime()
    for event in history.events:
        at = (event.event_time.ToDatetime() - start).total_seconds()
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        scheduled = event.activity_task_scheduled_event_attributes.activity_type.name
        print(f"  {at:7.3f} s  {kind} {scheduled}".rstrip())


async def run_job(automations: Automations, org_id: int, event_id: str) -> float:
    started = time.perf_counter()
    job = await automations.start_bulk(
        org_id=org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    handle = automations.bulk_handle(job.workflow_id)
    report = await handle.result()
    elapsed = time.perf_counter() - started
    if os.environ.get("BENCH_TIMELINE"):
        await print_timeline(handle)
    if report.done != report.total:
        raise SystemExit(f"job approved {report.done} of {report.total}")
    return elapsed


async def naive_loop(sim: RunningSimulator, key: str, event_id: str, count: int) -> float:
    """What a script would do: one update after another, waiting out any 429."""
    emails = [g.person.email for g in sim.state.event(event_id).guests.values()][:count]
    async with LumaPool(sim.base_url, max_retries=10) as pool:
        client = pool.client(key, budget_key="naive")
        started = time.perf_counter()
        for email in emails:
            await client.update_guest_status(event_id, email=email, status="approved")
        return time.perf_counter() - started


async def main() -> bool:
    """Runs the chosen sections; whether every one met its target."""
    keys = [Fernet.generate_key().decode()]
    config = SimulatorConfig(calendars=0, rate_limit=None)
    async with (
        database() as db_url,
        await dev_temporal(keys) as env,
        running_simulator(config) as sim,
    ):
        calendar = sim.state.add_calendar("Bench")
        engine = create_engine(db_url)
        async with session_factory(engine).begin() as session:
            org = await save_org(
                session,
                calendar_id=calendar.id,
                name="Bench",
                luma_key=calendar.api_key,
                keybox=KeyBox(keys),
            )
            org_id = org.id
        await engine.dispose()
        worker_env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "ENCRYPTION_KEYS": keys[0],
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "LUMA_API_URL": sim.base_url,
            "LOG_LEVEL": "WARNING",
        }
        worker_env.pop("BOT_TOKEN", None)

        met = True
        if "--latency-only" not in sys.argv:
            met &= await rate_bound(sim, env, calendar, org_id, worker_env)
        if "--rate-only" not in sys.argv:
            met &= await latency_bound(sim, env, calendar, org_id, worker_env)
        return met


async def rate_bound(
    sim: RunningSimulator,
    env: WorkflowEnvironment,
    calendar: CalendarHandle,
    org_id: int,
    worker_env: dict[str, str],
) -> bool:
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    automations = Automations(env.client, JobDefaults(task_queue=queue, concurrency=8))
    sim.state.configure(
        rate_limit=100, rate_window_seconds=WINDOW, rate_block_seconds=WINDOW, latency_seconds=0.02
    )
    ours_event = sim.state.add_event(calendar.id, guests=300, status_mix={"pending_approval": 1.0})
    naive_event = sim.state.add_event(calendar.id, guests=300, status_mix={"pending_approval": 1.0})
    worker = start_worker(
        worker_env,
        TEMPORAL_TASK_QUEUE=queue,
        LUMA_RATE_LIMIT="100",
        LUMA_RATE_WINDOW_SECONDS=str(WINDOW),
    )
    try:
        await warm_up(automations, sim, calendar.id, org_id)
        await asyncio.sleep(WINDOW * 1.1)  # let the warm-up's sends leave the window
        refused_before = sim.state.stats()["rate_limited"]
        ours = await run_job(automations, org_id, ours_event)
        ours_429 = sim.state.stats()["rate_limited"] - refused_before
    finally:
        await stop(worker)
    sim.state.reset_rate_limits()
    refused_before = sim.state.stats()["rate_limited"]
    naive = await naive_loop(sim, calendar.api_key, naive_event, 300)
    naive_429 = sim.state.stats()["rate_limited"] - refused_before
    floor = 300 / 10
    print("\nRate-bound: 300 approvals, limit 600/min (100 per 10 s window), 20 ms latency")
    print(f"  floor (300 / 600 per min)     {floor:6.1f} s")
    print(
        f"  workflow                      {ours:6.1f} s  = {ours / floor:.2f}x floor, "
        f"{ours_429} x 429   (target <= {RATE_TARGET}x, 0 x 429)"
    )
    print(
        f"  naive sequential loop         {naive:6.1f} s  = {naive / floor:.2f}x floor, "
        f"{naive_429} x 429"
    )
    met = ours / floor <= RATE_TARGET and ours_429 == 0
    print(f"  rate-bound target {'met' if met else 'MISSED'}")
    return met


async def latency_bound(
    sim: RunningSimulator,
    env: WorkflowEnvironment,
    calendar: CalendarHandle,
    org_id: int,
    worker_env: dict[str, str],
) -> bool:
    sim.state.configure(rate_limit=None, latency_seconds=LATENCY_SECONDS)
    sim.state.reset_rate_limits()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    automations = Automations(
        env.client,
        JobDefaults(task_queue=queue, concurrency=LATENCY_IN_FLIGHT, batch_size=200),
    )
    ours_event = sim.state.add_event(
        calendar.id, guests=LATENCY_GUESTS, status_mix={"pending_approval": 1.0}
    )
    sample_event = sim.state.add_event(
        calendar.id, guests=100, status_mix={"pending_approval": 1.0}
    )
    worker = start_worker(
        worker_env, TEMPORAL_TASK_QUEUE=queue, LUMA_RATE_LIMIT="1000000", BULK_CONCURRENCY="20"
    )
    try:
        await warm_up(automations, sim, calendar.id, org_id)
        ours = await run_job(automations, org_id, ours_event)
        memory = peak_memory_mb(worker)
    finally:
        await stop(worker)
    sample = await naive_loop(sim, calendar.api_key, sample_event, 100)
    naive = sample * LATENCY_GUESTS / 100
    # Nothing can beat this: every guest's write takes the latency, and only this many at once.
    floor = LATENCY_GUESTS / LATENCY_IN_FLIGHT * LATENCY_SECONDS
    print("\nLatency-bound: 1,000 approvals, no limit, 100 ms latency")
    print(f"  floor (1000 / 40 x 100 ms)    {floor:6.1f} s")
    print(
        f"  workflow (40 calls in flight) {ours:6.1f} s  = {ours / floor:.2f}x the concurrency "
        f"floor (target <= {LATENCY_TARGET}x)"
    )
    print(
        f"  naive loop, 100 timed x 10    {naive:6.1f} s  -> workflow is "
        f"{naive / ours:.1f}x faster (target >= {NAIVE_TARGET:.0f}x)"
    )
    print(f"  worker peak memory (VmHWM)    {memory:6.0f} MB")
    met = ours / floor <= LATENCY_TARGET and naive / ours >= NAIVE_TARGET
    print(f"  latency-bound target {'met' if met else 'MISSED'}")
    return met


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main()) else 1)
