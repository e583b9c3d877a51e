"""Finding an org's jobs in Temporal: its schedules, one workflow it owns, and a bulk job's
live progress.

The Temporal side of `services.jobs` (the use cases): a job that is not the org's raises
`JobNotFound`, which the use case turns into a `NotFound` refusal.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowExecutionDescription, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from services.automations import Automations, JobInfo
from store import bulk_items, orgs
from workflows import ids
from workflows.contracts.bulk import BulkProgress

log = logging.getLogger(__name__)

PROGRESS_TIMEOUT = 3.0  # a query needs a worker; without one, answer from the snapshot


class JobNotFound(LookupError):
    """No such workflow, or it belongs to another org (the two look the same)."""


async def org_schedules(
    session: AsyncSession, automations: Automations, org_id: int
) -> list[JobInfo]:
    """The org's sync and enrichment schedules and its chats' digest schedules that exist
    in Temporal."""
    candidates = [
        (ids.sync_schedule_id(org_id), "sync-schedule"),
        (ids.enrich_schedule_id(org_id), "enrich-schedule"),
    ] + [
        (ids.digest_schedule_id(chat.id), "digest-schedule")
        for chat in await orgs.org_chats(session, org_id=org_id)
    ]
    exists = await asyncio.gather(
        *(automations.schedule_exists(schedule_id) for schedule_id, _ in candidates)
    )
    return [
        JobInfo(schedule_id, kind, "scheduled", None, automations.job_url(schedule_id))
        for (schedule_id, kind), present in zip(candidates, exists, strict=True)
        if present
    ]


async def owned_workflow(
    automations: Automations, org_id: int, workflow_id: str
) -> WorkflowExecutionDescription:
    """The workflow's description when its `OrgId` search attribute is this org's."""
    try:
        description = await automations.handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise JobNotFound(workflow_id) from None
        raise
    if description.typed_search_attributes.get(ids.ORG_ID) != str(org_id):
        raise JobNotFound(workflow_id)
    return description


async def bulk_progress_or_last(
    automations: Automations,
    session: AsyncSession,
    workflow_id: str,
    description: WorkflowExecutionDescription | None = None,
) -> BulkProgress | None:
    """A bulk job's live progress; while no worker answers (one died and its batch is
    moving to another, or none runs), the progress last written to the job's snapshot, in
    phase "waiting". None only when neither Temporal nor the snapshot knows the job."""
    try:
        async with asyncio.timeout(PROGRESS_TIMEOUT):
            return await automations.bulk_progress(workflow_id)
    except (TimeoutError, RPCError, WorkflowQueryFailedError) as exc:
        log.warning("No live progress for %s: %s", workflow_id, type(exc).__name__)
    try:
        if description is None:
            description = await automations.handle(workflow_id).describe()
    except RPCError:
        return None
    first_run_id = description.raw_description.workflow_execution_info.first_run_id
    if not first_run_id:  # a server too old to say: the snapshot cannot be found
        return None
    try:
        counts = await bulk_items.state_counts(session, ids.bulk_job_key(workflow_id, first_run_id))
    except SQLAlchemyError as exc:  # the database is not answering either: ask again later
        log.warning("No progress for %s from the database: %s", workflow_id, type(exc).__name__)
        return None
    return BulkProgress(
        phase="waiting",
        total=sum(counts.values()),
        done=counts.get("done", 0),
        skipped=counts.get("skipped", 0),
        failed=counts.get("failed", 0),
        eta_seconds=None,
    )
