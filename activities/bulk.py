"""Bulk guest status: resolve the matching guests into a snapshot, then apply in batches.

The snapshot (`bulk_job_items`) makes every step idempotent: resolving the same page twice
inserts nothing new, and a retried batch skips the guests it already marked done, so a
crashed worker never makes Luma set one guest's status twice. A guest is marked "sending"
before its call: one still so marked when a batch is retried may have been written by an
attempt that died before recording the answer (a killed worker, the database gone), so Luma
is asked for its status before it is written again. Those marks and the outcomes are
committed for many guests at once (`activities.bulk_commits`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.bulk_commits import UNFINISHED, BatchLedger
from activities.heartbeat import heartbeating
from activities.luma_access import LumaAccess, luma_failures_are_final, only_this_call
from catalog.guest_filter import People, person_key
from catalog.guest_query import people_for
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from luma import (
    BadRequestError,
    LumaClient,
    LumaGuest,
    NotFoundError,
    Page,
    identity_key,
    normalize_email,
)
from luma.errors import InvalidEmailError
from store import bulk_items
from store.db import upsert_insert
from store.models import BulkJobItem
from store.profiles import tagged_emails
from workflows.contracts.bulk import (
    ApplyInput,
    ApplyResult,
    GuestFailure,
    JobRef,
    JobTotals,
    ResolveInput,
    ResolveResult,
)

FAILURE_SAMPLE = 20


class BulkActivities:
    """The I/O of the bulk status workflow."""

    def __init__(self, luma: LumaAccess, vip_defaults: VipRules) -> None:
        self.luma = luma
        self.sessions = luma.sessions
        self.vip_defaults = vip_defaults  # the settings'; each org's own rules come first

    @activity.defn
    async def resolve_bulk_targets(self, job: ResolveInput) -> ResolveResult:
        """Read up to `max_pages` of the guest list fresh from Luma into the job's snapshot."""
        client = await self.luma.client(job.org_id)
        # Built once per call, never per guest: a 2,000-email filter is normalized once.
        matcher = job.filter.compiled
        tagged: set[str] = set()
        if job.filter.tags:  # read once per call: who is tagged now, in this org only
            async with self.sessions() as session:
                tagged = await tagged_emails(session, org_id=job.org_id, tags=job.filter.tags)

        async def read(cursor: str | None) -> Page[LumaGuest]:
            with luma_failures_are_final():
                return await client.list_guests_page(
                    job.event_id, status=job.filter.server_status(), cursor=cursor
                )

        cursor, has_more = job.cursor, True
        # The next page is read while this one is stored, so the pages take Luma's latency
        # each, not that plus the database's; a page is read only if this call will store it.
        reading = asyncio.create_task(read(cursor))
        ahead: asyncio.Task[Page[LumaGuest]] | None = reading  # read, not yet stored
        try:
            async with heartbeating(cursor) as progress:
                for taken in range(1, job.max_pages + 1):
                    page = await reading
                    ahead = None
                    cursor, has_more = page.next_cursor, page.has_more and bool(page.next_cursor)
                    if has_more and taken < job.max_pages:
                        reading = ahead = asyncio.create_task(read(cursor))
                    people = await self._people(job, page.entries, tagged)
                    matched = [g for g in page.entries if matcher.matches(g, people)]
                    await self._add_items(job, matched)
                    progress.value = cursor
                    if not has_more:
                        await self._add_unmatched_emails(job)
                        break
        finally:
            if ahead is not None:  # this call failed: its read ahead goes unused
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
        return ResolveResult(await self._count(job.job_id), cursor, has_more)

    async def _people(self, job: ResolveInput, guests: list[LumaGuest], tagged: set[str]) -> People:
        """Tags, VIPs and repeat guests among a page's people, when the filter asks."""
        if not (job.filter.vip or job.filter.repeat):
            return People(tagged=frozenset(tagged))
        async with self.sessions() as session:
            # Read per page, not once per job: a rule saved mid-job applies from the next page,
            # as it does in every list.
            rules = await vip_rules_for(session, org_id=job.org_id, defaults=self.vip_defaults)
            return await people_for(
                session,
                org_id=job.org_id,
                guest_filter=job.filter,
                emails=[person_key(guest.email) for guest in guests],
                rules=rules,
                tagged=tagged,
            )

    async def _add_items(self, job: ResolveInput, guests: list[LumaGuest]) -> None:
        rows = [
            {
                "luma_guest_id": guest.id,
                "email": guest.email,
                "status_at_resolve": guest.approval_status,
                "is_paid": guest.is_paid,
                "state": "pending",
                "detail": "",
            }
            for guest in guests
        ]
        await self._insert_rows(job, rows)

    async def _add_unmatched_emails(self, job: ResolveInput) -> None:
        """Emails asked for by name but not on the guest list are failures, not silence."""
        if not job.filter.emails:
            return
        async with self.sessions() as session:
            present = set(
                await session.scalars(
                    select(BulkJobItem.email).where(BulkJobItem.job_id == job.job_id)
                )
            )
        present_keys = {identity_key(email) for email in present if email}
        rows = []
        for raw in job.filter.emails:
            try:
                missing = identity_key(raw) not in present_keys
                reason = "not on this event's guest list"
                email = normalize_email(raw)
            except InvalidEmailError:
                missing, reason, email = True, "not a valid email address", raw
            if missing:
                rows.append(
                    {
                        "luma_guest_id": f"missing:{email}"[:64],
                        "email": email[:320],
                        "status_at_resolve": "",
                        "is_paid": False,
                        "state": "failed",
                        "detail": reason,
                    }
                )
        await self._insert_rows(job, rows)

    async def _insert_rows(self, job: ResolveInput, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        async with self.sessions.begin() as session:
            first = (
                await session.execute(
                    select(func.coalesce(func.max(BulkJobItem.seq), 0)).where(
                        BulkJobItem.job_id == job.job_id
                    )
                )
            ).scalar_one()  # an aggregate always returns its one row
            values = [
                {**row, "job_id": job.job_id, "org_id": job.org_id, "seq": first + n}
                for n, row in enumerate(rows, start=1)
            ]
            statement = upsert_insert(session.get_bind().dialect.name, BulkJobItem).values(values)
            await session.execute(
                statement.on_conflict_do_nothing(index_elements=["job_id", "luma_guest_id"])
            )

    async def _count(self, job_id: str) -> int:
        async with self.sessions() as session:
            return (
                await session.scalar(select(func.count()).where(BulkJobItem.job_id == job_id)) or 0
            )

    @activity.defn
    async def apply_bulk_batch(self, batch: ApplyInput) -> ApplyResult:
        """Set the target status on the next `limit` guests of the snapshot.

        Guests already marked done by an earlier attempt are left alone; guests already in
        the target status are skipped without a call. With `window_seconds`, no write starts
        once that much time has passed (at least one guest is always taken, so every call
        moves the job on); the calls in flight finish and are marked, and the result ends
        at the last guest taken, so the guests after it stay pending for the next call.
        """
        loop = asyncio.get_running_loop()
        deadline = None if batch.window_seconds is None else loop.time() + batch.window_seconds
        async with self.sessions() as session:
            items = (
                await session.scalars(
                    select(BulkJobItem)
                    .where(BulkJobItem.job_id == batch.job_id, BulkJobItem.seq > batch.after_seq)
                    .order_by(BulkJobItem.seq)
                    .limit(batch.limit)
                )
            ).all()
        if not items:
            return ApplyResult(batch.after_seq, 0, 0, 0)
        client = await self.luma.client(batch.org_id)
        ledger = BatchLedger(self.sessions, batch)
        gate = asyncio.Semaphore(batch.concurrency)
        pending = [item for item in items if item.state in UNFINISHED]
        # Claims are committed a round ahead of their writes (`_claim_ahead`), so a free slot
        # never waits for a commit before its call.
        claims: dict[int, asyncio.Task[bool]] = {}
        # Calls Luma failed for a moment (5xx, timeouts): those guests stay pending and the
        # attempt fails once the others are done, so Temporal's retry sends only them again.
        unavailable: list[ApplicationError] = []
        last_seq = items[-1].seq
        async with heartbeating(0) as progress:

            async def handle(item: BulkJobItem, claim: asyncio.Task[bool] | None) -> None:
                try:
                    with luma_failures_are_final():
                        state, detail = await self._apply_one(client, batch, item, claim)
                except ApplicationError as failure:
                    if not only_this_call(failure):
                        raise
                    unavailable.append(failure)
                    return
                finally:
                    gate.release()
                await ledger.finish(item, state, detail)
                progress.value += 1

            try:
                # A task group cancels the batch's other calls as soon as one fails hard
                # (a rejected key, a 429), so no call outlives the attempt that made it.
                async with asyncio.TaskGroup() as tasks:
                    for taken, item in enumerate(pending):
                        ahead = taken + batch.concurrency  # this round's and the next's
                        _claim_ahead(batch, ledger, pending[taken:ahead], claims)
                        await gate.acquire()
                        if taken and deadline is not None and loop.time() >= deadline:
                            gate.release()
                            last_seq = max(i.seq for i in items if i.seq < item.seq)
                            break
                        tasks.create_task(handle(item, claims.pop(item.seq, None)))
            except BaseException as failure:
                # Answers Luma gave before the failure are writes that happened: record
                # them, without letting a failure to record hide the one being raised.
                await _record_anyway(ledger, claims)
                if isinstance(failure, ExceptionGroup):
                    raise failure.exceptions[0] from None
                raise
            await ledger.unclaim(claims)  # claimed ahead, never sent: pending again
            await ledger.close()
        if unavailable:
            raise unavailable[0]
        async with self.sessions() as session:
            counts = await bulk_items.state_counts(session, batch.job_id, batch.after_seq, last_seq)
        return ApplyResult(
            last_seq, counts.get("done", 0), counts.get("skipped", 0), counts.get("failed", 0)
        )

    async def _apply_one(
        self,
        client: LumaClient,
        batch: ApplyInput,
        item: BulkJobItem,
        claim: asyncio.Task[bool] | None,
    ) -> tuple[str, str]:
        """One guest's write; `claim` is its claim by this attempt (None: not claimable)."""
        if (settled := _settled_without_a_call(batch, item)) is not None:
            return settled
        try:
            if claim is None or not await claim:
                # Another attempt sent this write, or may have: it died before recording the
                # answer, or it still runs (a worker that lost Temporal but not Luma).
                guest = await client.get_guest(batch.event_id, guest_id=item.luma_guest_id)
                if guest.approval_status == batch.target_status:
                    return "done", ""
            await client.update_guest_status(
                batch.event_id,
                guest_id=item.luma_guest_id,
                status=batch.target_status,
                should_refund=batch.should_refund if item.is_paid else None,
            )
        except NotFoundError:
            return "failed", "no longer on the guest list"
        except BadRequestError as exc:
            return "failed", exc.user_message
        return "done", ""

    @activity.defn
    async def bulk_job_totals(self, job: JobRef) -> JobTotals:
        """The job's counts and a sample of failures, straight from the snapshot."""
        async with self.sessions() as session:
            counts = await bulk_items.state_counts(session, job.job_id)
            failed = (
                await session.execute(
                    select(BulkJobItem.email, BulkJobItem.detail)
                    .where(BulkJobItem.job_id == job.job_id, BulkJobItem.state == "failed")
                    .order_by(BulkJobItem.seq)
                    .limit(FAILURE_SAMPLE)
                )
            ).all()
        return JobTotals(
            total=sum(counts.values()),
            done=counts.get("done", 0),
            skipped=counts.get("skipped", 0),
            failed=counts.get("failed", 0),
            pending=sum(counts.get(state, 0) for state in UNFINISHED),
            failures=[GuestFailure(email, reason) for email, reason in failed],
        )


def _settled_without_a_call(batch: ApplyInput, item: BulkJobItem) -> tuple[str, str] | None:
    """The outcome of a guest that needs no write, if so."""
    if item.status_at_resolve == batch.target_status:
        return "skipped", f"already {batch.target_status}"
    if batch.target_status == "declined" and item.is_paid and batch.should_refund is None:
        return "failed", "has a paid ticket: decide whether to refund before declining"
    return None


def _claim_ahead(
    batch: ApplyInput,
    ledger: BatchLedger,
    upcoming: list[BulkJobItem],
    claims: dict[int, asyncio.Task[bool]],
) -> None:
    """Start the claims of the `upcoming` guests that will be written and have none yet.

    A guest marked "sending" by an earlier attempt is never claimed: its write may have
    happened, so Luma is asked first (`_apply_one`)."""
    for item in upcoming:
        if item.seq in claims or item.state != "pending":
            continue
        if _settled_without_a_call(batch, item) is None:
            claims[item.seq] = asyncio.create_task(ledger.claim(item))


async def _record_anyway(ledger: BatchLedger, claims: dict[int, asyncio.Task[bool]]) -> None:
    try:
        await ledger.unclaim(claims)
    except Exception:
        # Left "sending": the next attempt asks Luma before writing them, as after a crash.
        activity.logger.exception("could not release a failed batch's unused claims")
    try:
        await ledger.close()
    except Exception:
        activity.logger.exception("could not record a failed batch's answers")
