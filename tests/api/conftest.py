"""Fixtures for the control API: the app over real PostgreSQL, Temporal and the Luma simulator.

The app gets the test's sessions and `Automations` (whose worker runs on the test's task
queue) through `deps`, and its lifespan runs around each test; requests go through httpx's
ASGI transport, so nothing listens on a port except where a real client needs one
(schemathesis, the local Bot API's webhook pushes: `core.http_server.serving`).
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from api.deps import ApiDeps, ApiLimits
from api.main import create_app
from core.settings import Settings
from services.automations import Automations
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from store import tokens
from store.models import Role
from store.orgs import set_role
from tests.workflows import conftest as workflow_fixtures
from tests.workflows.conftest import LinkedOrg, link_calendar

# The workflow tests' fixtures, reused as they are: linked org, Luma pool, worker.
org = workflow_fixtures.org
pool = workflow_fixtures.pool
job_defaults = workflow_fixtures.job_defaults
automations = workflow_fixtures.automations


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    """A simulator with its own seed, so its calendar and event ids are new to this test.

    With a fixed seed every test's first calendar has the same id, hence the same org row and
    the same workflow ids in the shared Temporal server as earlier tests' jobs.
    """
    config = SimulatorConfig(seed=random.randrange(10**9), calendars=0, rate_limit=None)
    async with running_simulator(config) as sim:
        yield sim


@dataclass
class Tenant:
    """An org with a live token and a client that sends it."""

    org: LinkedOrg
    token: str
    client: httpx.AsyncClient


@pytest.fixture
def api_settings(db_url: str, simulator, encryption_keys: list[str]) -> Settings:
    """The API's own Luma pool (a policy's dry run reads pending guests) points at the
    simulator, and its key box opens the keys the test's orgs were linked with."""
    return Settings(
        _env_file=None,
        database_url=db_url,
        luma_api_url=simulator.base_url,
        encryption_keys=",".join(encryption_keys),
    )


@pytest.fixture
def api_limits() -> ApiLimits:
    return ApiLimits()


@pytest.fixture
async def app(api_settings, sessions, automations, api_limits) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, deps=ApiDeps(sessions, automations), limits=api_limits)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://api.test", headers=headers
    )


_MAKERS = itertools.count(random.randrange(7_000_000_000, 8_000_000_000, 1_000_000))


async def issue(sessions, org_id: int, *, maker: int | None = None, role: Role = Role.ADMIN) -> str:
    """A token as /token new makes one: its maker is a member of the org (an admin unless
    `role` says otherwise), made one here when `maker` is not given."""
    async with sessions.begin() as session:
        if maker is None:
            maker = next(_MAKERS)
            await set_role(session, org_id=org_id, user_id=maker, role=role)
        return (await tokens.issue_token(session, org_id=org_id, created_by=maker)).token


@pytest.fixture
async def anonymous(app) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


@pytest.fixture
async def tenant(app, sessions, org) -> AsyncIterator[Tenant]:
    """Org A: the test's linked org."""
    token = await issue(sessions, org.org_id)
    async with client_for(app, token) as client:
        yield Tenant(org, token, client)


@pytest.fixture
async def other(app, sessions, keybox, simulator) -> AsyncIterator[Tenant]:
    """Org B: another calendar on the same simulator, with its own token."""
    linked = await link_calendar(sessions, keybox, simulator, f"Other {uuid.uuid4().hex[:6]}")
    token = await issue(sessions, linked.org_id)
    async with client_for(app, token) as client:
        yield Tenant(linked, token, client)


async def synced_event(simulator, automations: Automations, org: LinkedOrg, **event) -> str:
    """An event added in the simulator and synced into the cache; returns its id."""
    event_id: str = simulator.state.add_event(org.calendar_id, **event)
    await (await automations.sync_now(org.org_id)).result()
    return event_id


def error_of(response: httpx.Response) -> dict[str, str]:
    """The `{"code", "message"}` of an error response (asserting the shape)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]
