"""Benchmark: bulk approvals through the real worker, against a naive loop, in one run.

Rate-bound: the simulator allows 600 requests a minute, enforced as 10 per 1-second sliding
window (the smoothed rate behind the floor of 300 updates / 600 per minute = 30 s), with
20 ms latency and a 5 s block after a 429. The workflow spends the shared budget at an even
pace (with nobody asking through the bot, the interactive reserve is lent to it); the naive
loop calls update-status as fast as it can and waits out each block.

Latency-bound: no limit, 100 ms latency, 1,000 guests; the workflow against a sequential
loop timed on a 100-guest sample of the same run. The worker's peak memory is printed.

    .venv/bin/python bench/bulk.py [--rate-only | --latency-only]   # PostgreSQL on :5432
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import Popen

import psycopg
from cryptography.fernet import Fernet
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
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


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


async def run_job(automations: Automations, org_id: int, event_id: str) -> float:
    started = time.perf_counter()
    job = await automations.start_bulk(
        org_id=org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    report = await automations.bulk_handle(job.workflow_id).result()
    elapsed = time.perf_counter() - started
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


async def main() -> None:
    keys = [Fernet.generate_key().decode()]
    config = SimulatorConfig(calendars=0, rate_limit=None)
    async with (
        database() as db_url,
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli()),
            search_attributes=SEARCH_ATTRIBUTES,
            data_converter=data_converter(keys),  # the worker process's (ENCRYPTION_KEYS)
        ) as env,
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

        if "--latency-only" not in sys.argv:
            await rate_bound(sim, env, calendar, org_id, worker_env)
        if "--rate-only" not in sys.argv:
            await latency_bound(sim, env, calendar, org_id, worker_env)


async def rate_bound(
    sim: RunningSimulator,
    env: WorkflowEnvironment,
    calendar: CalendarHandle,
    org_id: int,
    worker_env: dict[str, str],
) -> None:
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    automations = Automations(env.client, JobDefaults(task_queue=queue, concurrency=8))
    sim.state.configure(
        rate_limit=10, rate_window_seconds=1.0, rate_block_seconds=5.0, latency_seconds=0.02
    )
    ours_event = sim.state.add_event(calendar.id, guests=300, status_mix={"pending_approval": 1.0})
    naive_event = sim.state.add_event(calendar.id, guests=300, status_mix={"pending_approval": 1.0})
    worker = start_worker(
        worker_env,
        TEMPORAL_TASK_QUEUE=queue,
        LUMA_RATE_LIMIT="10",
        LUMA_RATE_WINDOW_SECONDS="1",
    )
    try:
        await warm_up(automations, sim, calendar.id, org_id)
        await asyncio.sleep(1.1)  # let the warm-up's sends leave the window
        refused_before = sim.state.stats()["rate_limited"]
        ours = await run_job(automations, org_id, ours_event)
        ours_429 = sim.state.stats()["rate_limited"] - refused_before
    finally:
        await stop(worker)
    await asyncio.sleep(1.1)
    sim.state.reset_rate_limits()
    refused_before = sim.state.stats()["rate_limited"]
    naive = await naive_loop(sim, calendar.api_key, naive_event, 300)
    naive_429 = sim.state.stats()["rate_limited"] - refused_before
    floor = 300 / 10
    print("\nRate-bound: 300 approvals, limit 600/min (10 per 1 s window), 20 ms latency")
    print(f"  floor (300 / 600 per min)     {floor:6.1f} s")
    print(
        f"  workflow                      {ours:6.1f} s  = {ours / floor:.2f}x floor, "
        f"{ours_429} x 429   (target <= 1.05x, 0 x 429)"
    )
    print(
        f"  naive sequential loop         {naive:6.1f} s  = {naive / floor:.2f}x floor, "
        f"{naive_429} x 429"
    )


async def latency_bound(
    sim: RunningSimulator,
    env: WorkflowEnvironment,
    calendar: CalendarHandle,
    org_id: int,
    worker_env: dict[str, str],
) -> None:
    sim.state.configure(rate_limit=None, latency_seconds=0.1)
    sim.state.reset_rate_limits()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    automations = Automations(
        env.client, JobDefaults(task_queue=queue, concurrency=40, batch_size=200)
    )
    ours_event = sim.state.add_event(calendar.id, guests=1000, status_mix={"pending_approval": 1.0})
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
    naive = sample * 10
    print("\nLatency-bound: 1,000 approvals, no limit, 100 ms latency")
    print(f"  workflow (40 calls in flight) {ours:6.1f} s")
    print(
        f"  naive loop, 100 timed x 10    {naive:6.1f} s  -> workflow is "
        f"{naive / ours:.1f}x faster (target >= 10x)"
    )
    print(f"  worker peak memory (VmHWM)    {memory:6.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
