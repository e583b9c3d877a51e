"""Fixtures of the fault drills: the workflow tests' simulator and linked org, worker
processes cleaned up whatever happens, and the product's starter with short heartbeats."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.automations import Automations, JobDefaults
from standins.luma import RunningSimulator
from tests.drills.support import HEARTBEAT_SECONDS, Workers, worker_env
from tests.workflows.conftest import org, simulator

__all__ = ["org", "simulator"]  # the workflow tests' fixtures, used here as they are

EnvFor = Callable[..., dict[str, str]]


@pytest.fixture
def drill_defaults() -> JobDefaults:
    # Small batches at a few calls at a time: a fault always finds a batch half done.
    return JobDefaults(
        task_queue=f"drill-{uuid.uuid4().hex}",
        batch_size=40,
        concurrency=4,
        heartbeat_timeout_seconds=HEARTBEAT_SECONDS,
    )


@pytest.fixture
def automations(temporal_env, drill_defaults: JobDefaults) -> Automations:
    """The starter on the session's Temporal server; the work is done by worker processes."""
    return Automations(temporal_env.client, drill_defaults)


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def env_for(
    db_url: str, encryption_keys: list[str], drill_defaults: JobDefaults, temporal_env
) -> EnvFor:
    """A worker's environment for this test's database, Temporal, task queue and a simulator;
    keyword arguments override any of them or add settings."""

    def build(simulator: RunningSimulator, **overrides: str) -> dict[str, str]:
        settings = {
            "database_url": db_url,
            "encryption_key": encryption_keys[0],
            "temporal_address": temporal_env.client.service_client.config.target_host,
            "task_queue": drill_defaults.task_queue,
            "luma_url": simulator.base_url,
            **overrides,
        }
        return worker_env(**settings)

    return build
