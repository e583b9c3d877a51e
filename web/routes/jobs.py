"""Jobs: the org's running and recent workflows, live bulk progress, pause/resume/cancel.

What a job is, whose it is and who may steer it is `services.jobs`, as for the bot and the
control API; these pages render it (another org's job is "not found", like a made-up id).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from services import jobs
from services.automations import ControlAction, JobInfo
from web.caller import caller_of
from web.deps import Admin, Api, Reader
from web.render import HEADERS, page, see_other

router = APIRouter(prefix="/jobs")
WorkflowId = Annotated[str, Path(min_length=1, max_length=500)]


def _state(job: JobInfo) -> dict[str, object]:
    """What the page shows and the poller refreshes: status, and progress for bulk jobs."""
    progress = job.progress
    return {
        "workflow_id": job.workflow_id,
        "kind": job.kind,
        "status": job.status,
        "progress": asdict(progress) if progress else None,
        "percent": (
            round(100 * (progress.done + progress.skipped + progress.failed) / progress.total)
            if progress and progress.total
            else (100 if job.status == "completed" else 0)
        ),
    }


@router.get("")
async def jobs_page(request: Request, viewer: Reader, deps: Api) -> object:
    async with deps.sessions() as session:
        found = await jobs.list_jobs(session, deps.automations, caller_of(viewer), limit=30)
        return await page(
            request,
            session,
            viewer,
            "jobs.html",
            jobs=found.workflows,
            schedules=found.schedules,
            nav="jobs",
        )


@router.get("/{workflow_id}")
async def job_page(request: Request, viewer: Reader, deps: Api, workflow_id: WorkflowId) -> object:
    async with deps.sessions() as session:
        job = await jobs.get_job(session, deps.automations, caller_of(viewer), workflow_id)
        return await page(
            request,
            session,
            viewer,
            "job.html",
            job=_state(job),
            info=job,
            started_at=job.started_at,
            nav="jobs",
        )


@router.get("/{workflow_id}/progress.json")
async def job_progress(viewer: Reader, deps: Api, workflow_id: WorkflowId) -> JSONResponse:
    """Polled by the job page every second while the job runs."""
    async with deps.sessions() as session:
        job = await jobs.get_job(session, deps.automations, caller_of(viewer), workflow_id)
    return JSONResponse(_state(job), headers=HEADERS)


@router.post("/{workflow_id}/{action}")
async def control_job(
    viewer: Admin, deps: Api, workflow_id: WorkflowId, action: ControlAction
) -> object:
    await jobs.control_job(
        caller_of(viewer),
        workflow_id,
        action,
        sessions=deps.sessions,
        automations=deps.automations,
    )
    return see_other(f"/web/jobs/{workflow_id}")
