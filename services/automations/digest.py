"""A chat's daily digest: its schedule, and one sent now."""

from __future__ import annotations

from typing import Any

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy

from services.automations.client import AutomationsBase
from workflows import ids
from workflows.contracts.digest import DigestInput
from workflows.digest import DailyDigestWorkflow


class DigestJobs(AutomationsBase):
    async def set_digest(self, *, chat_id: int, org_id: int, at: str, timezone: str) -> None:
        """Daily at `at` (HH:MM) in `timezone`; replaces any earlier digest schedule."""
        hour, minute = (int(part) for part in at.split(":"))
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                DailyDigestWorkflow.run,
                DigestInput(chat_id=chat_id, org_id=org_id),
                id=ids.digest_id(chat_id),
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
        await self.upsert_schedule(
            ids.digest_schedule_id(chat_id),
            schedule,
            ids.search_attributes(org_id=org_id, kind="digest-schedule"),
        )

    async def clear_digest(self, chat_id: int) -> bool:
        return await self.delete_schedule(ids.digest_schedule_id(chat_id))

    async def send_digest_now(self, *, chat_id: int, org_id: int) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            DailyDigestWorkflow.run,
            DigestInput(chat_id=chat_id, org_id=org_id, force=True),
            id=ids.digest_now_id(chat_id),
            task_queue=self.defaults.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=ids.search_attributes(org_id=org_id, kind="digest"),
        )
