"""Enrichment runs: one now (joining a running one) and the org's enrichment schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle

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
        return await self.start_or_join_org_run(
            EnrichOrgWorkflow.run,
            EnrichInput(org_id, chat_id),
            org_id=org_id,
            workflow_id=ids.enrich_id(org_id),
            schedule_id=ids.enrich_schedule_id(org_id),
            kind="enrich",
            requested_by=requested_by,
        )

    async def set_enrichment_schedule(self, org_id: int, enabled: bool) -> None:
        """Enrich the org every `enrichment_interval_hours` (new guests arrive with syncs),
        or stop."""
        every = timedelta(hours=self.defaults.enrichment_interval_hours)
        await self.set_interval_schedule(
            EnrichOrgWorkflow.run,
            EnrichInput(org_id),
            org_id=org_id,
            workflow_id=ids.enrich_id(org_id),
            schedule_id=ids.enrich_schedule_id(org_id),
            kind="enrich",
            every=every if enabled else None,
        )
