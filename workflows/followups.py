"""Post-event follow-up emails to an event's attendees or no-shows, as one durable job.

Thin orchestration: snapshot the recipients, send heartbeated batches until none is pending
(each batch returns the campaign's counts read from the table, so a retried batch never
skews them), then post the report to the chat. Per-recipient idempotency lives in the
activities (`activities.followups`); the workflow id is derived from (org, event, audience,
campaign), so a double-clicked Send finds the job already running.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from html import escape

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.followups import FollowupActivities
    from activities.notify import NotifyActivities
    from mailer.drafts import AUDIENCE_LABELS
    from workflows.contracts.followups import (
        CampaignRef,
        DailyLimit,
        FollowupBatch,
        FollowupCounts,
        FollowupInput,
        FollowupProgress,
        FollowupReport,
        ResolveFollowup,
    )
    from workflows.contracts.notify import ChatNotice
    from workflows.retry import LONG, LUMA_RETRY, QUICK

# Mail providers recover on their own schedule: retry patiently, but not forever.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=30,
)
# Campaigns that stop at the sender's daily limit (Gmail) and resume on a timer.
DAILY_LIMIT_PATCH = "followup-daily-limit"
MIN_PAUSE = timedelta(seconds=1)
# Continue-as-new well before Temporal's history limits, whatever the audience's size.


def limit_text(
    job: FollowupInput,
    counts: FollowupCounts,
    limit: DailyLimit,
    resume: datetime,
    now: datetime,
) -> str:
    """The report of a stop for the day: how far it got, whose limit, when it goes on (UTC)."""
    who = AUDIENCE_LABELS.get(job.audience, job.audience)
    if resume.date() == now.date():
        day = "today"
    elif resume.date() == (now + timedelta(days=1)).date():
        day = "tomorrow"
    else:
        day = f"on {resume:%Y-%m-%d}"
    return (
        f"Follow-up to {who} of <b>{escape(job.event_name)}</b>: sent {counts.sent} of "
        f"{counts.total}; {escape(limit.sender)}'s daily limit reached; resuming {day} at "
        f"{resume:%H:%M} UTC."
    )


def report_text(job: FollowupInput, counts: FollowupCounts) -> str:
    who = AUDIENCE_LABELS.get(job.audience, job.audience)
    lines = [
        f"Follow-up to {who} of <b>{escape(job.event_name)}</b> finished.",
        f"Sent: {counts.sent} of {counts.total}.",
    ]
    if counts.skipped:
        lines.append(f"Unsubscribed, not sent: {counts.skipped}.")
    if counts.failed:
        lines.append(f"Could not send: {counts.failed}.")
    if counts.uncertain:
        lines.append(f"Maybe sent (the worker stopped mid-send; not repeated): {counts.uncertain}.")
    lines += [f"• {escape(problem)}" for problem in counts.problems]
    listed = len(counts.problems)
    if counts.failed + counts.uncertain > listed:
        lines.append(f"… and {counts.failed + counts.uncertain - listed} more.")
    return "\n".join(lines)


@workflow.defn
class FollowupWorkflow:
    def __init__(self) -> None:
        self.phase = "resolving"
        self.counts = FollowupCounts()

    @workflow.run
    async def run(self, job: FollowupInput) -> FollowupReport:
        campaign = CampaignRef(job.org_id, job.event_id, job.campaign_id)
        try:
            pending = True
            if not job.resolved:
                self.counts = await workflow.execute_activity_method(
                    FollowupActivities.resolve_followup_recipients,
                    ResolveFollowup(campaign, job.audience),
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=LUMA_RETRY,
                )
                pending = self.counts.pending > 0
                job = replace(job, resolved=True)
            self.phase = "sending"
            batches = 0
            while pending:
                if batches >= job.batches_per_run or workflow.info().is_continue_as_new_suggested():
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(job)
                batch = FollowupBatch(
                    campaign, job.subject, job.body, job.event_name, job.batch_size
                )
                if workflow.patched("followup-template-syntax"):
                    batch = replace(batch, syntax=job.syntax)  # how the wording is filled in
                self.counts = await workflow.execute_activity_method(
                    FollowupActivities.send_followup_batch,
                    batch,
                    start_to_close_timeout=LONG,
                    heartbeat_timeout=timedelta(seconds=job.heartbeat_timeout_seconds),
                    retry_policy=MAIL_RETRY,
                )
                batches += 1
                limit = self.counts.daily_limit
                if limit is not None and workflow.patched(DAILY_LIMIT_PATCH):
                    await self._pause(job, limit)
                pending = self.counts.pending > 0
        except ActivityError as error:
            # Bad mail settings, or a provider down beyond every retry: say so, then end.
            cause = error.cause
            reason = cause.message if isinstance(cause, ApplicationError) else "it timed out"
            kind = cause.type if isinstance(cause, ApplicationError) else "Timeout"
            text = f"The follow-up stopped: {escape(reason)}\nSent so far: {self.counts.sent}."
            await self._notify(job, text, "failed")
            raise ApplicationError(reason, type=kind, non_retryable=True) from None
        self.phase = "finished"
        report = FollowupReport(self.counts, report_text(job, self.counts))
        await self._notify(job, report.text, "report")
        return report

    async def _pause(self, job: FollowupInput, limit: DailyLimit) -> None:
        """The sender's daily limit: say so, wait on a durable timer until it lifts (a worker
        restart changes nothing), then send what is still pending."""
        now = workflow.now()
        resume = max(datetime.fromisoformat(limit.resume_at), now + MIN_PAUSE)
        # One notice per stop: the count sent so far tells the stops apart.
        text = limit_text(job, self.counts, limit, resume, now)
        await self._notify(job, text, f"limit-{self.counts.sent}")
        self.phase = "paused"
        await workflow.sleep(resume - now)
        self.phase = "sending"

    async def _notify(self, job: FollowupInput, text: str, what: str) -> None:
        if job.chat_id is None:
            return
        key = f"followup-{what}:{workflow.info().workflow_id}"
        await workflow.execute_activity_method(
            NotifyActivities.notify_chat,
            ChatNotice(job.org_id, job.chat_id, text, key),
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )

    @workflow.query
    def progress(self) -> FollowupProgress:
        return FollowupProgress(self.phase, self.counts)
