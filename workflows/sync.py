"""Guest-list sync per org (scheduled and on demand), and single-guest refresh (webhooks)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.sync import SyncActivities
    from workflows.contracts.summary import SummaryInput
    from workflows.contracts.sync import (
        EventGuestsRef,
        EventsSynced,
        EventToSync,
        GuestRef,
        MissedRegistrationsRef,
        OrgRef,
        RefreshGuestInput,
        SyncInput,
        SyncReport,
    )
    from workflows.ids import search_attributes, summary_id
    from workflows.retry import HEARTBEAT, LONG, LUMA_RETRY, QUICK, ActivityOptions
    from workflows.summary import PostEventSummaryWorkflow

# The sync hands the approval policies the registrations their webhooks did not bring.
MISSED_REGISTRATIONS_PATCH = "sync-delivers-missed-registrations"

# The missed-registration hand-over: a few quick attempts (see `_deliver_missed`).
HAND_OVER_RETRY = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=5))


@workflow.defn
class SyncOrgWorkflow:
    @workflow.run
    async def run(self, job: SyncInput) -> SyncReport:
        options: ActivityOptions = {
            "start_to_close_timeout": LONG,
            "heartbeat_timeout": timedelta(seconds=job.heartbeat_timeout_seconds),
            "retry_policy": LUMA_RETRY,
        }
        if job.event_ids:
            events = EventsSynced(
                total=len(job.event_ids),
                to_sync=[EventToSync(e, "", None, needs_summary=False) for e in job.event_ids],
            )
        else:
            events = await workflow.execute_activity_method(
                SyncActivities.sync_events,
                OrgRef(job.org_id, job.interactive, job.safety_net),
                **options,
            )
            if events.checked_only:  # the webhook is on and the last full pass is recent
                return SyncReport(events.total, 0, 0, 0, 0)
        guests = gone = 0
        for event in events.to_sync:
            synced = await workflow.execute_activity_method(
                SyncActivities.sync_event_guests,
                EventGuestsRef(job.org_id, event.event_id, job.interactive),
                **options,
            )
            guests, gone = guests + synced.upserted, gone + synced.gone
        profiles = 0
        if not job.event_ids:
            # Only a full pass makes the org fresh and its profiles whole; an event-scoped
            # refresh (a stale answer about to be given) stays quick.
            profiles = await workflow.execute_activity_method(
                SyncActivities.finish_org_sync,
                OrgRef(job.org_id),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
        delivered = 0
        if events.to_sync and workflow.patched(MISSED_REGISTRATIONS_PATCH):
            delivered = await self._deliver_missed(job, events)
        delay = job.summary_delay_minutes
        if events.summary_delay_minutes is not None:
            delay = events.summary_delay_minutes
        started = 0
        for event in events.to_sync:
            if event.needs_summary:
                started += await self._start_summary(job.org_id, event.event_id, delay)
        return SyncReport(
            events.total, len(events.to_sync), guests, gone, started, profiles, delivered
        )

    async def _deliver_missed(self, job: SyncInput, events: EventsSynced) -> int:
        """Registrations whose webhook never came go to the event's policy now, after the
        profiles are whole (the policy reads them). A safety net: its failure fails no sync,
        and after a few quick attempts it gives up (the next sync hands the registrations
        over again) rather than hold up the summaries that follow."""
        try:
            return await workflow.execute_activity_method(
                SyncActivities.deliver_missed_registrations,
                MissedRegistrationsRef(job.org_id, [e.event_id for e in events.to_sync]),
                start_to_close_timeout=LONG,  # heartbeats: a dead worker's step moves on
                heartbeat_timeout=HEARTBEAT,
                retry_policy=HAND_OVER_RETRY,
            )
        except ActivityError as error:
            workflow.logger.warning("missed registrations not handed over: %s", error.cause)
            return 0

    async def _start_summary(self, org_id: int, event_id: str, delay_minutes: int) -> int:
        """Start the event's summary workflow unless it already runs or ran."""
        try:
            await workflow.start_child_workflow(
                PostEventSummaryWorkflow.run,
                SummaryInput(org_id, event_id, delay_minutes),
                id=summary_id(org_id, event_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes(
                    org_id=org_id, kind="summary", event_id=event_id
                ),
            )
        except WorkflowAlreadyStartedError:
            return 0
        return 1


@workflow.defn
class RefreshGuestWorkflow:
    """A webhook said a guest changed: re-read that guest alone instead of a full sync."""

    @workflow.run
    async def run(self, job: RefreshGuestInput) -> str:
        return await workflow.execute_activity_method(
            SyncActivities.refresh_guest,
            GuestRef(job.org_id, job.event_id, job.guest_id, job.email),
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
