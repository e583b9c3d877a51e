"""Starting a follow-up email campaign once, and reading its progress."""

from __future__ import annotations

from dataclasses import replace

from temporalio.common import WorkflowIDReusePolicy

from services.automations.client import AutomationsBase, BulkStart
from workflows import ids
from workflows.contracts.followups import FollowupInput, FollowupProgress
from workflows.followups import FollowupWorkflow


class FollowupJobs(AutomationsBase):
    async def start_followup(self, job: FollowupInput) -> BulkStart:
        """Start the campaign, or find it already started (a double-clicked Send).

        The id is fixed by (org, event, audience, campaign) and never reused, so a campaign
        runs once even if the button is pressed again after it finished.
        """
        job = replace(
            job,
            batch_size=self.defaults.followup_batch_size,
            heartbeat_timeout_seconds=self.defaults.heartbeat_timeout_seconds,
        )
        workflow_id = ids.followup_id(job.org_id, job.event_id, job.audience, job.campaign_id)
        return await self.start_once(
            FollowupWorkflow.run,
            job,
            workflow_id,
            reuse=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            attributes=ids.search_attributes(
                org_id=job.org_id,
                kind="followup",
                event_id=job.event_id,
                requested_by=job.requested_by,
            ),
        )

    async def followup_progress(self, workflow_id: str) -> FollowupProgress:
        return await self.handle(workflow_id).query(FollowupWorkflow.progress)
