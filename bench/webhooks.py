"""Benchmark: what an unchanged calendar costs in Luma requests an hour, webhooks off vs on.

One calendar of 12 events and 2,000 guests (6 past, 6 upcoming) in the simulator, its org
synced once (the cold sync is not counted). Then the steady state, with nothing changing in
Luma: the real sync workflow runs on an in-process worker, and the simulator counts every
request it answers. The schedule runs every 15 minutes either way
(`billing.limits.sync_interval_for`). With webhooks off, each run is a full sync. With the
webhook registered, a run only checks the webhook (`GET /v1/webhooks/list`, repairing it if
Luma lost or paused it) and makes a full pass once every 6 hours (the safety net): an hour
costs (one full pass + the other runs' checks) / 6. An unchanged calendar gets no
deliveries, so the webhook itself costs nothing more.

    .venv/bin/python -m bench.webhooks   # PostgreSQL on :5432 (BENCH_PG to change)
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet

from activities.luma_access import LumaAccess
from bench.bulk import database, dev_temporal
from billing import Billing
from billing.limits import sync_interval_for
from core.defaults import WEBHOOK_SYNC_INTERVAL_MINUTES
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
from workflows.contracts.sync import SyncInput, SyncReport
from workflows.ids import sync_id
from workflows.sync import SyncOrgWorkflow

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


async def sync_cost(run: Callable[[], Awaitable[object]], sim: RunningSimulator, cal: str) -> int:
    """Luma requests of one sync: the median of `STEADY_SYNCS` runs (the first after the
    cold sync may still read an event the summaries need)."""
    costs = []
    for _ in range(STEADY_SYNCS):
        before = sim.state.requests[cal]
        await run()
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
        await dev_temporal(keys) as env,
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
                session,
                calendar_id=cal,
                name="Bench",
                luma_key=handle.api_key,
                keybox=keybox,
            )
            org_id = org.id
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        clients = WorkerClients(sessions, LumaAccess(sessions, keybox, pool), None)
        automations = Automations(env.client, JobDefaults(task_queue=queue))
        try:
            async with build_worker(env.client, queue, clients):
                cold_before = sim.state.requests[cal]
                await (await automations.sync_now(org_id)).result()
                cold = sim.state.requests[cal] - cold_before

                async def full() -> object:
                    return await (await automations.sync_now(org_id)).result()

                async def scheduled() -> SyncReport:
                    report: SyncReport = await env.client.execute_workflow(
                        SyncOrgWorkflow.run,
                        SyncInput(org_id, safety_net=True),
                        id=sync_id(org_id),
                        task_queue=queue,
                    )
                    return report

                off = await sync_cost(full, sim, cal)
                async with sessions.begin() as session:
                    stored = await session.get(Organization, org_id)
                    assert stored is not None
                    off_every = sync_interval_for(billing, stored)
                    client = pool.client(handle.api_key, budget_key=cal)
                    registered = await luma_webhooks.register(
                        session, stored, client, keybox=keybox, public_url="http://127.0.0.1:9"
                    )
                    assert registered.status == luma_webhooks.ACTIVE, registered
                assert (await scheduled()).events_synced == 0  # a check, not a full pass
                check = await sync_cost(scheduled, sim, cal)
                full_pass = await sync_cost(full, sim, cal)
        finally:
            await engine.dispose()
    runs_per_net = WEBHOOK_SYNC_INTERVAL_MINUTES // off_every
    off_hour = off * 60 / off_every
    on_hour = (full_pass + (runs_per_net - 1) * check) * 60 / WEBHOOK_SYNC_INTERVAL_MINUTES
    print(f"Calendar: {EVENTS} events, {guests} guests, unchanged; cold first sync {cold} requests")
    print(
        f"schedule every {off_every} min; with the webhook, a full pass every "
        f"{WEBHOOK_SYNC_INTERVAL_MINUTES} min and {check} request(s) for each other run"
    )
    print(f"{'':14}{'full sync':>10}{'check':>7}{'requests/hour':>15}")
    print(f"{'webhooks off':14}{off:>10}{'-':>7}{off_hour:>15.1f}")
    print(f"{'webhooks on':14}{full_pass:>10}{check:>7}{on_hour:>15.1f}")
    print(f"on/off: {on_hour / off_hour:.3f} ({off_hour / on_hour:.0f}x fewer requests)")


if __name__ == "__main__":
    asyncio.run(main())
