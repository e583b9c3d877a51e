"""Invite list jobs (`workflows.invites`)."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle

from services.automations.client import AutomationsBase
from workflows import ids
from workflows.contracts.invites import InviteJobInput
from workflows.invites import InviteListWorkflow


class InviteJobs(AutomationsBase):
    async def start_invites(self, job: InviteJobInput) -> WorkflowHandle[Any, Any]:
        """Start the job whose addresses are already staged in `invite_items`."""
        return await self.client.start_workflow(
            InviteListWorkflow.run,
            job,
            id=ids.invite_id(job.org_id, job.event_id, job.job_id),
            task_queue=self.defaults.task_queue,
            search_attributes=ids.search_attributes(
                org_id=job.org_id,
                kind="invites",
                event_id=job.event_id,
                requested_by=job.requested_by,
            ),
        )
