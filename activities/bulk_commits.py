"""Group commit for an apply batch's bookkeeping: one transaction for many guests.

A batch keeps up to `concurrency` Luma calls in flight, and every guest needs two commits:
its claim ("sending") before its write, and its outcome after. Made one guest at a time,
those transactions queue for the connection pool and the disk's flush and cost more than
the calls themselves. Here whatever arrives while a flush runs goes into the next one, which
starts as soon as the previous returns: nobody waits longer than about two flushes, an idle
batch commits at once, and a busy one commits everything queued in one go.

The rules of one-by-one commits hold per guest: a claim is reported only once committed, so
no write is sent without a trace; an outcome is recorded only on a row still unfinished; the
cache follows a "done" in the same commit; and an attempt that fails or is cancelled still
records the answers Luma gave it (`BatchLedger.close`), since those writes happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.metrics import bulk_guest_finished
from store import audit, cache
from store.models import BulkJobItem, utcnow
from workflows.contracts.bulk import ApplyInput

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# States of a guest not finished yet: not tried, or sent by an attempt that did not record
# Luma's answer.
UNFINISHED = ("pending", "sending")


class GroupCommit(Generic[T, R]):
    """Runs `flush` over the requests waiting for it, one flush at a time.

    `flush` takes the waiting requests in order and returns one answer for each; it raises
    to fail them all. With `keep_abandoned`, a request whose caller was cancelled is still
    flushed (an outcome to record); without, it is dropped unless its flush already began (a
    claim nobody will act on).
    """

    def __init__(
        self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, keep_abandoned: bool
    ) -> None:
        self._flush = flush
        self._keep_abandoned = keep_abandoned
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None
        # A flush failure that no caller was left to receive: `close` raises it.
        self._unreported: Exception | None = None

    async def submit(self, request: T) -> R:
        """The request's answer, once the flush that carried it has committed."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        return await answer

    async def close(self) -> None:
        """Flush whatever is still waiting, and wait for it even if cancelled meanwhile
        (the flush goes on); raises a flush failure nobody else received."""
        while self._running is not None or self._waiting:
            if self._running is None:
                self._running = asyncio.create_task(self._drain())
            await asyncio.shield(self._running)
        if self._unreported is not None:
            failure, self._unreported = self._unreported, None
            raise failure

    async def _drain(self) -> None:
        try:
            while self._waiting:
                taken, self._waiting = self._waiting, []
                if not self._keep_abandoned:
                    taken = [(request, answer) for request, answer in taken if not answer.done()]
                    if not taken:
                        continue
                await self._flush_one(taken)
        finally:
            self._running = None

    async def _flush_one(self, taken: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([request for request, _ in taken])
        except Exception as exc:
            told = False
            for _, answer in taken:
                if not answer.done():
                    answer.set_exception(exc)
                    told = True
            if not told:
                self._unreported = exc
            return
        except BaseException:
            for _, answer in taken:
                answer.cancel()
            raise
        for (_, answer), result in zip(taken, results, strict=True):
            if not answer.done():
                answer.set_result(result)


@dataclass(frozen=True)
class Outcome:
    """What became of one guest's write: the item's new state and why."""

    item: BulkJobItem
    state: str
    detail: str


class BatchLedger:
    """The snapshot bookkeeping of one apply attempt: claims and outcomes, group-committed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], batch: ApplyInput) -> None:
        self.sessions = sessions
        self.batch = batch
        self._claims = GroupCommit(self._claim_all, keep_abandoned=False)
        self._outcomes = GroupCommit(self._record_all, keep_abandoned=True)

    async def claim(self, item: BulkJobItem) -> bool:
        """Mark the guest "sending", committed before this returns, so no write is ever sent
        without a trace; False when another attempt claimed or finished it since this one
        read the batch."""
        return await self._claims.submit(item.seq)

    async def unclaim(self, claims: Mapping[int, asyncio.Task[bool]]) -> None:
        """Put back to "pending" the guests claimed ahead (by seq) whose writes were never
        started (the attempt stopped first), so the next attempt need not ask Luma first."""
        if not claims:
            return
        won = await asyncio.gather(*claims.values(), return_exceptions=True)
        seqs = [seq for seq, result in zip(claims, won, strict=True) if result is True]
        if not seqs:
            return
        async with self.sessions.begin() as session:
            await session.execute(
                update(BulkJobItem)
                .where(
                    BulkJobItem.job_id == self.batch.job_id,
                    BulkJobItem.seq.in_(seqs),
                    BulkJobItem.state == "sending",
                )
                .values(state="pending", updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def finish(self, item: BulkJobItem, state: str, detail: str) -> None:
        """Record the guest's outcome, committed before this returns (unless a cancel comes
        first: then `close` records it)."""
        await self._outcomes.submit(Outcome(item, state, detail))

    async def close(self) -> None:
        """Wait for the claims being committed and record every outcome still waiting."""
        try:
            await self._outcomes.close()
        finally:
            await self._claims.close()

    async def _claim_all(self, seqs: list[int]) -> list[bool]:
        async with self.sessions.begin() as session:
            claimed = set(
                await session.scalars(
                    update(BulkJobItem)
                    .where(
                        BulkJobItem.job_id == self.batch.job_id,
                        BulkJobItem.seq.in_(seqs),
                        BulkJobItem.state == "pending",
                    )
                    .values(state="sending", updated_at=utcnow())
                    .returning(BulkJobItem.seq)
                    .execution_options(synchronize_session=False)
                )
            )
        return [seq in claimed for seq in seqs]

    async def _record_all(self, outcomes: list[Outcome]) -> list[None]:
        batch = self.batch
        by_seq = {outcome.item.seq: outcome for outcome in outcomes}
        async with self.sessions.begin() as session:
            # A row another attempt finished meanwhile is left as it is, and only the rows
            # this statement finished get a cache change, an audit row and a metric.
            finished = await session.scalars(
                update(BulkJobItem)
                .where(
                    BulkJobItem.job_id == batch.job_id,
                    BulkJobItem.seq.in_(list(by_seq)),
                    BulkJobItem.state.in_(UNFINISHED),
                )
                .values(
                    state=_per_row({seq: o.state for seq, o in by_seq.items()}),
                    detail=_per_row({seq: o.detail[:500] for seq, o in by_seq.items()}),
                    updated_at=utcnow(),
                )
                .returning(BulkJobItem.seq)
                .execution_options(synchronize_session=False)
            )
            mine = [by_seq[seq] for seq in sorted(finished)]
            # Luma took these writes: the cache follows in the same commit.
            await cache.set_guest_status(
                session,
                org_id=batch.org_id,
                luma_event_id=batch.event_id,
                luma_guest_ids=[o.item.luma_guest_id for o in mine if o.state == "done"],
                status=batch.target_status,
            )
            await audit.record_many(
                session, [self._audit_row(o) for o in mine if o.state != "skipped"]
            )
        for outcome in mine:
            bulk_guest_finished(outcome.state)  # committed just now, by this attempt
        return [None] * len(outcomes)

    def _audit_row(self, outcome: Outcome) -> audit.AuditRow:
        batch, item = self.batch, outcome.item
        return audit.AuditRow(
            org_id=batch.org_id,
            source="workflow",
            action=f"bulk_{batch.target_status}",
            result=outcome.state if outcome.state == "failed" else batch.target_status,
            target={"event_id": batch.event_id, "email": item.email, "job": batch.job_id},
            actor_user_id=batch.requested_by,
            chat_id=batch.chat_id,
            detail=outcome.detail,
            idempotency_key=f"{batch.job_id}:{item.luma_guest_id}"[:200],
        )


def _per_row(values: dict[int, str]) -> Any:
    """A column's new value per item seq: one value for all, or a CASE on the seq."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return distinct.pop()
    return case(values, value=BulkJobItem.seq)
