"""What every drill shares: worker processes, the bulk job, and the verdict of Luma's write log.

A drill runs a real bulk job through `lumabot worker` processes (so a SIGKILL is a real
crash), breaks something mid-job, puts it right, and then judges the job by the simulator's
write log, which records every write Luma accepted, a repeated one included (its old and
new status are then the same): every guest written exactly once, none missed, the report
equal to the log, and the first write after the fault was cleared within a bound.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from temporalio.client import Client

from catalog.guest_filter import GuestFilter
from services.automations import Automations
from standins.luma import RunningSimulator
from standins.luma.model import WriteRecord
from tests.conftest import PAYLOAD_KEYS, eventually, settled
from tests.workers import start_worker
from tests.workflows.conftest import LinkedOrg
from workflows.bulk import BulkReport

GUESTS = 240
# Short, so a dead worker's batch moves within seconds (the product's default is 10 s).
HEARTBEAT_SECONDS = 2.0
# Generous: the machine is shared, and a bound catches a stuck job, not a slow one. The
# timeouts below are as generous: a worker takes ~10 s of CPU to import, far more when busy.
RECOVERY_BOUND = 30.0
JOB_TIMEOUT = 180.0


def worker_env(
    *,
    database_url: str,
    encryption_key: str,
    temporal_address: str,
    task_queue: str,
    luma_url: str,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `lumabot worker` process: the test's database, Temporal server
    (with its payload key) and simulator; no bot. `extra` adds or overrides settings."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": encryption_key,
        "TEMPORAL_PAYLOAD_KEYS": PAYLOAD_KEYS[0],  # the test client's codec key
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "LUMA_API_URL": luma_url,
        "LUMA_RATE_LIMIT": "100000",
        "LOG_LEVEL": "INFO",  # the start-up line tells when a worker polls
        **extra,
    }
    env.pop("BOT_TOKEN", None)
    return env


class Workers:
    """`lumabot worker` processes, each logging to a file of its own; `close` ends them all."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = start_worker(env, self._log_path(len(self.processes)))
        self.processes.append(process)
        return process

    async def ready(self, process: subprocess.Popen[bytes], timeout: float = 150.0) -> float:
        """Wait until the worker polls its task queue; returns when (epoch seconds)."""
        log = self._log_path(self.processes.index(process))

        def polling() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the worker exited ({process.returncode}):\n{self.logs()}")
            return "worker polling" in log.read_text(errors="replace")

        try:
            await eventually(polling, timeout=timeout, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None
        return time.time()

    async def kill(self, process: subprocess.Popen[bytes]) -> float:
        """SIGKILL: no shutdown, no finished calls reported. Returns when it died."""
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
        return time.time()

    async def stop(self, process: subprocess.Popen[bytes]) -> int:
        """SIGTERM, as an operator stops a worker; its exit code."""
        process.terminate()
        return await asyncio.to_thread(process.wait, 20)

    async def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {n} ---\n" + self._log_path(n).read_text(errors="replace")[-4000:]
            for n in range(len(self.processes))
        )

    def _log_path(self, index: int) -> Path:
        return self.log_dir / f"worker-{index}.log"


@dataclass(frozen=True)
class DrillJob:
    """A bulk job over a fresh event whose guests all wait for approval."""

    automations: Automations
    simulator: RunningSimulator
    event_id: str
    guest_ids: frozenset[str]
    target: str
    workflow_id: str

    def with_client(self, client: Client) -> DrillJob:
        """The same job, followed through another Temporal client."""
        return replace(self, automations=Automations(client, self.automations.defaults))

    def writes(self) -> list[WriteRecord]:
        return [w for w in self.simulator.state.writes if w.event_id == self.event_id]

    async def reached(self, count: int, workers: Workers | None = None) -> None:
        """Wait until Luma has taken `count` of the job's writes."""
        try:
            await eventually(lambda: len(self.writes()) >= count, timeout=90, interval=0.02)
        except AssertionError:
            logs = workers.logs() if workers is not None else ""
            raise AssertionError(
                f"{len(self.writes())} writes, not {count}: the job made no progress\n{logs}"
            ) from None

    async def stalled(self) -> int:
        """Wait until Luma takes no more of the job's writes (the fault has bitten)."""

        async def landed() -> int:
            return len(self.writes())

        count: int = await settled(landed, quiet=1.0, timeout=30)
        assert count < len(self.guest_ids), "the job finished before the fault bit"
        return count

    async def report(self, timeout: float = JOB_TIMEOUT) -> BulkReport:
        handle = self.automations.bulk_handle(self.workflow_id)
        return await asyncio.wait_for(handle.result(), timeout)

    def recovery(self, cleared_at: float) -> float:
        """Seconds from the fault being cleared to the first write Luma took after it."""
        after = [w.at for w in self.writes() if w.at >= cleared_at]
        assert after, "no write landed after the fault was cleared"
        return min(after) - cleared_at

    def assert_written_once(self, report: BulkReport) -> None:
        """Every guest written exactly once, none missed, and the report says what the log
        says."""
        writes = self.writes()
        per_guest = Counter(w.guest_id for w in writes)
        doubled = sorted(guest for guest, count in per_guest.items() if count > 1)
        missed = self.guest_ids - per_guest.keys()
        strangers = per_guest.keys() - self.guest_ids
        assert not doubled, f"{len(doubled)} guests written more than once: {doubled[:5]}"
        assert not missed, f"{len(missed)} guests never written"
        assert not strangers, f"{len(strangers)} guests written who were not targets"
        assert {w.new_status for w in writes} == {self.target}
        assert all(w.changed for w in writes)
        statuses = Counter(
            guest.approval_status
            for guest in self.simulator.state.event(self.event_id).guests.values()
        )
        assert statuses == {self.target: len(self.guest_ids)}
        counts = (report.total, report.done, report.skipped, report.failed, report.cancelled)
        assert counts == (len(self.guest_ids), len(writes), 0, 0, False), report.text


async def start_job(
    automations: Automations,
    simulator: RunningSimulator,
    org: LinkedOrg,
    *,
    guests: int = GUESTS,
    target: str = "approved",
) -> DrillJob:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=guests, status_mix={"pending_approval": 1.0}
    )
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status=target,
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    return DrillJob(
        automations,
        simulator,
        event_id,
        frozenset(simulator.state.event(event_id).guests),
        target,
        started.workflow_id,
    )
