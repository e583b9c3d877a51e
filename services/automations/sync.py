"""Syncs from Luma: now (joining one already running), per event, per guest, and the org's
sync schedule."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy

from services.automations.client import AutomationsBase
from workflows import ids
from workflows.contracts.sync import RefreshGuestInput, SyncInput
from workflows.sync import RefreshGuestWorkflow, SyncOrgWorkflow


class SyncJobs(AutomationsBase):
    def _sync_input(self, org_id: int) -> SyncInput:
        return SyncInput(
            org_id=org_id,
            summary_delay_minutes=self.defaults.summary_delay_minutes,
            heartbeat_timeout_seconds=self.defaults.heartbeat_timeout_seconds,
        )

    async def sync_now(self, org_id: int, *, interactive: bool = False) -> WorkflowHandle[Any, Any]:
        """Run a full sync now, or join the one already running by hand; `interactive` when a
        person waits for it. A run of the org's schedule is not joined: with Luma's webhook on
        it may only check the webhook (SyncInput.safety_net), and whoever asks here (a person,
        or a webhook saying an event changed) needs a full pass. Beside a scheduled full pass
        it costs a second pass at most; both only upsert."""
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
                replace(self._sync_input(org_id), safety_net=True),
                id=ids.sync_id(org_id),
                task_queue=self.defaults.task_queue,
                typed_search_attributes=ids.search_attributes(org_id=org_id, kind="sync"),
            ),
            spec=ScheduleSpec(
                intervals=[ScheduleIntervalSpec(every=every, offset=spread(org_id, every))]
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        await self.upsert_schedule(
            ids.sync_schedule_id(org_id),
            schedule,
            ids.search_attributes(org_id=org_id, kind="sync-schedule"),
        )

    async def refresh_guest(
        self,
        org_id: int,
        event_id: str,
        *,
        guest_id: str | None = None,
        email: str | None = None,
        settle: timedelta | None = None,
    ) -> WorkflowHandle[Any, Any]:
        """Re-read one guest from Luma; one workflow per guest at a time, so deliveries that
        arrive while it waits (`settle`: the rest of a sign-up's webhooks) or runs join it."""
        ref = guest_id or email or ""
        return await self.client.start_workflow(
            RefreshGuestWorkflow.run,
            RefreshGuestInput(org_id, event_id, guest_id, email),
            id=ids.guest_refresh_id(org_id, event_id, ref),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_delay=settle,
            search_attributes=ids.search_attributes(
                org_id=org_id, kind="guest-refresh", event_id=event_id
            ),
        )


def spread(org_id: int, every: timedelta) -> timedelta:
    """Where in each interval the org's sync runs: a fixed point drawn from its id, so the
    orgs' schedules are spread over the interval instead of all firing on the same second
    (500 orgs at once kept a worker busy for 15 s of every quarter hour)."""
    seconds = int(every.total_seconds())
    drawn = int.from_bytes(hashlib.sha256(f"sync:{org_id}".encode()).digest()[:8], "big")
    return timedelta(seconds=drawn % seconds) if seconds > 1 else timedelta(0)
