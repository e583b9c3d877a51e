"""The Temporal client side shared by every feature: connection, the portal page of a job,
starting a workflow once under its deterministic id, schedules, and the org's job list.

Tenants are never linked into the Temporal UI (it shows every tenant's runs and payloads):
a job's link is its page in the web portal, which shows only the signed-in member's org.

Features (`bulk`, `sync`, `digest`, ...) add their own starters on top of `AutomationsBase`;
`services.automations.Automations` is all of them in one handle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core import defaults
from core.payload_codec import data_converter
from core.settings import Settings
from workflows import ids
from workflows.contracts.bulk import BulkProgress


@dataclass(frozen=True)
class JobDefaults:
    """Tunables the workflows receive in their inputs (workflows never read settings)."""

    task_queue: str = defaults.TEMPORAL_TASK_QUEUE
    public_url: str = defaults.PUBLIC_URL  # where the portal's job pages are
    namespace: str = defaults.TEMPORAL_NAMESPACE
    batch_size: int = defaults.BULK_BATCH_SIZE
    concurrency: int = defaults.BULK_CONCURRENCY
    heartbeat_timeout_seconds: float = defaults.HEARTBEAT_TIMEOUT_SECONDS
    summary_delay_minutes: int = defaults.SUMMARY_DELAY_MINUTES
    sync_interval_minutes: int = defaults.SYNC_INTERVAL_MINUTES
    followup_batch_size: int = defaults.FOLLOWUP_BATCH_SIZE
    enrichment_interval_hours: float = defaults.ENRICHMENT_INTERVAL_HOURS
    crm_interval_hours: float = defaults.CRM_INTERVAL_HOURS
    control_timeout_seconds: float = defaults.JOB_CONTROL_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> JobDefaults:
        return cls(
            followup_batch_size=settings.followup_batch_size,
            task_queue=settings.temporal_task_queue,
            public_url=settings.public_url,
            namespace=settings.temporal_namespace,
            batch_size=settings.bulk_batch_size,
            concurrency=settings.bulk_concurrency,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            summary_delay_minutes=settings.summary_delay_minutes,
            sync_interval_minutes=settings.sync_interval_minutes,
            enrichment_interval_hours=settings.enrichment_interval_hours,
            crm_interval_hours=settings.crm_interval_hours,
            control_timeout_seconds=settings.job_control_timeout_seconds,
        )


@dataclass
class BulkStart:
    workflow_id: str
    already_running: bool
    web_url: str  # the job's page in the portal


# What each kind of job does, in words (the `Kind` search attribute -> an action).
JOB_ACTIONS = {
    "bulk": "Bulk status change",
    "guest-status": "Guest status change",
    "sync": "Guest-list sync",
    "sync-schedule": "Scheduled guest-list sync",
    "guest-refresh": "Guest refresh",
    "approval-policy": "Approval policy",
    "invites": "Invite list",
    "enrich": "Profile enrichment",
    "enrich-schedule": "Scheduled profile enrichment",
    "crm": "CRM sync",
    "crm-schedule": "Scheduled CRM sync",
    "digest": "Daily digest",
    "digest-schedule": "Scheduled daily digest",
    "summary": "Post-event summary",
    "followup": "Follow-up emails",
}


@dataclass(frozen=True)
class JobInfo:
    """One of an org's jobs: a workflow, or a standing schedule (its id, status "scheduled");
    `progress` for a bulk job when it was asked for. `event_id` and `requested_by` come from
    the run's search attributes; `event_name` and `requested_by_name` are filled in by
    `services.jobs` from the cache and the users table."""

    workflow_id: str
    kind: str
    status: str
    started_at: datetime | None
    web_url: str  # the job's page in the portal
    progress: BulkProgress | None = None
    event_id: str | None = None
    requested_by: int | None = None
    event_name: str | None = None
    requested_by_name: str | None = None

    @property
    def action(self) -> str:
        """What the job does, in words ("Bulk status change", "Guest-list sync")."""
        return JOB_ACTIONS.get(self.kind, self.kind.replace("-", " ").capitalize())


TEMPORAL_DOWN = "The automation service (Temporal) is not answering right now"
_OUTAGES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


def is_outage(error: BaseException) -> bool:
    """Whether `error` means Temporal itself cannot be reached (not that it said no).

    A lazily connected client that never reached the server raises a RuntimeError.
    """
    if isinstance(error, RPCError):
        return error.status in _OUTAGES
    return isinstance(error, RuntimeError) and str(error).startswith("Failed client connect")


def requester_of(attributes: TypedSearchAttributes) -> int | None:
    """The user id in a run's `RequestedBy` search attribute (None when unset or not a number)."""
    value = attributes.get(ids.REQUESTED_BY)
    return int(value) if value and value.lstrip("-").isdigit() else None


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Create our custom search attributes where missing; returns the ones added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in ids.SEARCH_ATTRIBUTES
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


class AutomationsBase:
    """The product's handle on its workflows and schedules: what every feature shares."""

    def __init__(self, client: Client, defaults: JobDefaults) -> None:
        self.client = client
        self.defaults = defaults

    @classmethod
    async def connect(cls, settings: Settings) -> Any:
        """Connect to the configured Temporal cluster (bot and API processes)."""
        client = await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings.resolved_payload_keys()),
        )
        return cls(client, JobDefaults.from_settings(settings))

    def job_url(self, job_id: str) -> str:
        """A workflow's or schedule's page in the portal (`web.routes.jobs`)."""
        return f"{self.defaults.public_url.rstrip('/')}/web/jobs/{quote(job_id, safe='')}"

    async def start_once(
        self,
        run: Any,
        job: Any,
        workflow_id: str,
        *,
        reuse: WorkflowIDReusePolicy,
        attributes: TypedSearchAttributes,
    ) -> BulkStart:
        """Start a workflow under its deterministic id, or report the run already holding it."""
        try:
            await self.client.start_workflow(
                run,
                job,
                id=workflow_id,
                task_queue=self.defaults.task_queue,
                id_reuse_policy=reuse,
                search_attributes=attributes,
            )
        except WorkflowAlreadyStartedError:
            return BulkStart(workflow_id, True, self.job_url(workflow_id))
        return BulkStart(workflow_id, False, self.job_url(workflow_id))

    def handle(self, workflow_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id)

    async def worker_alive(self, task_queue: str | None = None) -> bool:
        """Whether a worker polled the task queue (ours by default) lately: the server lists
        the pollers it has seen."""
        response = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.client.namespace,
                task_queue=TaskQueue(name=task_queue or self.defaults.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            retry=True,  # a read: a busy server's passing refusal is asked again
        )
        since = time.time() - defaults.WORKER_SEEN_WITHIN_SECONDS
        return any(poller.last_access_time.ToSeconds() >= since for poller in response.pollers)

    async def running_scheduled(self, schedule_id: str) -> WorkflowHandle[Any, Any] | None:
        """The run the schedule has going now, if any.

        A schedule names its runs `<action id>-<timestamp>`, so starting the action's id with
        USE_EXISTING never meets them: a manual run asks the schedule first and joins its run
        instead of running beside it. The schedule's own record is read (not visibility, which
        may lag), and the run is described to be sure it has not just ended.
        """
        try:
            description = await self.client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        for action in description.info.running_actions:
            if not isinstance(action, ScheduleActionExecutionStartWorkflow):
                continue
            handle = self.client.get_workflow_handle(
                action.workflow_id, first_execution_run_id=action.first_execution_run_id
            )
            try:
                state = (await handle.describe()).status
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            if state in (None, WorkflowExecutionStatus.RUNNING):
                return handle
        return None

    async def schedule_exists(self, schedule_id: str) -> bool:
        try:
            await self.client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def upsert_schedule(
        self, schedule_id: str, schedule: Schedule, attributes: TypedSearchAttributes
    ) -> None:
        if await self.schedule_exists(schedule_id):

            def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await self.client.get_schedule_handle(schedule_id).update(replace)
            return
        await self.client.create_schedule(schedule_id, schedule, search_attributes=attributes)

    async def start_or_join_org_run(
        self,
        run: Any,
        job: Any,
        *,
        org_id: int,
        workflow_id: str,
        schedule_id: str,
        kind: str,
        requested_by: int | None,
    ) -> WorkflowHandle[Any, Any]:
        """Run an org-wide job now, or join the run already going: the one started by hand
        (the same id) or by the org's schedule (`running_scheduled`)."""
        scheduled = await self.running_scheduled(schedule_id)
        if scheduled is not None:
            return scheduled
        return await self.client.start_workflow(
            run,
            job,
            id=workflow_id,
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind=kind, requested_by=requested_by
            ),
        )

    async def set_interval_schedule(
        self,
        run: Any,
        job: Any,
        *,
        org_id: int,
        workflow_id: str,
        schedule_id: str,
        kind: str,
        every: timedelta | None,
    ) -> None:
        """Start `run(job)` every `every` (one run at a time: a run still going skips its
        turn), or remove the schedule (`every` None)."""
        if every is None:
            await self.delete_schedule(schedule_id)
            return
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                run,
                job,
                id=workflow_id,
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind=kind),
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self.upsert_schedule(
            schedule_id, schedule, ids.search_attributes(org_id=org_id, kind=f"{kind}-schedule")
        )

    async def delete_schedule(self, schedule_id: str) -> bool:
        try:
            await self.client.get_schedule_handle(schedule_id).delete()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def cancel_running(self, org_id: int) -> int:
        """Ask every running workflow of one org to cancel (an org being deleted); how many.
        Cancellation lets each stop where it is safe (a bulk job between writes)."""
        query = f"OrgId = '{int(org_id)}' AND ExecutionStatus = 'Running'"
        count = 0
        async for execution in self.client.list_workflows(query):
            try:
                await self.client.get_workflow_handle(execution.id).cancel()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
            count += 1
        return count

    async def list_jobs(self, org_id: int, *, limit: int = 20) -> list[JobInfo]:
        """Running and recent workflows of one org, newest first (visibility query)."""
        query = f"OrgId = '{int(org_id)}'"
        jobs = []
        async for execution in self.client.list_workflows(query, limit=limit):
            kind = execution.typed_search_attributes.get(ids.KIND) or execution.workflow_type
            status = execution.status or WorkflowExecutionStatus.RUNNING
            attributes = execution.typed_search_attributes
            jobs.append(
                JobInfo(
                    execution.id,
                    kind,
                    status.name.lower(),
                    execution.start_time,
                    self.job_url(execution.id),
                    event_id=attributes.get(ids.EVENT_ID),
                    requested_by=requester_of(attributes),
                )
            )
        return jobs
