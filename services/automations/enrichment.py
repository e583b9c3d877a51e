"""Enrichment runs: one now (joining a running one) and the org's enrichment schedule."""

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
from workflows.contracts.enrichment import EnrichInput
from workflows.enrichment import EnrichOrgWorkflow


class EnrichmentJobs(AutomationsBase):
    async def start_enrichment(
        self, org_id: int, *, chat_id: int | None = None, requested_by: int | None = None
    ) -> WorkflowHandle[Any, Any]:
        """Enrich the org's guests in the background, or join the run already going (started
        by hand or by the org's schedule)."""
        scheduled = await self.running_scheduled(ids.enrich_schedule_id(org_id))
        if scheduled is not None:
            return scheduled
        return await self.client.start_workflow(
            EnrichOrgWorkflow.run,
            EnrichInput(org_id, chat_id),
            id=ids.enrich_id(org_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind="enrich", requested_by=requested_by
            ),
        )

    async def set_enrichment_schedule(self, org_id: int, enabled: bool) -> None:
        """Enrich the org every `enrichment_interval_hours` (new guests arrive with syncs),
        or stop."""
        schedule_id = ids.enrich_schedule_id(org_id)
        if not enabled:
            await self.delete_schedule(schedule_id)
            return
        every = timedelta(hours=self.defaults.enrichment_interval_hours)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                EnrichOrgWorkflow.run,
                EnrichInput(org_id),
                id=ids.enrich_id(org_id),
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind="enrich"),
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self.upsert_schedule(
            schedule_id, schedule, ids.search_attributes(org_id=org_id, kind="enrich-schedule")
        )
