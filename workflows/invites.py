"""An invite list, added or invited through Luma and reconciled, as one durable job.

Look at the guest list first (who is already there), send the rest in batches through the
shared Luma budget, then read the guest list back and account for every address: added,
already there, invalid, or refused by Luma. The chat that asked gets the report.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.invites import InviteActivities
    from activities.notify import NotifyActivities
    from workflows.contracts.invites import InviteBatch, InviteJobInput, InviteTotals
    from workflows.contracts.notify import ChatNotice
    from workflows.reports import invite_report_text
    from workflows.retry import LUMA_RETRY, LUMA_STEP, QUICK


@workflow.defn
class InviteListWorkflow:
    @workflow.run
    async def run(self, job: InviteJobInput) -> InviteTotals:
        await workflow.execute_activity_method(
            InviteActivities.mark_already_invited,
            job,
            **LUMA_STEP,
        )
        batch = InviteBatch(job.job_id, job.org_id, job.event_id, job.how)
        while await workflow.execute_activity_method(
            InviteActivities.send_invite_batch,
            batch,
            **LUMA_STEP,
        ):
            pass
        totals = await workflow.execute_activity_method(
            InviteActivities.reconcile_invites,
            job,
            **LUMA_STEP,
        )
        if job.chat_id is not None:
            await workflow.execute_activity_method(
                NotifyActivities.notify_chat,
                ChatNotice(
                    job.org_id,
                    job.chat_id,
                    invite_report_text(job.event_name or job.event_id, job.how, totals),
                    f"invites:{job.job_id}",
                ),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
        return totals
