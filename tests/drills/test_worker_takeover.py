"""Drill: two workers; the one running the batch is SIGKILLed and the other takes over."""

from __future__ import annotations

import time
from datetime import UTC

from temporalio.api.enums.v1 import PendingActivityState

from tests.conftest import eventually
from tests.drills.support import HEARTBEAT_SECONDS, DrillJob, start_job

# The batch moves once its heartbeat times out, then comes Temporal's first retry (1 s);
# the rest is room for the server's timers and a loaded machine.
TAKEOVER_MARGIN = 15.0


async def running_worker_pid(job: DrillJob) -> int:
    """The process id of the worker running the job's apply activity (identity `pid@host`),
    read early in an activity's 1.5 s window, so that the worker is still running it when
    it is killed."""

    async def fresh_activity() -> int | None:
        description = await job.automations.handle(job.workflow_id).describe()
        for activity in description.raw_description.pending_activities:
            started = activity.last_started_time.ToDatetime(UTC).timestamp()
            if (
                activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                and activity.activity_type.name == "apply_bulk_batch"
                and time.time() - started < 0.6
            ):
                return int(activity.last_worker_identity.split("@")[0])
        return None

    pid: int = await eventually(fresh_activity, timeout=30, interval=0.02)
    return pid


async def test_the_other_worker_takes_over_a_killed_workers_batch(
    automations, simulator, org, workers, env_for, record_property
) -> None:
    # Slower than the other drills: the kill must find the batch early in its window.
    simulator.state.configure(latency_seconds=0.12)
    env = env_for(simulator)
    pair = [workers.start(env), workers.start(env)]
    for process in pair:
        await workers.ready(process)
    job = await start_job(automations, simulator, org)
    await job.reached(60, workers)

    pid = await running_worker_pid(job)
    [doomed] = [p for p in pair if p.pid == pid]
    [survivor] = [p for p in pair if p is not doomed]
    await job.reached(len(job.writes()) + 2, workers)  # its calls are landing: kill mid-write
    killed_at = await workers.kill(doomed)
    report = await job.report()

    job.assert_written_once(report)
    recovery = job.recovery(killed_at)
    record_property("recovery_seconds", round(recovery, 2))
    # Guests an attempt sent but died before recording, read back instead of sent again.
    record_property("read_back", simulator.state.counters["op:guest"])
    assert HEARTBEAT_SECONDS / 2 < recovery < HEARTBEAT_SECONDS + TAKEOVER_MARGIN
    assert survivor.poll() is None
