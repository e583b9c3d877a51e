"""An org's jobs: list them, look at one, and pause / resume / cancel a bulk job.

The bot's `/jobs` and its Pause / Resume / Cancel buttons, the API's `/v1/jobs` routes and the
portal's jobs pages come here. A job is the org's when its `OrgId` search attribute says so
(a schedule: when its id is one of the org's schedule ids); anyone else's job is "not found",
exactly like a made-up id, so ids reveal nothing. Control is for admins, applies to bulk jobs
only, and writes one audit row.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError

from services import audit
from services.automations import Automations, ControlAction, JobControlError, JobInfo, NoWorker
from services.automations.client import TEMPORAL_DOWN, is_outage, requester_of
from services.automations.jobs import (
    JobNotFound,
    bulk_progress_or_last,
    org_schedules,
    owned_workflow,
)
from services.caller import Caller, Conflict, NotFound, Unavailable
from store.models import Event, User
from workflows import ids
from workflows.contracts.bulk import BulkProgress

NO_SUCH_JOB = "There is no such job in this calendar."
ONLY_BULK = "Only bulk status jobs can be paused, resumed or cancelled."
SCHEDULE_PREFIXES = ("sync-schedule-", "enrich-schedule-", "digest-schedule-")


@dataclass(frozen=True)
class OrgJobs:
    """The org's standing schedules, and its running and recent workflows (newest first)."""

    schedules: list[JobInfo]
    workflows: list[JobInfo]


def _job(
    automations: Automations,
    description: WorkflowExecutionDescription,
    progress: BulkProgress | None = None,
) -> JobInfo:
    state = description.status or WorkflowExecutionStatus.RUNNING
    attributes = description.typed_search_attributes
    return JobInfo(
        workflow_id=description.id,
        kind=_kind(description),
        status=state.name.lower(),
        started_at=description.start_time,
        web_url=automations.job_url(description.id),
        progress=progress,
        event_id=attributes.get(ids.EVENT_ID),
        requested_by=requester_of(attributes),
    )


def user_name(user: User) -> str:
    """How a person who asked for a job is named: their name, else @username, else their id."""
    return user.full_name or (f"@{user.username}" if user.username else f"user {user.id}")


async def _named(session: AsyncSession, org_id: int, found: list[JobInfo]) -> list[JobInfo]:
    """The jobs with their event's name (from the cache) and who asked (from the users table)."""
    event_ids = {job.event_id for job in found if job.event_id}
    user_ids = {job.requested_by for job in found if job.requested_by is not None}
    events: dict[str, str] = {}
    if event_ids:
        rows = await session.execute(
            select(Event.luma_event_id, Event.name).where(
                Event.org_id == org_id, Event.luma_event_id.in_(event_ids)
            )
        )
        events = {luma_id: name for luma_id, name in rows}
    users: dict[int, str] = {}
    if user_ids:
        users = {
            user.id: user_name(user)
            for user in await session.scalars(select(User).where(User.id.in_(user_ids)))
        }
    return [
        replace(
            job,
            event_name=events.get(job.event_id) if job.event_id else None,
            requested_by_name=users.get(job.requested_by) if job.requested_by is not None else None,
        )
        for job in found
    ]


def _kind(description: WorkflowExecutionDescription) -> str:
    return description.typed_search_attributes.get(ids.KIND) or description.workflow_type


async def _owned(
    automations: Automations, caller: Caller, workflow_id: str
) -> WorkflowExecutionDescription:
    try:
        return await owned_workflow(automations, caller.org_id, workflow_id)
    except JobNotFound:
        raise NotFound(NO_SUCH_JOB) from None


async def list_jobs(
    session: AsyncSession, automations: Automations, caller: Caller, *, limit: int = 20
) -> OrgJobs:
    """Schedules (sync, enrichment, digests) and workflows. Reading: members too."""
    workflows = await automations.list_jobs(caller.org_id, limit=limit)
    return OrgJobs(
        schedules=await org_schedules(session, automations, caller.org_id),
        workflows=await _named(session, caller.org_id, workflows),
    )


async def get_job(
    session: AsyncSession, automations: Automations, caller: Caller, workflow_id: str
) -> JobInfo:
    """One job with, for a bulk job, its progress (as last written while no worker answers)."""
    if workflow_id.startswith(SCHEDULE_PREFIXES):
        for schedule in await org_schedules(session, automations, caller.org_id):
            if schedule.workflow_id == workflow_id:
                return schedule
        raise NotFound(NO_SUCH_JOB)
    description = await _owned(automations, caller, workflow_id)
    progress = (
        await bulk_progress_or_last(automations, session, workflow_id, description)
        if _kind(description) == "bulk"
        else None
    )
    [job] = await _named(session, caller.org_id, [_job(automations, description, progress)])
    return job


async def control_job(
    caller: Caller,
    workflow_id: str,
    action: ControlAction,
    *,
    sessions: async_sessionmaker[AsyncSession],
    automations: Automations,
) -> JobInfo:
    """Pause, resume or cancel a bulk job of the org. Raises `Forbidden` for a member,
    `NotFound` for another org's job, and `Conflict` when it cannot apply (not a bulk job,
    already paused, no longer running), and `Unavailable` when Temporal or every worker is
    down or no worker applied it in time (then it never applies later)."""
    caller.require_guest_writer()
    try:
        description = await _owned(automations, caller, workflow_id)
        if _kind(description) != "bulk":
            raise Conflict(ONLY_BULK)
        progress = await automations.control_bulk(
            workflow_id, action, caller.user_id, task_queue=description.task_queue
        )
    except JobControlError as exc:
        raise Conflict(html.escape(str(exc), quote=False)) from None
    except NoWorker as exc:
        raise Unavailable(html.escape(str(exc), quote=False)) from None
    except (RPCError, RuntimeError) as exc:
        if is_outage(exc):
            raise Unavailable(f"{TEMPORAL_DOWN}; nothing was changed.") from None
        raise
    async with sessions.begin() as session:
        await audit.record(
            caller, session, f"bulk_{action}", {"job": workflow_id}, result=progress.phase
        )
    return _job(automations, description, progress)
