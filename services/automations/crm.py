"""CRM sync runs: one now (joining a running one) and the org's CRM schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy

from services.automations.client import AutomationsBase
from workflows import ids
from workflows.contracts.crm import CrmSyncInput
from workflows.crm import CrmSyncWorkflow


class CrmJobs(AutomationsBase):
    async def start_crm_sync(
        self, org_id: int, *, chat_id: int | None = None, requested_by: int | None = None
    ) -> WorkflowHandle[Any, Any]:
        """Push the org's changed profiles in the background, or join the run already going
        (started by hand or by the org's schedule)."""
        scheduled = await self.running_scheduled(ids.crm_schedule_id(org_id))
        if scheduled is not None:
            return scheduled
        return await self.client.start_workflow(
            CrmSyncWorkflow.run,
            CrmSyncInput(org_id, chat_id),
            id=ids.crm_id(org_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind="crm", requested_by=requested_by
            ),
        )

    async def set_crm_schedule(self, org_id: int, enabled: bool) -> None:
        """Sync the org's CRM every `crm_interval_hours`, or stop."""
        schedule_id = ids.crm_schedule_id(org_id)
        if not enabled:
            await self.delete_schedule(schedule_id)
            return
        every = timedelta(hours=self.defaults.crm_interval_hours)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                CrmSyncWorkflow.run,
                CrmSyncInput(org_id),
                id=ids.crm_id(org_id),
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind="crm"),
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self.upsert_schedule(
            schedule_id, schedule, ids.search_attributes(org_id=org_id, kind="crm-schedule")
        )
