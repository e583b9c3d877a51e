"""Drill: Luma fails one request in ten with a 500, under a tight rate limit.

Luma's limit is scaled down from 200 a minute to 60 every 2 s (with a 1 s block after an
overrun), and the worker's budget is told the same, so the job runs at the limit's pace;
mid-job someone outside the budget spends a window's worth, so the job meets 429s too.
"""

from __future__ import annotations

from itertools import pairwise

from luma import LumaPool, LumaUnavailableError, RateLimitedError
from tests.drills.support import RECOVERY_BOUND, start_job

LIMIT, WINDOW = 60, 2.0


async def test_a_job_finishes_through_errors_and_a_tight_limit(
    automations, simulator, org, workers, env_for, record_property
) -> None:
    simulator.state.configure(
        latency_seconds=0.02,
        error_rate=0.1,
        rate_limit=LIMIT,
        rate_window_seconds=WINDOW,
        rate_block_seconds=1.0,
    )
    env = env_for(simulator, LUMA_RATE_LIMIT=str(LIMIT), LUMA_RATE_WINDOW_SECONDS=str(WINDOW))
    worker = workers.start(env)
    await workers.ready(worker)
    job = await start_job(automations, simulator, org, guests=200)
    await job.reached(60, workers)
    async with LumaPool(simulator.base_url) as elsewhere:
        spender = elsewhere.client(
            org.api_key, budget_key=f"elsewhere-{org.calendar_id}", max_retries=0
        )
        for _ in range(LIMIT + 1):
            try:
                await spender.get_self()
            except RateLimitedError:
                break  # the calendar is blocked now, for the worker too
            except LumaUnavailableError:
                continue  # one of the injected 500s
    report = await job.report()

    job.assert_written_once(report)
    assert simulator.state.counters["injected_errors"] > 0
    assert simulator.state.rate_limited[org.calendar_id] > 0
    # Every failed call was retried within Temporal's backoff (at most 5 s) or Luma's block.
    moments = sorted(w.at for w in job.writes())
    longest_silence = max(b - a for a, b in pairwise(moments))
    record_property("longest_silence_seconds", round(longest_silence, 2))
    record_property("errors", simulator.state.counters["injected_errors"])
    record_property("rate_limited", sum(simulator.state.rate_limited.values()))
    assert longest_silence < RECOVERY_BOUND
