"""Fixtures for workflow tests: the Luma simulator over HTTP, a linked org, a real worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.luma_access import LumaAccess
from luma import BudgetPolicy, LumaPool
from services.automations import Automations, JobDefaults
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from store.crypto import KeyBox
from store.orgs import save_org
from store.rate_budget import DatabaseRateBudget
from worker import WorkerClients, build_worker


@dataclass
class LinkedOrg:
    org_id: int
    calendar_id: str
    api_key: str


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    # A seed of its own: the same seed gives the same calendar ids, and tests sharing one
    # database must not share an org.
    seed = uuid.uuid4().int % 10**9
    async with running_simulator(SimulatorConfig(seed=seed, calendars=0, rate_limit=None)) as sim:
        yield sim


async def link_calendar(sessions, keybox: KeyBox, sim: RunningSimulator, name: str) -> LinkedOrg:
    calendar = sim.state.add_calendar(name)
    async with sessions.begin() as session:
        org = await save_org(
            session, calendar_id=calendar.id, name=name, luma_key=calendar.api_key, keybox=keybox
        )
    return LinkedOrg(org.id, calendar.id, calendar.api_key)


@pytest.fixture
async def org(sessions, keybox, simulator) -> LinkedOrg:
    return await link_calendar(sessions, keybox, simulator, f"Calendar {uuid.uuid4().hex[:6]}")


@pytest.fixture
def job_defaults() -> JobDefaults:
    return JobDefaults(
        task_queue=f"tq-{uuid.uuid4().hex}",
        batch_size=50,
        concurrency=8,
        heartbeat_timeout_seconds=5,
        summary_delay_minutes=60,
    )


def worker_clients(sessions, keybox: KeyBox, pool: LumaPool, bot=None) -> WorkerClients:
    return WorkerClients(sessions, LumaAccess(sessions, keybox, pool), bot)


@pytest.fixture
async def pool(simulator: RunningSimulator, sessions) -> AsyncIterator[LumaPool]:
    budget = DatabaseRateBudget(sessions, BudgetPolicy(limit=100_000))
    async with LumaPool(simulator.base_url, budget=budget, timeout=5, backoff_base=0.05) as pool:
        yield pool


@pytest.fixture
async def automations(
    temporal_env, sessions, keybox, pool, job_defaults: JobDefaults
) -> AsyncIterator[Automations]:
    """A worker on its own task queue, running for the test, and the product's starter."""
    client: Client = temporal_env.client
    worker: Worker = build_worker(
        client, job_defaults.task_queue, worker_clients(sessions, keybox, pool)
    )
    async with worker:
        yield Automations(client, job_defaults)
