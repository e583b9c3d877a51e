"""Jobs: the org's running and recent workflows, live bulk progress, pause/resume/cancel.

Ownership and progress come from `workflows.jobs_view`, shared with the control API: a job
is the org's when its `OrgId` search attribute says so; anything else is "not found".
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus

from web.auth import Viewer
from web.deps import Admin, Api, Reader, audit_write
from web.errors import WebError, not_found
from web.render import HEADERS, page, see_other
from workflows import ids
from workflows.jobs_view import JobNotFound, bulk_progress_or_none, org_schedules, owned_workflow
from workflows.starter import JobControlError

router = APIRouter(prefix="/jobs")
WorkflowId = Annotated[str, Path(min_length=1, max_length=500)]


async def _owned(deps: Api, viewer: Viewer, workflow_id: str) -> WorkflowExecutionDescription:
    try:
        return await owned_workflow(deps.automations, viewer.org_id, workflow_id)
    except JobNotFound:
        raise not_found("job") from None


async def _state(deps: Api, description: WorkflowExecutionDescription) -> dict[str, object]:
    """What the page shows and the poller refreshes: status, and progress for bulk jobs."""
    status = (description.status or WorkflowExecutionStatus.RUNNING).name.lower()
    kind = description.typed_search_attributes.get(ids.KIND) or description.workflow_type
    progress = (
        await bulk_progress_or_none(deps.automations, description.id) if kind == "bulk" else None
    )
    return {
        "workflow_id": description.id,
        "kind": kind,
        "status": status,
        "progress": asdict(progress) if progress else None,
        "percent": (
            round(100 * (progress.done + progress.skipped + progress.failed) / progress.total)
            if progress and progress.total
            else (100 if status == "completed" else 0)
        ),
    }


@router.get("")
async def jobs_page(request: Request, viewer: Reader, deps: Api) -> object:
    jobs = await deps.automations.list_jobs(viewer.org_id, limit=30)
    async with deps.sessions() as session:
        schedules = await org_schedules(session, deps.automations, viewer.org_id)
        return await page(
            request, session, viewer, "jobs.html", jobs=jobs, schedules=schedules, nav="jobs"
        )


@router.get("/{workflow_id}")
async def job_page(request: Request, viewer: Reader, deps: Api, workflow_id: WorkflowId) -> object:
    description = await _owned(deps, viewer, workflow_id)
    state = await _state(deps, description)
    async with deps.sessions() as session:
        return await page(
            request,
            session,
            viewer,
            "job.html",
            job=state,
            started_at=description.start_time,
            ui_url=deps.automations.ui_url(workflow_id),
            nav="jobs",
        )


@router.get("/{workflow_id}/progress.json")
async def job_progress(viewer: Reader, deps: Api, workflow_id: WorkflowId) -> JSONResponse:
    """Polled by the job page every second while the job runs."""
    description = await _owned(deps, viewer, workflow_id)
    return JSONResponse(await _state(deps, description), headers=HEADERS)


@router.post("/{workflow_id}/{action}")
async def control_job(
    viewer: Admin,
    deps: Api,
    workflow_id: WorkflowId,
    action: Literal["pause", "resume", "cancel"],
) -> object:
    description = await _owned(deps, viewer, workflow_id)
    if description.typed_search_attributes.get(ids.KIND) != "bulk":
        raise WebError(409, "Cannot do that", "Only bulk jobs can be paused, resumed or cancelled.")
    try:
        progress = await deps.automations.control_bulk(workflow_id, action, viewer.user_id)
    except JobControlError as exc:
        raise WebError(409, "Cannot do that", str(exc)) from None
    async with deps.sessions.begin() as session:
        await audit_write(session, viewer, f"bulk_{action}", {"job": workflow_id}, progress.phase)
    return see_other(f"/web/jobs/{workflow_id}")
