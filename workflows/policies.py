"""An event's approval policy at work: new registrations decided in batches, durably.

One workflow per event with a policy that is on (`workflows.ids.policy_id`). Each new
registration arrives as a `registered` signal (signal-with-start from the Luma webhook
route, or from the guest-list sync for one whose webhook never came); after a quiet spell
the workflow waits a moment so a burst becomes one batch (what arrives while a batch runs
is the next batch, at once), then decides the batch
(`decide_registrations`), writes what auto mode writes (`write_policy_decisions`, through
the shared Luma budget), and posts one message per batch to the linked chats. It ends after
a quiet spell and is started again by the next registration; a long run continues as new.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from activities.policies import PolicyActivities
    from workflows.contracts.notify import ChatNotice
    from workflows.contracts.policies import (
        DecideInput,
        PolicyRunInput,
        PromoteInput,
        ReportInput,
        WriteInput,
    )
    from workflows.retry import LUMA_RETRY, LUMA_STEP, QUICK

# How long a batch gathers registrations after the first arrives (a burst is one message).
GATHER = timedelta(seconds=2)
BATCH_MAX = 200
# A quiet event's workflow ends after this long; the next registration starts it again.
IDLE = timedelta(minutes=10)
BATCHES_PER_RUN = 100


@workflow.defn
class ApprovalPolicyWorkflow:
    def __init__(self) -> None:
        self.waiting: list[str] = []
        self.seats_changed = False

    @workflow.signal
    def registered(self, guest_id: str) -> None:
        if guest_id not in self.waiting:
            self.waiting.append(guest_id)

    @workflow.signal(name="seats_changed")
    def seat_may_have_freed(self) -> None:
        """A guest changed (a decline, a cancellation) or the capacity did: look at the
        waitlist once the gathering is over (many changes, one look)."""
        self.seats_changed = True

    @workflow.run
    async def run(self, job: PolicyRunInput) -> None:
        for guest_id in job.carried:
            self.registered(guest_id)
        self.seats_changed = self.seats_changed or job.seats_changed
        batches = job.batches_run  # over the whole chain of runs: it keys the messages
        run_started_at = batches
        quiet = True  # a run starts after a quiet spell, or continues one as new
        while True:
            if not self._has_work():
                try:
                    await workflow.wait_condition(self._has_work, timeout=IDLE)
                except TimeoutError:
                    if not self._has_work():
                        return
                quiet = True
            if quiet:
                # The first arrival after a quiet spell: let the rest of a burst come too.
                # Arrivals during a batch have waited long enough: the next batch takes them.
                await workflow.sleep(GATHER)
                quiet = False
            if self.waiting:
                batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
                await self._decide_and_write(job, batch, batches)
            if self.seats_changed:
                self.seats_changed = False
                await self._promote(job, batches)
            batches += 1
            long_run = batches - run_started_at >= BATCHES_PER_RUN
            if long_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = PolicyRunInput(
                    job.org_id, job.event_id, self.waiting, batches, self.seats_changed
                )
                workflow.continue_as_new(carried)

    def _has_work(self) -> bool:
        return bool(self.waiting) or self.seats_changed

    async def _promote(self, job: PolicyRunInput, number: int) -> None:
        """Seats left go to the waitlist (auto mode, capacity set); the chats are told."""
        try:
            result = await workflow.execute_activity_method(
                PolicyActivities.promote_waitlisted,
                PromoteInput(job.org_id, job.event_id),
                **LUMA_STEP,
            )
        except ActivityError as error:
            workflow.logger.warning("waitlist promotion failed: %s", error.cause)
            return
        await self._tell(job, result.chat_ids, result.text, "policy-promote", number)

    async def _tell(
        self,
        job: PolicyRunInput,
        chat_ids: list[int],
        text: str,
        kind: str,
        number: int,
        review_event_id: str | None = None,
    ) -> None:
        """Post `text` to each chat, once per chat however often this step is replayed or
        retried (the key holds across continue-as-new: the chain's first run id)."""
        run_id = workflow.info().first_execution_run_id
        for chat_id in chat_ids:
            await workflow.execute_activity_method(
                NotifyActivities.notify_chat,
                ChatNotice(
                    job.org_id,
                    chat_id,
                    text,
                    f"{kind}:{run_id}:{number}:{chat_id}",
                    review_event_id=review_event_id,
                ),
                start_to_close_timeout=QUICK,
                retry_policy=LUMA_RETRY,
            )

    async def _decide_and_write(self, job: PolicyRunInput, batch: list[str], number: int) -> None:
        """Decide, write and tell one batch. A batch that fails for good (the key was
        revoked, the event is gone) is told to the chats; the workflow goes on, and its
        unwritten decisions are tried again with the next batch."""
        run_id = workflow.info().first_execution_run_id
        failed: str | None = None
        try:
            decided = await workflow.execute_activity_method(
                PolicyActivities.decide_registrations,
                DecideInput(job.org_id, job.event_id, batch),
                **LUMA_STEP,
            )
            if decided.to_write:
                await workflow.execute_activity_method(
                    PolicyActivities.write_policy_decisions,
                    WriteInput(job.org_id, job.event_id, decided.to_write),
                    **LUMA_STEP,
                )
        except ActivityError as error:
            workflow.logger.warning("approval policy batch failed: %s", error.cause)
            failed = _why(error)
        report = await workflow.execute_activity_method(
            PolicyActivities.policy_batch_report,
            ReportInput(job.org_id, job.event_id, f"{run_id}:{number}"[:64]),
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
        text = report.text
        if failed is not None:  # say so: these guests stay as they are in Luma for a person
            text = (text + "\n" if text else "") + (
                f"{escape(report.event_name or job.event_id)} — approval policy: {len(batch)} "
                f"new registration(s) could not all be decided or written ({escape(failed)}); "
                "they stay as they are in Luma, and /pending lists them."
            )
        if text:
            review = job.event_id if report.held else None
            await self._tell(job, report.chat_ids, text, "policy", number, review)


def _why(error: ActivityError) -> str:
    """The activity's own words for a failure (`ApplicationError` down the chain)."""
    cause: BaseException | None = error.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message[:200]
        cause = getattr(cause, "cause", None)
    return "Luma or the database did not answer in time"
