"""The org's workflows and schedules as jobs: list, progress, pause / resume / cancel.

A job belongs to the token's org when its `OrgId` search attribute says so (schedules: when
its id is one of the org's schedule ids); anything else is reported as not found.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus

from api.deps import AutomationsDep, CurrentOrg, DepsDep, SessionDep
from api.errors import ApiError, not_found
from api.schemas import BulkProgressPublic, JobDetail, JobList, JobPublic
from store import audit
from workflows import ids
from workflows.contracts.bulk import BulkProgress
from workflows.jobs_view import JobNotFound, bulk_progress_or_none, org_schedules, owned_workflow
from workflows.starter import Automations, ControlAction, JobControlError

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

WorkflowId = Annotated[str, Path(min_length=1, max_length=500)]


async def _schedules(
    session: AsyncSession, automations: Automations, org_id: int
) -> list[JobPublic]:
    return [
        JobPublic(**vars(schedule))
        for schedule in await org_schedules(session, automations, org_id)
    ]


async def _owned(
    automations: Automations, org_id: int, workflow_id: str
) -> WorkflowExecutionDescription:
    try:
        return await owned_workflow(automations, org_id, workflow_id)
    except JobNotFound:
        raise not_found("job") from None


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
    return JobList(jobs=await _schedules(session, automations, org_id) + jobs)


@router.get("/{workflow_id}", summary="One job: status, and progress for bulk jobs")
async def get_job(
    org_id: CurrentOrg, automations: AutomationsDep, session: SessionDep, workflow_id: WorkflowId
) -> JobDetail:
    if workflow_id.startswith(("sync-schedule-", "digest-schedule-")):
        for schedule in await _schedules(session, automations, org_id):
            if schedule.workflow_id == workflow_id:
                return JobDetail(**schedule.model_dump())
        raise not_found("job")
    description = await _owned(automations, org_id, workflow_id)
    kind = description.typed_search_attributes.get(ids.KIND)
    progress = await bulk_progress_or_none(automations, workflow_id) if kind == "bulk" else None
    return _detail(automations, description, progress)


@router.post("/{workflow_id}/{action}", summary="Pause, resume or cancel a bulk job")
async def control_job(
    org_id: CurrentOrg,
    deps: DepsDep,
    workflow_id: WorkflowId,
    action: ControlAction,
) -> JobDetail:
    automations = deps.automations
    description = await _owned(automations, org_id, workflow_id)
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
