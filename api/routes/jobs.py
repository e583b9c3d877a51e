"""The org's workflows and schedules as jobs: list, progress, pause / resume / cancel.

A job belongs to the token's org when its `OrgId` search attribute says so (schedules: when
its id is one of the org's schedule ids); anything else is reported as not found.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AutomationsDep, CurrentOrg, DepsDep, SessionDep
from api.errors import ApiError, not_found
from api.schemas import BulkProgressPublic, JobDetail, JobList, JobPublic
from store import audit, orgs
from workflows import ids
from workflows.bulk import BulkProgress
from workflows.starter import Automations, ControlAction, JobControlError

log = logging.getLogger("lumabot.api")
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

PROGRESS_TIMEOUT = 5.0  # a query needs a worker; without one, answer without progress
WorkflowId = Annotated[str, Path(min_length=1, max_length=500)]


def _schedule_url(automations: Automations, schedule_id: str) -> str:
    base = automations.defaults.ui_url.rstrip("/")
    namespace = automations.defaults.namespace
    return f"{base}/namespaces/{namespace}/schedules/{quote(schedule_id, safe='')}"


async def _org_schedules(
    session: AsyncSession, automations: Automations, org_id: int
) -> list[JobPublic]:
    """The org's sync schedule and its chats' digest schedules that exist in Temporal."""
    candidates = [(ids.sync_schedule_id(org_id), "sync-schedule")] + [
        (ids.digest_schedule_id(chat.id), "digest-schedule")
        for chat in await orgs.org_chats(session, org_id=org_id)
    ]
    exists = await asyncio.gather(
        *(automations.schedule_exists(schedule_id) for schedule_id, _ in candidates)
    )
    return [
        JobPublic(
            workflow_id=schedule_id,
            kind=kind,
            status="scheduled",
            started_at=None,
            ui_url=_schedule_url(automations, schedule_id),
        )
        for (schedule_id, kind), present in zip(candidates, exists, strict=True)
        if present
    ]


async def _owned_workflow(
    automations: Automations, org_id: int, workflow_id: str
) -> WorkflowExecutionDescription:
    try:
        description = await automations.handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise not_found("job") from None
        raise
    if description.typed_search_attributes.get(ids.ORG_ID) != str(org_id):
        raise not_found("job")
    return description


async def _progress(automations: Automations, workflow_id: str) -> BulkProgress | None:
    try:
        async with asyncio.timeout(PROGRESS_TIMEOUT):
            return await automations.bulk_progress(workflow_id)
    except (TimeoutError, RPCError, WorkflowQueryFailedError) as exc:
        log.warning("No progress for %s: %s", workflow_id, type(exc).__name__)
        return None


def _detail(
    automations: Automations,
    description: WorkflowExecutionDescription,
    progress: BulkProgress | None,
) -> JobDetail:
    state = description.status or WorkflowExecutionStatus.RUNNING
    return JobDetail(
        workflow_id=description.id,
        kind=description.typed_search_attributes.get(ids.KIND) or description.workflow_type,
        status=state.name.lower(),
        started_at=description.start_time,
        ui_url=automations.ui_url(description.id),
        progress=BulkProgressPublic(**vars(progress)) if progress else None,
    )


@router.get("", summary="Recent workflows and the schedules of your organization")
async def list_jobs(
    org_id: CurrentOrg,
    automations: AutomationsDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    workflows = await automations.list_jobs(org_id, limit=limit)
    jobs = [
        JobPublic(
            workflow_id=job.workflow_id,
            kind=job.kind,
            status=job.status,
            started_at=job.started_at,
            ui_url=job.ui_url,
        )
        for job in workflows
    ]
    return JobList(jobs=await _org_schedules(session, automations, org_id) + jobs)


@router.get("/{workflow_id}", summary="One job: status, and progress for bulk jobs")
async def get_job(
    org_id: CurrentOrg, automations: AutomationsDep, session: SessionDep, workflow_id: WorkflowId
) -> JobDetail:
    if workflow_id.startswith(("sync-schedule-", "digest-schedule-")):
        for schedule in await _org_schedules(session, automations, org_id):
            if schedule.workflow_id == workflow_id:
                return JobDetail(**schedule.model_dump())
        raise not_found("job")
    description = await _owned_workflow(automations, org_id, workflow_id)
    kind = description.typed_search_attributes.get(ids.KIND)
    progress = await _progress(automations, workflow_id) if kind == "bulk" else None
    return _detail(automations, description, progress)


@router.post("/{workflow_id}/{action}", summary="Pause, resume or cancel a bulk job")
async def control_job(
    org_id: CurrentOrg,
    deps: DepsDep,
    workflow_id: WorkflowId,
    action: ControlAction,
) -> JobDetail:
    automations = deps.automations
    description = await _owned_workflow(automations, org_id, workflow_id)
    if description.typed_search_attributes.get(ids.KIND) != "bulk":
        raise ApiError(409, "Only bulk status jobs can be paused, resumed or cancelled.")
    try:
        progress = await automations.control_bulk(workflow_id, action)
    except JobControlError as exc:
        raise ApiError(409, str(exc)) from None
    async with deps.sessions.begin() as session:
        await audit.record(
            session,
            org_id=org_id,
            source="api",
            action=f"bulk_{action}",
            result=progress.phase,
            target={"job": workflow_id},
        )
    return _detail(automations, description, progress)
