"""CRM sync runs: one now (joining a running one) and the org's CRM schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle

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
        return await self.start_or_join_org_run(
            CrmSyncWorkflow.run,
            CrmSyncInput(org_id, chat_id),
            org_id=org_id,
            workflow_id=ids.crm_id(org_id),
            schedule_id=ids.crm_schedule_id(org_id),
            kind="crm",
            requested_by=requested_by,
        )

    async def set_crm_schedule(self, org_id: int, enabled: bool) -> None:
        """Sync the org's CRM every `crm_interval_hours`, or stop."""
        await self.set_interval_schedule(
            CrmSyncWorkflow.run,
            CrmSyncInput(org_id),
            org_id=org_id,
            workflow_id=ids.crm_id(org_id),
            schedule_id=ids.crm_schedule_id(org_id),
            kind="crm",
            every=timedelta(hours=self.defaults.crm_interval_hours) if enabled else None,
        )
