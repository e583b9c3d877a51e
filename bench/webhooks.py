"""Benchmark: what an unchanged calendar costs in Luma requests an hour, webhooks off vs on.

One calendar of 12 events and 2,000 guests (6 past, 6 upcoming) in the simulator, its org
synced once (the cold sync is not counted). Then the steady state, with nothing changing in
Luma: the real sync workflow runs on an in-process worker, and the simulator counts every
request it answers. The cost an hour is the requests of one scheduled sync times the syncs an
hour the schedule makes (`billing.limits.sync_interval_for`): every 15 minutes with webhooks
off; with the webhook registered, the sync is only a safety net (every 6 hours) and checks the
webhook once per run (`GET /v1/webhooks/list`). An unchanged calendar gets no deliveries, so
the webhook itself costs nothing more.

    .venv/bin/python -m bench.webhooks   # PostgreSQL on :5432 (BENCH_PG to change)
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from temporalio.testing import WorkflowEnvironment

from activities.luma_access import LumaAccess
from bench.bulk import database
from billing import Billing
from billing.limits import sync_interval_for
from core.binaries import temporal_cli
from core.payload_codec import data_converter
from core.settings import Settings
from luma import LumaPool
from services import luma_webhooks
from services.automations import Automations, JobDefaults
from standins.luma import CalendarHandle, RunningSimulator, SimulatorConfig, running_simulator
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.models import Organization
from store.orgs import save_org
from worker import WorkerClients, build_worker
from workflows.ids import SEARCH_ATTRIBUTES

EVENTS = 12
GUESTS = 2_000
STEADY_SYNCS = 3  # measured runs per mode (they must all cost the same)


def seed_calendar(sim: RunningSimulator) -> CalendarHandle:
    calendar = sim.state.add_calendar("Bench calendar")
    now = datetime.fromtimestamp(sim.state.now, UTC)
    for index in range(EVENTS):
        days = -60 + index * 10 if index < EVENTS // 2 else 3 + (index - EVENTS // 2) * 10
        sim.state.add_event(
            calendar.id,
            name=f"Event {index + 1}",
            start_at=now + timedelta(days=days),
            guests=GUESTS // EVENTS + (1 if index < GUESTS % EVENTS else 0),
        )
    return calendar


async def sync_cost(automations: Automations, sim: RunningSimulator, org_id: int, cal: str) -> int:
    """Luma requests of one scheduled sync: the median of `STEADY_SYNCS` runs (the first
    after the cold sync may still read an event the summaries need)."""
    costs = []
    for _ in range(STEADY_SYNCS):
        before = sim.state.requests[cal]
        await (await automations.sync_now(org_id)).result()
        costs.append(sim.state.requests[cal] - before)
    if len(set(costs)) != 1:
        print(f"  (runs differ: {costs}; taking the median)", file=sys.stderr)
    return sorted(costs)[len(costs) // 2]


async def main() -> None:
    keys = [Fernet.generate_key().decode()]
    keybox = KeyBox(keys)
    config = SimulatorConfig(calendars=0, rate_limit=None)
    async with (
        database() as db_url,
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli()),
            search_attributes=SEARCH_ATTRIBUTES,
            data_converter=data_converter(keys),
            ui=False,
        ) as env,
        running_simulator(config) as sim,
        LumaPool(sim.base_url) as pool,
    ):
        handle = seed_calendar(sim)
        cal = handle.id
        guests = sum(len(sim.state.event(e).guests) for e in sim.state.calendar(cal).events)
        engine = create_engine(db_url)
        sessions = session_factory(engine)
        billing = Billing.from_settings(Settings(_env_file=None, database_url=db_url))
        async with sessions.begin() as session:
            org = await save_org(
                session, calendar_id=cal, name="Bench", luma_key=handle.api_key,
                keybox=keybox,
            )  # fmt: skip
            org_id = org.id
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        clients = WorkerClients(sessions, LumaAccess(sessions, keybox, pool), None)
        automations = Automations(env.client, JobDefaults(task_queue=queue))
        try:
            async with build_worker(env.client, queue, clients):
                cold_before = sim.state.requests[cal]
                await (await automations.sync_now(org_id)).result()
                cold = sim.state.requests[cal] - cold_before
                off = await sync_cost(automations, sim, org_id, cal)
                async with sessions.begin() as session:
                    stored = await session.get(Organization, org_id)
                    assert stored is not None
                    off_every = sync_interval_for(billing, stored)
                    client = pool.client(handle.api_key, budget_key=cal)
                    registered = await luma_webhooks.register(
                        session, stored, client, keybox=keybox, public_url="http://127.0.0.1:9"
                    )
                    assert registered.status == luma_webhooks.ACTIVE, registered
                    on_every = sync_interval_for(billing, stored)
                on = await sync_cost(automations, sim, org_id, cal)
        finally:
            await engine.dispose()
    off_hour, on_hour = off * 60 / off_every, on * 60 / on_every
    print(f"Calendar: {EVENTS} events, {guests} guests, unchanged; cold first sync {cold} requests")
    print(f"{'':14}{'requests/sync':>14}{'sync every':>12}{'requests/hour':>15}")
    print(f"{'webhooks off':14}{off:>14}{off_every:>9} min{off_hour:>15.1f}")
    print(f"{'webhooks on':14}{on:>14}{on_every:>9} min{on_hour:>15.1f}")
    print(f"on/off: {on_hour / off_hour:.3f} ({off_hour / on_hour:.0f}x fewer requests)")


if __name__ == "__main__":
    asyncio.run(main())
