"""One guest's status change, waited for: someone is looking at the Confirm button."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeout

from services.automations.client import AutomationsBase
from workflows import ids
from workflows.contracts.guest_status import GuestStatusChange, GuestStatusResult
from workflows.guest_status import SetGuestStatusWorkflow

GUEST_STATUS_TIMEOUT = timedelta(seconds=60)


class GuestStatusError(Exception):
    """Luma refused or could not take one guest's change; the text is fit to show a user."""


def _failure_message(error: WorkflowFailureError) -> str:
    """The first ApplicationError's message down the chain: activities word those for people."""
    cause: BaseException | None = error.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        if isinstance(cause, TemporalTimeout):
            return "The change was not picked up in time; the automation worker may be down."
        cause = getattr(cause, "cause", None)
    return "Luma could not complete the change; try again in a minute."


class GuestStatusJobs(AutomationsBase):
    async def set_guest_status(self, change: GuestStatusChange) -> GuestStatusResult:
        """Approve or decline one guest and wait for the answer (a few hundred ms).

        Raises `GuestStatusError` with a sentence fit for the user when Luma says no.
        """
        workflow_id = ids.guest_status_id(
            change.org_id, change.event_id, change.email, change.target_status
        )
        try:
            return await self.client.execute_workflow(
                SetGuestStatusWorkflow.run,
                change,
                id=workflow_id,
                task_queue=self.defaults.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # Someone is waiting on the answer: without a worker, fail instead of hanging.
                execution_timeout=GUEST_STATUS_TIMEOUT,
                search_attributes=ids.search_attributes(
                    org_id=change.org_id,
                    kind="guest-status",
                    event_id=change.event_id,
                    requested_by=change.requested_by,
                ),
            )
        except WorkflowFailureError as exc:
            raise GuestStatusError(_failure_message(exc)) from None
