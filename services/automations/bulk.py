"""Starting and steering bulk status jobs: start once per (org, event, target, filter),
watch progress, pause, resume and cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from catalog.guest_filter import GuestFilter
from services.automations.client import AutomationsBase, BulkStart
from workflows import ids
from workflows.bulk import BulkStatusWorkflow
from workflows.contracts.bulk import BulkProgress, BulkReport, BulkStatusInput, ControlRequest

ControlAction = Literal["pause", "resume", "cancel"]


class JobControlError(Exception):
    """A pause/resume/cancel that cannot apply; the text is fit to show a user."""


class NoWorker(Exception):
    """No worker applied a pause/resume/cancel in time, and it will not apply later."""


class BulkJobs(AutomationsBase):
    async def start_bulk(
        self,
        *,
        org_id: int,
        event_id: str,
        target_status: str,
        guest_filter: GuestFilter,
        should_refund: bool | None = None,
        requested_by: int | None = None,
        chat_id: int | None = None,
        event_name: str = "",
    ) -> BulkStart:
        """Start the job, or find the identical one already running (double clicks)."""
        workflow_id = ids.bulk_id(org_id, event_id, target_status, guest_filter)
        job = BulkStatusInput(
            org_id=org_id,
            event_id=event_id,
            target_status=target_status,
            filter=guest_filter,
            should_refund=should_refund,
            requested_by=requested_by,
            chat_id=chat_id,
            event_name=event_name,
            batch_size=self.defaults.batch_size,
            concurrency=self.defaults.concurrency,
            heartbeat_timeout_seconds=self.defaults.heartbeat_timeout_seconds,
        )
        return await self.start_once(
            BulkStatusWorkflow.run,
            job,
            workflow_id,
            reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            attributes=ids.search_attributes(
                org_id=org_id, kind="bulk", event_id=event_id, requested_by=requested_by
            ),
        )

    def bulk_handle(self, workflow_id: str) -> WorkflowHandle[BulkStatusWorkflow, BulkReport]:
        return self.client.get_workflow_handle_for(BulkStatusWorkflow.run, workflow_id)

    async def bulk_progress(self, workflow_id: str) -> BulkProgress:
        return await self.handle(workflow_id).query(BulkStatusWorkflow.progress)

    async def control_bulk(
        self,
        workflow_id: str,
        action: ControlAction,
        requested_by: int | None = None,
        *,
        task_queue: str | None = None,
    ) -> BulkProgress:
        """Apply it and return the job's progress. Raises `JobControlError` when the job
        refuses, and `NoWorker` when no worker runs the job's `task_queue` (then nothing is
        sent) or none applied it within `control_timeout_seconds` (then it is dropped)."""
        update = {
            "pause": BulkStatusWorkflow.pause,
            "resume": BulkStatusWorkflow.resume,
            "cancel": BulkStatusWorkflow.cancel,
        }[action]
        # Only a worker applies an update: without one, refuse before anything is sent.
        if not await self.worker_alive(task_queue):
            raise NoWorker(
                f"No automation worker is running, so the job cannot {action} now; nothing "
                "was changed. Try again once the worker is back."
            )
        wait = self.defaults.control_timeout_seconds
        try:
            return await self.handle(workflow_id).execute_update(
                update, ControlRequest(requested_by), rpc_timeout=timedelta(seconds=wait)
            )
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # An update no worker accepted is dropped once its caller stops waiting (the
            # server keeps it only while the request is open): it never applies later.
            raise NoWorker(
                f"No automation worker answered within {wait:g} s, so the job did not "
                f"{action}; nothing was changed. Try again once the worker is back."
            ) from None
        except WorkflowUpdateFailedError as exc:
            reason = exc.cause.message if isinstance(exc.cause, ApplicationError) else str(exc)
            raise JobControlError(f"Cannot {action} this job: {reason}.") from None
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise JobControlError(
                    f"Cannot {action} this job: it is no longer running."
                ) from None
            raise
