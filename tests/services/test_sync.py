"""An enrichment run asked for while the org's schedule has one going joins it: one run, never
two at once (the schedule names its runs `<id>-<timestamp>`). A sync asked for is a full pass
of its own: the schedule's run may only be checking the webhook."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import ScheduleActionExecutionStartWorkflow, WorkflowExecutionStatus

from services import sync
from services.automations import Automations, JobDefaults
from tests.conftest import eventually
from tests.services.conftest import member_of
from workflows import ids


@pytest.fixture
async def idle(temporal_env) -> AsyncIterator[Automations]:
    """Automations on a task queue no worker polls: a started run stays running (no Luma, no
    timing), which is what a run in progress looks like to the next request."""
    automations = Automations(temporal_env.client, JobDefaults(task_queue=f"idle-{uuid.uuid4()}"))
    yield automations


async def _running(automations: Automations, org_id: int, kind: str) -> list[str]:
    query = f"OrgId = '{org_id}' AND Kind = '{kind}' AND ExecutionStatus = 'Running'"
    return [run.id async for run in automations.client.list_workflows(query)]


async def _scheduled_run(automations: Automations, schedule_id: str) -> str:
    """Trigger the schedule now and wait for the run it starts."""
    handle = automations.client.get_schedule_handle(schedule_id)
    await handle.trigger()

    async def started() -> str | None:
        for action in (await handle.describe()).info.running_actions:
            if isinstance(action, ScheduleActionExecutionStartWorkflow):
                return action.workflow_id
        return None

    return await eventually(started)


async def _stop(automations: Automations, org_id: int, kind: str) -> None:
    for workflow_id in await _running(automations, org_id, kind):
        await automations.handle(workflow_id).terminate("test over")


async def test_a_manual_sync_is_a_full_pass_beside_a_scheduled_safety_net(
    idle: Automations,
) -> None:
    org_id = 10**9 + uuid.uuid4().int % 10**8  # an org of this test only, in shared Temporal
    await idle.ensure_sync_schedule(org_id, interval_minutes=24 * 60)
    try:
        scheduled = await _scheduled_run(idle, ids.sync_schedule_id(org_id))
        assert scheduled.startswith(f"{ids.sync_id(org_id)}-")  # not the manual id

        handle = await sync.sync_now(member_of(org_id), idle, interactive=True)
        again = await sync.sync_now(member_of(org_id), idle)

        assert handle.id == again.id == ids.sync_id(org_id)  # the second joins the first

        async def both() -> bool:
            return sorted(await _running(idle, org_id, "sync")) == sorted([scheduled, handle.id])

        assert await eventually(both)
        description = await idle.handle(scheduled).describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
    finally:
        await idle.delete_schedule(ids.sync_schedule_id(org_id))
        await _stop(idle, org_id, "sync")


async def test_without_a_scheduled_run_a_manual_sync_starts_once(idle: Automations) -> None:
    org_id = 10**9 + uuid.uuid4().int % 10**8
    try:
        first = await sync.sync_now(member_of(org_id), idle)
        second = await sync.sync_now(member_of(org_id), idle)
        assert first.id == second.id == ids.sync_id(org_id)
    finally:
        await _stop(idle, org_id, "sync")


async def test_enrich_run_joins_the_scheduled_one(idle: Automations) -> None:
    org_id = 10**9 + uuid.uuid4().int % 10**8
    await idle.set_enrichment_schedule(org_id, True)
    try:
        scheduled = await _scheduled_run(idle, ids.enrich_schedule_id(org_id))
        handle = await idle.start_enrichment(org_id, chat_id=-1, requested_by=1)
        assert handle.id == scheduled
        assert await eventually(lambda: _running(idle, org_id, "enrich")) == [scheduled]
    finally:
        await idle.set_enrichment_schedule(org_id, False)
        await _stop(idle, org_id, "enrich")
