"""Drill: Luma is down for a while (connections refused) mid-job, then comes back."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from core.http_server import serving
from standins.luma import RunningSimulator, SimulatorConfig, SimulatorState, create_app
from tests.conftest import eventually
from tests.drills.support import RECOVERY_BOUND, DrillJob, start_job
from tests.ports import reserved_ports


class SwitchableLuma:
    """The simulator on a port of its own, which it can leave and take again."""

    def __init__(self, state: SimulatorState, port: int) -> None:
        self.state, self.port = state, port
        self.running = RunningSimulator(f"http://127.0.0.1:{port}", state, state.calendars)
        self._serving: AsyncExitStack | None = None

    async def up(self) -> None:
        self.state.arm_hangs()
        stack = AsyncExitStack()
        await stack.enter_async_context(
            serving(create_app(self.state), port=self.port, on_stop=self.state.release_hangs)
        )
        self._serving = stack

    async def down(self) -> None:
        if self._serving is not None:
            await self._serving.aclose()
            self._serving = None


@pytest.fixture
async def luma() -> AsyncIterator[SwitchableLuma]:
    state = SimulatorState(SimulatorConfig(seed=uuid.uuid4().int % 10**9, calendars=0))
    state.configure(rate_limit=None)
    with reserved_ports(1) as (port,):
        switch = SwitchableLuma(state, port)
        await switch.up()
        try:
            yield switch
        finally:
            await switch.down()


@pytest.fixture
def simulator(luma: SwitchableLuma) -> RunningSimulator:
    """The drills' `org` links a calendar of this simulator."""
    return luma.running


async def retried(job: DrillJob, attempts: int) -> bool:
    """Whether the job's batch has been tried `attempts` times (Temporal retried it)."""
    description = await job.automations.handle(job.workflow_id).describe()
    return any(a.attempt >= attempts for a in description.raw_description.pending_activities)


async def test_a_job_finishes_after_luma_comes_back(
    automations, luma: SwitchableLuma, org, workers, env_for, record_property
) -> None:
    luma.state.configure(latency_seconds=0.08)
    worker = workers.start(env_for(luma.running))
    await workers.ready(worker)
    job = await start_job(automations, luma.running, org, target="declined")
    await job.reached(60, workers)

    await luma.down()
    down_at = time.time()
    # Down long enough for Temporal to retry the batch three times (after 1, 2 and 4 s).
    await eventually(lambda: retried(job, 4), timeout=60, interval=0.2)
    await luma.up()
    cleared_at = time.time()
    report = await job.report()

    job.assert_written_once(report)
    recovery = job.recovery(cleared_at)
    record_property("outage_seconds", round(cleared_at - down_at, 2))
    record_property("recovery_seconds", round(recovery, 2))
    assert recovery < RECOVERY_BOUND
