"""The org's workflows and schedules as jobs: list, progress, pause / resume / cancel.

What a job is, whose it is and who may steer it is `services.jobs`; these routes read the
request and shape the answer (another org's job is a 404, like a made-up id).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import AutomationsDep, CurrentCaller, DepsDep, SessionDep
from api.schemas import BulkProgressPublic, JobDetail, JobList, JobPublic
from services import jobs
from services.automations import ControlAction, JobInfo

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

WorkflowId = Annotated[str, Path(min_length=1, max_length=500)]


def _public(job: JobInfo) -> JobPublic:
    return JobPublic(
        workflow_id=job.workflow_id,
        kind=job.kind,
        action=job.action,
        status=job.status,
        started_at=job.started_at,
        event_id=job.event_id,
        event_name=job.event_name,
        requested_by=job.requested_by,
        requested_by_name=job.requested_by_name,
        web_url=job.web_url,
    )


def _detail(job: JobInfo) -> JobDetail:
    return JobDetail(
        **_public(job).model_dump(),
        progress=BulkProgressPublic(**vars(job.progress)) if job.progress else None,
    )


@router.get("", summary="Recent workflows and the schedules of your organization")
async def list_jobs(
    caller: CurrentCaller,
    automations: AutomationsDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    found = await jobs.list_jobs(session, automations, caller, limit=limit)
    return JobList(jobs=[_public(job) for job in found.schedules + found.workflows])


@router.get("/{workflow_id}", summary="One job: status, and progress for bulk jobs")
async def get_job(
    caller: CurrentCaller, automations: AutomationsDep, session: SessionDep, workflow_id: WorkflowId
) -> JobDetail:
    return _detail(await jobs.get_job(session, automations, caller, workflow_id))


@router.post("/{workflow_id}/{action}", summary="Pause, resume or cancel a bulk job")
async def control_job(
    caller: CurrentCaller, deps: DepsDep, workflow_id: WorkflowId, action: ControlAction
) -> JobDetail:
    job = await jobs.control_job(
        caller, workflow_id, action, sessions=deps.sessions, automations=deps.automations
    )
    return _detail(job)
