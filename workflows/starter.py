"""Starting and steering the automations through a Temporal client (used by bot and API).

This is the only door from the product's faces into the workflows: it picks deterministic
ids, sets the search attributes, and creates, updates and deletes the Schedules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.exceptions import TimeoutError as TemporalTimeout
from temporalio.service import RPCError, RPCStatusCode

from catalog.guest_filter import GuestFilter
from core.settings import Settings
from workflows import ids
from workflows.bulk import BulkReport, BulkStatusWorkflow
from workflows.contracts.bulk import BulkProgress, BulkStatusInput, ControlRequest
from workflows.contracts.digest import DigestInput
from workflows.contracts.enrichment import EnrichInput
from workflows.contracts.followups import FollowupInput, FollowupProgress
from workflows.contracts.guest_status import GuestStatusChange, GuestStatusResult
from workflows.contracts.sync import RefreshGuestInput, SyncInput
from workflows.digest import DailyDigestWorkflow
from workflows.enrichment import EnrichOrgWorkflow, enrich_id, enrich_schedule_id
from workflows.followups import FollowupWorkflow, followup_id
from workflows.guest_status import SetGuestStatusWorkflow
from workflows.sync import RefreshGuestWorkflow, SyncOrgWorkflow

ControlAction = Literal["pause", "resume", "cancel"]
GUEST_STATUS_TIMEOUT = timedelta(seconds=60)


class JobControlError(Exception):
    """A pause/resume/cancel that cannot apply; the text is fit to show a user."""


class GuestStatusError(Exception):
    """Luma refused or could not take one guest's change; the text is fit to show a user."""


def _failure_message(error: WorkflowFailureError) -> str:
    """The first ApplicationError's message down the chain: activities word those for people."""
    cause = error.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        if isinstance(cause, TemporalTimeout):
            return "The change was not picked up in time; the automation worker may be down."
        cause = getattr(cause, "cause", None)
    return "Luma could not complete the change; try again in a minute."


@dataclass(frozen=True)
class JobDefaults:
    """Tunables the workflows receive in their inputs (workflows never read settings)."""

    task_queue: str = "lumabot"
    ui_url: str = "http://127.0.0.1:8233"
    namespace: str = "default"
    batch_size: int = 100
    concurrency: int = 8
    heartbeat_timeout_seconds: float = 30.0
    summary_delay_minutes: int = 120
    sync_interval_minutes: int = 15
    followup_batch_size: int = 50
    enrichment_interval_hours: float = 24.0

    @classmethod
    def from_settings(cls, settings: Settings) -> JobDefaults:
        return cls(
            followup_batch_size=settings.followup_batch_size,
            task_queue=settings.temporal_task_queue,
            ui_url=settings.temporal_ui_url,
            namespace=settings.temporal_namespace,
            batch_size=settings.bulk_batch_size,
            concurrency=settings.bulk_concurrency,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            summary_delay_minutes=settings.summary_delay_minutes,
            sync_interval_minutes=settings.sync_interval_minutes,
            enrichment_interval_hours=settings.enrichment_interval_hours,
        )


@dataclass
class BulkStart:
    workflow_id: str
    already_running: bool
    ui_url: str


@dataclass
class JobInfo:
    workflow_id: str
    kind: str
    status: str
    started_at: datetime | None
    ui_url: str


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


class Automations:
    """The product's handle on its workflows and schedules."""

    def __init__(self, client: Client, defaults: JobDefaults) -> None:
        self.client = client
        self.defaults = defaults

    @classmethod
    async def connect(cls, settings: Settings) -> Automations:
        """Connect to the configured Temporal cluster (bot and API processes)."""
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
        return cls(client, JobDefaults.from_settings(settings))

    def ui_url(self, workflow_id: str) -> str:
        base = self.defaults.ui_url.rstrip("/")
        return (
            f"{base}/namespaces/{self.defaults.namespace}/workflows/{quote(workflow_id, safe='')}"
        )

    # -- bulk status ----------------------------------------------------------------------

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
        return await self._start_once(
            BulkStatusWorkflow.run,
            job,
            workflow_id,
            reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            attributes=ids.search_attributes(
                org_id=org_id, kind="bulk", event_id=event_id, requested_by=requested_by
            ),
        )

    async def _start_once(
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
            return BulkStart(workflow_id, True, self.ui_url(workflow_id))
        return BulkStart(workflow_id, False, self.ui_url(workflow_id))

    def handle(self, workflow_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id)

    def bulk_handle(self, workflow_id: str) -> WorkflowHandle[BulkStatusWorkflow, BulkReport]:
        return self.client.get_workflow_handle_for(BulkStatusWorkflow.run, workflow_id)

    async def bulk_progress(self, workflow_id: str) -> BulkProgress:
        return await self.handle(workflow_id).query(
            BulkStatusWorkflow.progress, result_type=BulkProgress
        )

    async def control_bulk(
        self, workflow_id: str, action: ControlAction, requested_by: int | None = None
    ) -> BulkProgress:
        update = {
            "pause": BulkStatusWorkflow.pause,
            "resume": BulkStatusWorkflow.resume,
            "cancel": BulkStatusWorkflow.cancel,
        }[action]
        try:
            return await self.handle(workflow_id).execute_update(
                update, ControlRequest(requested_by), result_type=BulkProgress
            )
        except WorkflowUpdateFailedError as exc:
            reason = exc.cause.message if isinstance(exc.cause, ApplicationError) else str(exc)
            raise JobControlError(f"Cannot {action} this job: {reason}.") from None
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise JobControlError(
                    f"Cannot {action} this job: it is no longer running."
                ) from None
            raise

    # -- follow-up emails -----------------------------------------------------------------

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
        workflow_id = followup_id(job.org_id, job.event_id, job.audience, job.campaign_id)
        return await self._start_once(
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
        return await self.handle(workflow_id).query(
            FollowupWorkflow.progress, result_type=FollowupProgress
        )

    # -- one guest ------------------------------------------------------------------------

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

    # -- sync -----------------------------------------------------------------------------

    def _sync_input(self, org_id: int) -> SyncInput:
        return SyncInput(
            org_id=org_id,
            summary_delay_minutes=self.defaults.summary_delay_minutes,
            heartbeat_timeout_seconds=self.defaults.heartbeat_timeout_seconds,
        )

    async def sync_now(self, org_id: int, *, interactive: bool = False) -> WorkflowHandle[Any, Any]:
        """Run a sync now, or join the one already running; `interactive` when a person
        waits for it."""
        return await self.client.start_workflow(
            SyncOrgWorkflow.run,
            replace(self._sync_input(org_id), interactive=interactive),
            id=ids.sync_id(org_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(org_id=org_id, kind="sync"),
        )

    async def refresh_event(self, org_id: int, event_id: str) -> WorkflowHandle[Any, Any]:
        """Re-read one event's guest list now (a stale cache about to answer a question)."""
        job = replace(self._sync_input(org_id), event_ids=[event_id], interactive=True)
        return await self.client.start_workflow(
            SyncOrgWorkflow.run,
            job,
            id=ids.event_sync_id(org_id, event_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(org_id=org_id, kind="sync", event_id=event_id),
        )

    async def ensure_sync_schedule(self, org_id: int, interval_minutes: int | None = None) -> None:
        """Create the org's sync schedule, or update its interval if it exists."""
        every = timedelta(minutes=interval_minutes or self.defaults.sync_interval_minutes)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                SyncOrgWorkflow.run,
                self._sync_input(org_id),
                id=ids.sync_id(org_id),
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind="sync"),
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self._upsert_schedule(
            ids.sync_schedule_id(org_id),
            schedule,
            ids.search_attributes(org_id=org_id, kind="sync-schedule"),
        )

    async def refresh_guest(
        self, org_id: int, event_id: str, *, guest_id: str | None = None, email: str | None = None
    ) -> WorkflowHandle[Any, Any]:
        ref = guest_id or email or ""
        return await self.client.start_workflow(
            RefreshGuestWorkflow.run,
            RefreshGuestInput(org_id, event_id, guest_id, email),
            id=ids.guest_refresh_id(org_id, event_id, ref),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind="guest-refresh", event_id=event_id
            ),
        )

    # -- enrichment -----------------------------------------------------------------------

    async def start_enrichment(
        self, org_id: int, *, chat_id: int | None = None, requested_by: int | None = None
    ) -> WorkflowHandle[Any, Any]:
        """Enrich the org's guests in the background, or join the run already going."""
        return await self.client.start_workflow(
            EnrichOrgWorkflow.run,
            EnrichInput(org_id, chat_id),
            id=enrich_id(org_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind="enrich", requested_by=requested_by
            ),
        )

    async def set_enrichment_schedule(self, org_id: int, enabled: bool) -> None:
        """Enrich the org every `enrichment_interval_hours` (new guests arrive with syncs),
        or stop."""
        schedule_id = enrich_schedule_id(org_id)
        if not enabled:
            await self._delete_schedule(schedule_id)
            return
        every = timedelta(hours=self.defaults.enrichment_interval_hours)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                EnrichOrgWorkflow.run,
                EnrichInput(org_id),
                id=enrich_id(org_id),
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind="enrich"),
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self._upsert_schedule(
            schedule_id, schedule, ids.search_attributes(org_id=org_id, kind="enrich-schedule")
        )

    # -- digest ---------------------------------------------------------------------------

    async def set_digest(self, *, chat_id: int, org_id: int, at: str, timezone: str) -> None:
        """Daily at `at` (HH:MM) in `timezone`; replaces any earlier digest schedule."""
        hour, minute = (int(part) for part in at.split(":"))
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                DailyDigestWorkflow.run,
                DigestInput(chat_id=chat_id, org_id=org_id),
                id=f"digest-{chat_id}",
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind="digest"),
            ),
            spec=ScheduleSpec(
                calendars=[
                    ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])
                ],
                time_zone_name=timezone,
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self._upsert_schedule(
            ids.digest_schedule_id(chat_id),
            schedule,
            ids.search_attributes(org_id=org_id, kind="digest-schedule"),
        )

    async def clear_digest(self, chat_id: int) -> bool:
        return await self._delete_schedule(ids.digest_schedule_id(chat_id))

    async def send_digest_now(self, *, chat_id: int, org_id: int) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            DailyDigestWorkflow.run,
            DigestInput(chat_id=chat_id, org_id=org_id, force=True),
            id=f"digest-{chat_id}-now",
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(org_id=org_id, kind="digest"),
        )

    # -- org lifecycle --------------------------------------------------------------------

    async def on_org_linked(self, org_id: int, interval_minutes: int | None = None) -> None:
        await self.ensure_sync_schedule(org_id, interval_minutes)
        await self.sync_now(org_id)

    async def on_org_unlinked(self, org_id: int, chat_ids: list[int]) -> None:
        """The last chat let go of the org: stop its schedules."""
        await self._delete_schedule(ids.sync_schedule_id(org_id))
        await self._delete_schedule(enrich_schedule_id(org_id))
        for chat_id in chat_ids:
            await self.clear_digest(chat_id)

    async def schedule_exists(self, schedule_id: str) -> bool:
        try:
            await self.client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _upsert_schedule(self, schedule_id: str, schedule: Schedule, attributes) -> None:  # type: ignore[no-untyped-def]
        if await self.schedule_exists(schedule_id):

            def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await self.client.get_schedule_handle(schedule_id).update(replace)
            return
        await self.client.create_schedule(schedule_id, schedule, search_attributes=attributes)

    async def _delete_schedule(self, schedule_id: str) -> bool:
        try:
            await self.client.get_schedule_handle(schedule_id).delete()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    # -- listing --------------------------------------------------------------------------

    async def list_jobs(self, org_id: int, *, limit: int = 20) -> list[JobInfo]:
        """Running and recent workflows of one org, newest first (visibility query)."""
        query = f"OrgId = '{int(org_id)}'"
        jobs = []
        async for execution in self.client.list_workflows(query, limit=limit):
            kind = execution.typed_search_attributes.get(ids.KIND) or execution.workflow_type
            status = execution.status or WorkflowExecutionStatus.RUNNING
            jobs.append(
                JobInfo(
                    execution.id,
                    kind,
                    status.name.lower(),
                    execution.start_time,
                    self.ui_url(execution.id),
                )
            )
        return jobs
