"""Kill the worker process mid-job: a new worker finishes it, and no guest is set twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from catalog.guest_filter import GuestFilter
from services.automations import Automations
from tests.conftest import PAYLOAD_KEYS, eventually

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen([LUMABOT, "worker"], env=env, stdout=sink, stderr=sink)


async def test_worker_killed_mid_job(
    temporal_env, simulator, org, db_url, encryption_keys, job_defaults, tmp_path
) -> None:
    defaults = replace(job_defaults, heartbeat_timeout_seconds=2, concurrency=4, batch_size=40)
    automations = Automations(temporal_env.client, defaults)
    simulator.state.configure(latency_seconds=0.06)
    event_id = simulator.state.add_event(
        org.calendar_id, guests=300, status_mix={"pending_approval": 1.0}
    )
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "ENCRYPTION_KEYS": encryption_keys[0],
        "TEMPORAL_PAYLOAD_KEYS": PAYLOAD_KEYS[0],  # the test client's codec key
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": defaults.task_queue,
        "LUMA_API_URL": simulator.base_url,
        "LUMA_RATE_LIMIT": "100000",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("BOT_TOKEN", None)
    log = tmp_path / "workers.log"
    first = start_worker(env, log)
    second = None
    try:
        started = await automations.start_bulk(
            org_id=org.org_id,
            event_id=event_id,
            target_status="approved",
            guest_filter=GuestFilter(statuses=["pending_approval"]),
        )
        try:
            await eventually(lambda: len(simulator.state.writes) >= 60, timeout=60)
        except AssertionError:
            raise AssertionError("worker made no progress:\n" + log.read_text()) from None
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        at_kill = len(simulator.state.writes)
        assert at_kill < 300, "the job finished before the kill; slow the simulator down"

        second = start_worker(env, log)
        report = await asyncio.wait_for(automations.bulk_handle(started.workflow_id).result(), 90)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                await asyncio.to_thread(process.wait, 15)

    guests = simulator.state.event(event_id).guests.values()
    assert {guest.approval_status for guest in guests} == {"approved"}
    assert report.done + report.skipped == 300 and report.failed == 0
    writes = [w for w in simulator.state.writes if w.event_id == event_id]
    changed = Counter(w.guest_id for w in writes if w.changed)
    assert len(changed) == 300 and set(changed.values()) == {1}
    repeats = len(writes) - 300
    assert repeats <= defaults.concurrency, f"{repeats} repeated calls"
    assert second is not None
    assert second.returncode == 0, "unclean shutdown on SIGTERM:\n" + log.read_text()
