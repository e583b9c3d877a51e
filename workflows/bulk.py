"""Approve or decline every guest matching a filter, as one durable, controllable job.

Pause and cancel are seen between apply activities, so each apply activity is bounded in
time as well as in guests: it stops starting writes after `APPLY_WINDOW_SECONDS`, lets the
calls in flight finish (they are marked done in the snapshot as each returns) and returns
where it stopped. A stop therefore takes effect within a window plus one Luma call, whatever
the batch size, and the `progress` query moves after every window. This was chosen over
cancelling the running activity: Temporal delivers a cancellation only with a heartbeat,
which the SDK throttles to a fraction of the heartbeat timeout (tens of seconds), and a
cancelled activity would have to shield its calls in flight to count them; a short window
needs neither, and costs one more activity every couple of seconds, which continue-as-new
already bounds. Runs started before the window existed keep their old batches (the
`bulk-stoppable-batches` patch).

Writes start while the guest list is still being read (the `bulk-overlapped-resolve` patch):
an apply activity takes whatever the snapshot holds so far, so a 1,000-guest job no longer
waits a second of page reads before its first write. Continue-as-new waits for the reading
to end, so no resolve activity outlives its run.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.bulk import BulkActivities
    from activities.notify import NotifyActivities
    from workflows.contracts.bulk import (
        ApplyInput,
        BulkCounters,
        BulkProgress,
        BulkReport,
        BulkStatusInput,
        ControlRequest,
        JobRef,
        JobTotals,
        ResolveInput,
    )
    from workflows.contracts.notify import ChatNotice
    from workflows.ids import bulk_job_key
    from workflows.reports import bulk_report_text
    from workflows.retry import LONG, LUMA_RETRY, QUICK, ActivityOptions

TARGETS = ("approved", "declined")
# Continue-as-new well before Temporal's history limits, whatever the event's size.
ACTIVITIES_PER_RUN = 200
# How long one apply activity keeps starting writes: how late a pause or cancel can be seen.
APPLY_WINDOW_SECONDS = 1.5
# How long the writes wait for more of the guest list when they caught up with the reading.
RESOLVE_POLL = timedelta(seconds=0.25)
RESOLVE_POLL_MAX = timedelta(seconds=8)


@workflow.defn
class BulkStatusWorkflow:
    def __init__(self) -> None:
        self.counters = BulkCounters()
        self.cancelled = False
        self.finished = False
        self.windowed = False
        self.overlapped = False
        self.activities_run = 0

    @workflow.run
    async def run(self, job: BulkStatusInput) -> BulkReport:
        if job.target_status not in TARGETS:
            raise ApplicationError(
                f"target status must be approved or declined, not {job.target_status!r}",
                non_retryable=True,
            )
        self.counters = replace(job.carried)
        if self.counters.started_at is None:
            self.counters.started_at = workflow.now()
        info = workflow.info()
        job_id = bulk_job_key(info.workflow_id, info.first_execution_run_id)
        self.windowed = workflow.patched("bulk-stoppable-batches")
        self.overlapped = workflow.patched("bulk-overlapped-resolve")
        try:
            if self.overlapped:
                await self._resolve_while_applying(job, job_id)
            else:
                await self._resolve_and_apply(job, job_id)
        except ActivityError as error:
            cause = error.cause
            if not (isinstance(cause, ApplicationError) and cause.non_retryable):
                raise
            # A deliberate failure (rejected key, event gone): say so, then end the job.
            await self._notify(job, await self._stopped_text(job_id, cause), f"failed:{job_id}")
            raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
        return await self._finish(job, job_id)

    async def _stopped_text(self, job_id: str, cause: ApplicationError) -> str:
        text = f"The bulk job stopped: {cause.message}"
        if not self.overlapped:
            return text
        # Writes may have happened before the failure (the list is read while writing).
        totals = await self._totals(job_id)
        if totals.done:
            text += f" ({totals.done} guest(s) had already been changed.)"
        return text

    async def _resolve_while_applying(self, job: BulkStatusInput, job_id: str) -> None:
        """Read the list and write what is read so far at once; both stop on a cancel."""
        if not self.counters.resolved and not self.counters.cursor:
            await self._resolve_once(job, job_id, pages=1)  # the first page: writes can start
        resolving = asyncio.create_task(self._resolve(job, job_id))
        try:
            await self._apply(job, job_id, resolving)
        except BaseException:
            resolving.cancel()  # the writes failed (or the workflow was cancelled): stop reading
            raise
        finally:
            await workflow.wait([resolving])  # never end with a resolve activity running
        resolving.result()  # a failure to read the list is the job's failure

    async def _resolve_and_apply(self, job: BulkStatusInput, job_id: str) -> None:
        await self._resolve(job, job_id)
        await self._apply(job, job_id, None)

    async def _resolve(self, job: BulkStatusInput, job_id: str) -> None:
        while not self.counters.resolved and not self.cancelled:
            await self._resolve_once(job, job_id, pages=job.pages_per_resolve)
            if not self.overlapped:
                await self._maybe_continue(job)

    async def _resolve_once(self, job: BulkStatusInput, job_id: str, *, pages: int) -> None:
        """Read up to `pages` more pages of the guest list into the snapshot."""
        resolved = await workflow.execute_activity_method(
            BulkActivities.resolve_bulk_targets,
            ResolveInput(job_id, job.org_id, job.event_id, job.filter, self.counters.cursor, pages),
            **self._activity_options(job),
        )
        self.counters.total = resolved.total
        self.counters.cursor = resolved.next_cursor
        self.counters.resolved = not resolved.has_more
        self.activities_run += 1

    async def _apply(
        self, job: BulkStatusInput, job_id: str, resolving: asyncio.Task[None] | None
    ) -> None:
        """Apply batches until the snapshot is done; with `resolving`, while it still grows."""
        empty_polls = 0
        while not self.cancelled:
            await workflow.wait_condition(lambda: not self.counters.paused or self.cancelled)
            if self.cancelled:
                break
            batch = await workflow.execute_activity_method(
                BulkActivities.apply_bulk_batch,
                ApplyInput(
                    job_id,
                    job.org_id,
                    job.event_id,
                    job.target_status,
                    job.should_refund,
                    self.counters.last_seq,
                    job.batch_size,
                    job.concurrency,
                    job.requested_by,
                    job.chat_id,
                    APPLY_WINDOW_SECONDS if self.windowed else None,
                ),
                **self._activity_options(job),
            )
            self.activities_run += 1
            if batch.last_seq == self.counters.last_seq:
                if resolving is None or resolving.done():
                    break  # nothing left
                # Caught up with the reading: wait for more of the list (or its end), longer
                # each time nothing came (a read retrying through an outage must not fill
                # the history with empty polls).
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: resolving.done() or self.cancelled,
                        timeout=min(RESOLVE_POLL * 2**empty_polls, RESOLVE_POLL_MAX),
                    )
                empty_polls += 1
                continue
            empty_polls = 0
            self.counters.last_seq = batch.last_seq
            self.counters.done += batch.done
            self.counters.skipped += batch.skipped
            self.counters.failed += batch.failed
            if resolving is None or resolving.done():
                await self._maybe_continue(job)

    async def _totals(self, job_id: str) -> JobTotals:
        return await workflow.execute_activity_method(
            BulkActivities.bulk_job_totals,
            JobRef(job_id),
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )

    async def _finish(self, job: BulkStatusInput, job_id: str) -> BulkReport:
        totals = await self._totals(job_id)
        self.finished = True
        report = BulkReport(
            event_id=job.event_id,
            target_status=job.target_status,
            total=totals.total,
            done=totals.done,
            skipped=totals.skipped,
            failed=totals.failed,
            # A cancel that came after the last guest was changed ended nothing early: the
            # job finished. Cancelled while resolving, nothing is known about the rest.
            cancelled=self.cancelled and (totals.pending > 0 or not self.counters.resolved),
            failures=totals.failures,
            text="",
        )
        report.text = bulk_report_text(report, job.event_name, totals.pending)
        await self._notify(job, report.text, f"report:{job_id}")
        return report

    async def _notify(self, job: BulkStatusInput, text: str, key: str) -> None:
        if job.chat_id is None:
            return
        await workflow.execute_activity_method(
            NotifyActivities.notify_chat,
            ChatNotice(job.org_id, job.chat_id, text, key),
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )

    def _activity_options(self, job: BulkStatusInput) -> ActivityOptions:
        return {
            "start_to_close_timeout": LONG,
            "heartbeat_timeout": timedelta(seconds=job.heartbeat_timeout_seconds),
            "retry_policy": LUMA_RETRY,
        }

    async def _maybe_continue(self, job: BulkStatusInput) -> None:
        if (
            self.activities_run < ACTIVITIES_PER_RUN
            and not workflow.info().is_continue_as_new_suggested()
        ):
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(replace(job, carried=replace(self.counters)))

    @workflow.query
    def progress(self) -> BulkProgress:
        counters = self.counters
        processed = counters.done + counters.skipped + counters.failed
        phase = (
            "finished"
            if self.finished
            else "cancelling"
            if self.cancelled
            else "paused"
            if counters.paused
            else "applying"
            if counters.resolved
            else "resolving"
        )
        eta = None
        if counters.resolved and processed and counters.started_at and not self.finished:
            elapsed = (workflow.now() - counters.started_at).total_seconds()
            eta = elapsed / processed * (counters.total - processed)
        return BulkProgress(
            phase, counters.total, counters.done, counters.skipped, counters.failed, eta
        )

    @workflow.update
    def pause(self, request: ControlRequest) -> BulkProgress:
        self.counters.paused = True
        return self.progress()

    @pause.validator
    def _pause_allowed(self, request: ControlRequest) -> None:
        self._require_running()
        if self.counters.paused:
            raise ValueError("the job is already paused")

    @workflow.update
    def resume(self, request: ControlRequest) -> BulkProgress:
        self.counters.paused = False
        return self.progress()

    @resume.validator
    def _resume_allowed(self, request: ControlRequest) -> None:
        self._require_running()
        if not self.counters.paused:
            raise ValueError("the job is not paused")

    @workflow.update
    def cancel(self, request: ControlRequest) -> BulkProgress:
        self.cancelled = True
        return self.progress()

    @cancel.validator
    def _cancel_allowed(self, request: ControlRequest) -> None:
        self._require_running()

    def _require_running(self) -> None:
        if self.finished or self.cancelled:
            raise ValueError("the job has already finished")
