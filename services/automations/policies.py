"""Registrations handed to an event's approval policy workflow (`workflows.policies`)."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from services.automations.client import AutomationsBase
from workflows import ids
from workflows.contracts.policies import PolicyRunInput
from workflows.policies import ApprovalPolicyWorkflow


class PolicyJobs(AutomationsBase):
    async def seats_changed(self, org_id: int, event_id: str) -> WorkflowHandle[Any, Any]:
        """Tell the event's policy workflow a seat may have freed (signal-with-start)."""
        return await self._signal(org_id, event_id, "seats_changed", [])

    async def registration_arrived(
        self, org_id: int, event_id: str, guest_id: str
    ) -> WorkflowHandle[Any, Any]:
        """Hand a new registration to the event's policy workflow, starting it if it is not
        running (signal-with-start: one workflow per event, however many arrive at once)."""
        return await self._signal(org_id, event_id, "registered", [guest_id])

    async def _signal(
        self, org_id: int, event_id: str, signal: str, args: list[Any]
    ) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            ApprovalPolicyWorkflow.run,
            PolicyRunInput(org_id, event_id),
            id=ids.policy_id(org_id, event_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=signal,
            start_signal_args=args,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind="approval-policy", event_id=event_id
            ),
        )
