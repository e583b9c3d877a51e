"""Drill: the Temporal server is killed mid-job and started again on its database file."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.demo import temporal_dev_server_command
from services.automations import Automations, JobDefaults
from tests.conftest import DATA_CONVERTER, eventually
from tests.drills.support import RECOVERY_BOUND, start_job
from tests.ports import reserved_ports


class DevServer:
    """A Temporal dev server of the test's own, keeping its state in a SQLite file, so it
    can be killed and started again with every workflow where it was."""

    def __init__(self, db_file: Path, log: Path, ports: list[int]) -> None:
        port, ui_port, http_port, metrics_port = ports
        self.address = f"127.0.0.1:{port}"
        self.command = [
            *temporal_dev_server_command("127.0.0.1", port, ui_port, db_file),
            "--headless",
            "--http-port",
            str(http_port),
            "--metrics-port",
            str(metrics_port),
        ]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> Client:
        """Start it; returns a connected client once it answers."""
        self.process = self._spawn()

        async def connected() -> Client | None:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                return await Client.connect(self.address, data_converter=DATA_CONVERTER)
            except RuntimeError:
                return None

        client: Client = await eventually(connected, timeout=90, interval=0.2)
        return client

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as sink:
            return subprocess.Popen(
                self.command, stdout=sink, stderr=sink, stdin=subprocess.DEVNULL
            )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 10)

    async def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    with reserved_ports(4) as ports:
        server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log", ports)
        try:
            yield server
        finally:
            await server.close()


async def test_a_job_survives_a_temporal_server_restart(
    dev_server: DevServer,
    drill_defaults: JobDefaults,
    simulator,
    org,
    workers,
    env_for,
    record_property,
) -> None:
    simulator.state.configure(latency_seconds=0.08)
    client = await dev_server.start()
    worker = workers.start(env_for(simulator, temporal_address=dev_server.address))
    await workers.ready(worker)
    job = await start_job(Automations(client, drill_defaults), simulator, org)
    await job.reached(60, workers)

    await dev_server.kill()
    await job.stalled()  # the batch in flight ended; nothing more can be scheduled
    client = await dev_server.start()
    cleared_at = time.time()
    job = job.with_client(client)
    report = await job.report()

    job.assert_written_once(report)
    recovery = job.recovery(cleared_at)
    record_property("recovery_seconds", round(recovery, 2))
    assert recovery < RECOVERY_BOUND
    assert worker.poll() is None, "the worker died with the server:\n" + workers.logs()
