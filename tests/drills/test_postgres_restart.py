"""Drill: the worker's PostgreSQL restarts mid-job.

The cluster is a throwaway one the test creates on a port of its own (never the shared one
the other tests use): initdb, trust authentication, the product's migrations.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from migrations import runner
from store.db import create_engine, session_factory
from tests.drills.support import RECOVERY_BOUND, start_job
from tests.ports import reserved_ports
from tests.workflows.conftest import link_calendar

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))


class Cluster:
    """A PostgreSQL cluster in a temporary directory. PostgreSQL refuses to run as root, so
    under root it runs as the `postgres` user."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.bin = PG_BINS[-1]
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 0, f"{tool} failed: {done.stdout!r} {done.stderr!r}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    if not PG_BINS:
        pytest.fail("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="lumabot-drill-pg-"))
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
    try:
        with reserved_ports(1) as (port,):
            cluster = Cluster(root, port)
            await asyncio.to_thread(cluster.init)
            await asyncio.to_thread(cluster.start)
            try:
                await asyncio.to_thread(runner.upgrade, cluster.url)
                yield cluster
            finally:
                if cluster.running():
                    await asyncio.to_thread(cluster.stop, "immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_a_job_survives_a_postgres_restart(
    cluster: Cluster, automations, simulator, keybox, workers, env_for, record_property
) -> None:
    engine = create_engine(cluster.url)
    try:
        org = await link_calendar(
            session_factory(engine), keybox, simulator, f"Calendar {uuid.uuid4().hex[:6]}"
        )
    finally:
        await engine.dispose()
    simulator.state.configure(latency_seconds=0.08)
    worker = workers.start(env_for(simulator, database_url=cluster.url))
    await workers.ready(worker)
    job = await start_job(automations, simulator, org)
    await job.reached(60, workers)

    await asyncio.to_thread(cluster.stop)
    await job.stalled()
    await asyncio.to_thread(cluster.start)
    cleared_at = time.time()
    report = await job.report()

    job.assert_written_once(report)
    recovery = job.recovery(cleared_at)
    record_property("recovery_seconds", round(recovery, 2))
    # Guests an attempt sent but died before recording, read back instead of sent again.
    record_property("read_back", simulator.state.counters["op:guest"])
    assert recovery < RECOVERY_BOUND
