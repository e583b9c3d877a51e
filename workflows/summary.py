"""Post-event summary: wait (durably) until the event is over, then report on it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from activities.summary import SummaryActivities
    from activities.sync import SyncActivities
    from workflows.contracts.notify import ChatNotice
    from workflows.contracts.summary import EventRef, SummaryInput, SummaryOutcome
    from workflows.contracts.sync import EventGuestsRef
    from workflows.retry import LONG, LUMA_RETRY, QUICK

# Re-read the event's end at least this often while waiting: events get moved.
RECHECK = timedelta(days=1)


@workflow.defn
class PostEventSummaryWorkflow:
    @workflow.run
    async def run(self, job: SummaryInput) -> SummaryOutcome | None:
        ref = EventRef(job.org_id, job.event_id)
        while True:
            timing = await workflow.execute_activity_method(
                SummaryActivities.event_timing,
                ref,
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
            if not timing.exists or timing.end_at is None:
                return None  # deleted, or no end to wait for
            due = timing.end_at + timedelta(minutes=job.delay_minutes)
            remaining = due - workflow.now()
            if remaining <= timedelta(0):
                break
            await workflow.sleep(min(remaining, RECHECK))

        await workflow.execute_activity_method(
            SyncActivities.sync_event_guests,
            EventGuestsRef(job.org_id, job.event_id),
            start_to_close_timeout=LONG,
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=LUMA_RETRY,
        )
        summary = await workflow.execute_activity_method(
            SummaryActivities.compute_summary,
            ref,
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
        recipients = await workflow.execute_activity_method(
            SummaryActivities.summary_recipients,
            ref,
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
        posted_to: list[int] = []
        for chat_id in recipients.chat_ids:
            sent = await workflow.execute_activity_method(
                NotifyActivities.notify_chat,
                ChatNotice(
                    job.org_id,
                    chat_id,
                    summary.text,
                    f"summary:{job.org_id}:{job.event_id}:{chat_id}",
                    chart=summary.chart,
                    chart_title=summary.name,
                ),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )
            if sent:
                posted_to.append(chat_id)
        # Only the chats it reached (not, say, when no bot is configured); older runs listed
        # every recipient.
        if workflow.patched("summary-posted-to-sent-only"):
            return SummaryOutcome(posted_to, summary.text)
        return SummaryOutcome(recipients.chat_ids, summary.text)
