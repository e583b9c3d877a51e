"""Push an org's changed guest profiles to its CRM or Airtable, page by page, then report.

Started from the portal, by `/crm sync` and by the org's CRM Schedule. The input carries
only ids, never the token. Each page is one activity: it pushes the people whose fields
changed since they were last written (per-record hashes) and records each write as it
lands, so a retried page sends only what is still due. A page that keeps failing is given
up on after its attempts, listed on the run with its error and people, and the run goes on
with the next page; those people are still due, so the next run sends them again. A refused
token ends the run at once (every page would be refused). Pages are keyset-ordered by
person, so continue-as-new resumes where the last run stopped and history stays bounded.
When the org's connector says so, our tags then go to Luma as the calendar's contact tags
(one more activity, after the pages; its failure does not fail the CRM run).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from activities.notify import NotifyActivities
    from core import defaults
    from workflows.contracts.crm import (
        INVALID_TOKEN,
        REJECTED,
        CrmBatch,
        CrmBatchFailed,
        CrmContactTags,
        CrmReport,
        CrmRunClose,
        CrmRunOpen,
        CrmSyncInput,
    )
    from workflows.contracts.notify import ChatNotice
    from workflows.retry import HEARTBEAT, LUMA_RETRY, QUICK

BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=defaults.CRM_BATCH_ATTEMPTS,
    non_retryable_error_types=[INVALID_TOKEN, REJECTED],
)
BATCHES_PER_RUN = 50  # then continue-as-new


def _failure(exc: ActivityError) -> tuple[str, str]:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "", cause.message
    return "", str(exc)


@workflow.defn
class CrmSyncWorkflow:
    @workflow.run
    async def run(self, job: CrmSyncInput) -> CrmReport:
        if not job.run_id:
            info = workflow.info()
            plan = await workflow.execute_activity_method(
                CrmActivities.open_crm_run,
                CrmRunOpen(job.org_id, f"{info.workflow_id}/{info.first_execution_run_id}"),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
            if not plan.enabled:
                return CrmReport(False)
            job = replace(job, run_id=plan.run_id, luma_contact_tags=plan.luma_contact_tags)
        error = ""
        for _ in range(BATCHES_PER_RUN):
            page = CrmBatch(job.org_id, job.run_id, job.after, job.batch_size)
            try:
                batch = await workflow.execute_activity_method(
                    CrmActivities.push_crm_batch,
                    page,
                    start_to_close_timeout=timedelta(minutes=30),
                    heartbeat_timeout=timedelta(seconds=job.heartbeat_timeout_seconds),
                    retry_policy=BATCH_RETRY,
                )
            except ActivityError as exc:
                kind, message = _failure(exc)
                batch = await workflow.execute_activity_method(
                    CrmActivities.record_crm_failure,
                    CrmBatchFailed(job.org_id, job.run_id, job.after, job.batch_size, message),
                    start_to_close_timeout=QUICK,
                    retry_policy=LUMA_RETRY,
                )
                if kind == INVALID_TOKEN:
                    error = message
            job = replace(
                job,
                after=batch.last,
                profiles=job.profiles + batch.profiles,
                failed=job.failed + batch.failed,
            )
            if batch.done or error:
                break
        else:
            workflow.continue_as_new(job)
        # Histories recorded before this step replay without it.
        if job.luma_contact_tags and workflow.patched("crm-contact-tags"):
            await self._push_contact_tags(job)
        report = await workflow.execute_activity_method(
            CrmActivities.close_crm_run,
            CrmRunClose(job.org_id, job.run_id, job.profiles, job.failed, error, job.chat_id),
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
        info = workflow.info()
        for chat_id in report.notify:
            await workflow.execute_activity_method(
                NotifyActivities.notify_chat,
                ChatNotice(
                    job.org_id,
                    chat_id,
                    report.text(),
                    f"crm:{info.workflow_id}:{info.first_execution_run_id}:{chat_id}",
                ),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
        return report

    async def _push_contact_tags(self, job: CrmSyncInput) -> None:
        """The optional Luma step: a failure (Luma refusing the key, say) is logged and the
        CRM run still closes with its own counts."""
        try:
            await workflow.execute_activity_method(
                CrmActivities.push_contact_tags,
                CrmContactTags(job.org_id),
                start_to_close_timeout=timedelta(minutes=30),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=LUMA_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("contact tags not pushed to Luma: %s", _failure(exc)[1])
