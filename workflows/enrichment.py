"""Enrich an org's guests page by page, then tell the chat that asked (if one did).

Started by `/enrich run`, right after `/enrich on`, and by the org's enrichment Schedule.
The input carries only the org id, never the provider key. Pages are keyset-ordered by
person, so continue-as-new resumes where the last run stopped and history stays bounded.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.enrichment import EnrichActivities
    from activities.notify import NotifyActivities
    from workflows.contracts.enrichment import EnrichBatch, EnrichInput, EnrichOrgRef, EnrichReport
    from workflows.contracts.notify import ChatNotice
    from workflows.retry import LUMA_RETRY, QUICK

# A provider that keeps failing is given up on for this run; the next run starts over.
PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
    non_retryable_error_types=["InvalidProviderKey"],
)
BATCHES_PER_RUN = 50  # then continue-as-new


@workflow.defn
class EnrichOrgWorkflow:
    @workflow.run
    async def run(self, job: EnrichInput) -> EnrichReport:
        ref = EnrichOrgRef(job.org_id)
        plan = await workflow.execute_activity_method(
            EnrichActivities.enrichment_plan,
            ref,
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
        if not plan.enabled:
            return EnrichReport(False)
        error = ""
        for _ in range(BATCHES_PER_RUN):
            try:
                batch = await workflow.execute_activity_method(
                    EnrichActivities.enrich_batch,
                    EnrichBatch(job.org_id, job.after, job.batch_size),
                    start_to_close_timeout=timedelta(minutes=30),
                    heartbeat_timeout=timedelta(seconds=job.heartbeat_timeout_seconds),
                    retry_policy=PROVIDER_RETRY,
                )
            except ActivityError as exc:
                cause = exc.cause
                error = cause.message if isinstance(cause, ApplicationError) else str(exc)
                break
            job = replace(
                job,
                after=batch.last,
                people=job.people + batch.people,
                looked_up=job.looked_up + batch.looked_up,
                found=job.found + batch.found,
                from_cache=job.from_cache + batch.from_cache,
            )
            if batch.done:
                break
        else:
            workflow.continue_as_new(job)
        await workflow.execute_activity_method(
            EnrichActivities.finish_enrichment,
            ref,
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
        report = EnrichReport(
            True, job.people, job.looked_up, job.found, job.from_cache, error=error
        )
        if job.chat_id is not None:
            info = workflow.info()
            await workflow.execute_activity_method(
                NotifyActivities.notify_chat,
                ChatNotice(
                    job.org_id,
                    job.chat_id,
                    report.text(),
                    f"enrich:{info.workflow_id}:{info.first_execution_run_id}",
                ),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
        return report
