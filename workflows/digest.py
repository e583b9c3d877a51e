"""The daily digest of one chat, started by that chat's Temporal Schedule."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.digest import DigestActivities
    from activities.notify import NotifyActivities
    from workflows.contracts.digest import DigestInput, DigestOutcome, DigestRequest, DigestSent
    from workflows.contracts.notify import ChatNotice
    from workflows.retry import LUMA_RETRY, QUICK, ActivityOptions

# Runs started before it marked every digest sent, posted or not; they replay as they ran.
MARKED_ONLY_WHEN_POSTED = "digest-marked-only-when-posted"


@workflow.defn
class DailyDigestWorkflow:
    @workflow.run
    async def run(self, job: DigestInput) -> DigestOutcome:
        options: ActivityOptions = {"start_to_close_timeout": QUICK, "retry_policy": LUMA_RETRY}
        digest = await workflow.execute_activity_method(
            DigestActivities.build_digest, DigestRequest(job.chat_id, job.org_id), **options
        )
        if not (digest.changed or job.force):
            return DigestOutcome(False, digest.text)
        info = workflow.info()
        # Whether it really went out: a chat relinked elsewhere or a DM whose person left the
        # org is refused by the activity, and the outcome says so.
        posted = await workflow.execute_activity_method(
            NotifyActivities.notify_chat,
            ChatNotice(
                job.org_id, job.chat_id, digest.text, f"digest:{info.workflow_id}:{info.run_id}"
            ),
            **options,
        )
        if not posted and workflow.patched(MARKED_ONLY_WHEN_POSTED):
            # Not seen by anyone: the next digest still covers what this one would have.
            return DigestOutcome(True, digest.text, posted)
        await workflow.execute_activity_method(
            DigestActivities.mark_digest_sent,
            DigestSent(job.chat_id, digest.fingerprint),
            **options,
        )
        return DigestOutcome(True, digest.text, posted)
