"""Drill: the only worker is SIGKILLed mid-job; a fresh worker finishes it.

Recovery is counted from the fresh worker polling (a worker process takes ~10 s to import
on a small machine, which says nothing about the job).
"""

from __future__ import annotations

from tests.drills.support import RECOVERY_BOUND, start_job


async def test_a_fresh_worker_finishes_a_job_whose_worker_was_killed(
    automations, simulator, org, workers, env_for, record_property
) -> None:
    simulator.state.configure(latency_seconds=0.08)
    env = env_for(simulator)
    first = workers.start(env)
    await workers.ready(first)
    job = await start_job(automations, simulator, org)
    await job.reached(60, workers)

    await workers.kill(first)
    await job.stalled()
    second = workers.start(env)
    cleared_at = await workers.ready(second)
    report = await job.report()

    job.assert_written_once(report)
    recovery = job.recovery(cleared_at)
    record_property("recovery_seconds", round(recovery, 2))
    # Guests an attempt sent but died before recording, read back instead of sent again.
    record_property("read_back", simulator.state.counters["op:guest"])
    assert recovery < RECOVERY_BOUND
    assert await workers.stop(second) == 0, "unclean shutdown on SIGTERM:\n" + workers.logs()
