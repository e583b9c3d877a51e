"""Group commit of a bulk batch's bookkeeping: many guests per transaction, the rules intact.

Transactions are counted on the engine (those that wrote `bulk_job_items`), never timed. Made
one guest at a time, a batch took two per guest: its claim and its outcome.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.bulk_commits import BatchLedger, GroupCommit
from catalog.guest_filter import GuestFilter
from services.automations import JobDefaults
from store import audit
from store.models import AuditEntry, BulkJobItem
from workflows.contracts.bulk import ApplyInput

GUESTS = 120


@pytest.fixture
def job_defaults() -> JobDefaults:
    # One batch takes every guest, with many calls in flight at once.
    return JobDefaults(
        task_queue=f"tq-{uuid.uuid4().hex}",
        batch_size=GUESTS,
        concurrency=20,
        heartbeat_timeout_seconds=5,
        summary_delay_minutes=60,
    )


class Commits:
    """Commits of transactions that wrote `bulk_job_items`, on every connection of an engine."""

    def __init__(self) -> None:
        self.count = 0

    def statement(self, conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith("UPDATE BULK_JOB_ITEMS"):
            conn.info["writes_bulk_items"] = True

    def commit(self, conn: Any) -> None:
        if conn.info.pop("writes_bulk_items", False):
            self.count += 1

    def rollback(self, conn: Any) -> None:
        conn.info.pop("writes_bulk_items", None)


@contextmanager
def counted_commits(engine: AsyncEngine) -> Iterator[Commits]:
    commits, target = Commits(), engine.sync_engine
    hooks: dict[str, Callable[..., Any]] = {
        "before_cursor_execute": commits.statement,
        "commit": commits.commit,
        "rollback": commits.rollback,
    }
    for name, hook in hooks.items():
        event.listen(target, name, hook)
    try:
        yield commits
    finally:
        for name, hook in hooks.items():
            event.remove(target, name, hook)


async def test_a_batch_commits_its_guests_together_with_each_claim_before_its_write(
    automations, simulator, org, engine, db_url
) -> None:
    simulator.state.configure(latency_seconds=0.05)
    event_id = simulator.state.add_event(
        org.calendar_id, guests=GUESTS, status_mix={"pending_approval": 1.0}
    )
    # What another connection sees of each guest when Luma takes its write: the claim must
    # be committed by then.
    seen_at_write: dict[str, str | None] = {}
    with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as watcher:

        def on_write(_kind: str, guest: Any, changed: Any) -> None:
            if changed.id == event_id:
                row = watcher.execute(
                    "SELECT state FROM bulk_job_items WHERE org_id = %s AND luma_guest_id = %s",
                    (org.org_id, guest.id),
                ).fetchone()
                seen_at_write[guest.id] = row[0] if row else None

        simulator.state.listeners.append(on_write)
        try:
            with counted_commits(engine) as commits:
                started = await automations.start_bulk(
                    org_id=org.org_id,
                    event_id=event_id,
                    target_status="approved",
                    guest_filter=GuestFilter(statuses=["pending_approval"]),
                )
                report = await automations.bulk_handle(started.workflow_id).result()
        finally:
            simulator.state.listeners.remove(on_write)

    assert (report.total, report.done) == (GUESTS, GUESTS)
    guest_ids = set(simulator.state.event(event_id).guests)
    assert seen_at_write == dict.fromkeys(guest_ids, "sending")
    # One by one this was 2 x GUESTS transactions.
    assert commits.count < GUESTS, commits.count


def apply_input(org_id: int, job_id: str) -> ApplyInput:
    return ApplyInput(job_id, org_id, "evt-commits", "approved", None, 0, 50, 8, requested_by=3)


async def snapshot(sessions, org_id: int, states: list[str]) -> list[BulkJobItem]:
    job_id = f"job-{uuid.uuid4().hex}"
    items = [
        BulkJobItem(
            job_id=job_id,
            seq=seq,
            org_id=org_id,
            luma_guest_id=f"gst-{job_id[-8:]}-{seq}",
            email=f"guest{seq}@commits.example",
            status_at_resolve="pending_approval",
            is_paid=False,
            state=state,
            detail="",
        )
        for seq, state in enumerate(states, start=1)
    ]
    async with sessions.begin() as session:
        session.add_all(items)
    return items


async def states_of(sessions, items: list[BulkJobItem]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(BulkJobItem.state)
            .where(BulkJobItem.job_id == items[0].job_id)
            .order_by(BulkJobItem.seq)
        )
        return list(rows)


async def test_claims_asked_together_commit_together_and_only_pending_guests(
    sessions, engine, org
) -> None:
    items = await snapshot(sessions, org.org_id, ["pending"] * 10 + ["sending", "done"])
    ledger = BatchLedger(sessions, apply_input(org.org_id, items[0].job_id))
    with counted_commits(engine) as commits:
        claimed = await asyncio.gather(*(ledger.claim(item) for item in items))
        await ledger.close()
    assert claimed == [True] * 10 + [False, False]
    assert commits.count == 1
    assert await states_of(sessions, items) == ["sending"] * 11 + ["done"]


async def test_outcomes_record_unfinished_rows_once_with_their_audit(sessions, org) -> None:
    items = await snapshot(sessions, org.org_id, ["sending", "sending", "sending", "done"])
    batch = apply_input(org.org_id, items[0].job_id)
    ledger = BatchLedger(sessions, batch)
    outcomes = [("done", ""), ("failed", "no longer on the guest list"), ("skipped", "")]
    await asyncio.gather(
        *(ledger.finish(item, s, d) for item, (s, d) in zip(items[:3], outcomes, strict=True)),
        ledger.finish(items[3], "failed", "finished before: left alone"),
    )
    await ledger.close()
    # A second attempt finishing the same guests changes nothing and audits nothing again.
    again = BatchLedger(sessions, batch)
    await asyncio.gather(*(again.finish(item, "failed", "late") for item in items))
    await again.close()

    assert await states_of(sessions, items) == ["done", "failed", "skipped", "done"]
    async with sessions() as session:
        audited = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.idempotency_key.like(f"{batch.job_id}:%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(a.idempotency_key, a.result, a.detail) for a in audited] == [
        (f"{batch.job_id}:{items[0].luma_guest_id}", "approved", ""),
        (f"{batch.job_id}:{items[1].luma_guest_id}", "failed", "no longer on the guest list"),
    ]
    assert {a.actor_user_id for a in audited} == {3}


async def test_an_outcome_whose_caller_was_cancelled_is_recorded_at_close(sessions, org) -> None:
    items = await snapshot(sessions, org.org_id, ["sending", "sending"])
    ledger = BatchLedger(sessions, apply_input(org.org_id, items[0].job_id))
    waiting = [asyncio.create_task(ledger.finish(item, "done", "")) for item in items]
    await asyncio.sleep(0)  # queued, perhaps being flushed
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await ledger.close()
    assert await states_of(sessions, items) == ["done", "done"]


async def test_a_failed_flush_reaches_its_callers_or_close() -> None:
    flushing, refusing = asyncio.Event(), asyncio.Event()

    async def refuse(requests: list[int]) -> list[int]:
        flushing.set()
        await refusing.wait()
        raise RuntimeError(f"flush of {requests} refused")

    refusing.set()
    told = GroupCommit(refuse, keep_abandoned=True)
    with pytest.raises(RuntimeError, match="refused"):
        await told.submit(1)
    await told.close()  # its caller heard it: nothing left to raise

    flushing.clear()
    refusing.clear()
    unheard = GroupCommit(refuse, keep_abandoned=True)
    caller = asyncio.create_task(unheard.submit(2))
    await flushing.wait()
    caller.cancel()  # gone while its request is being flushed
    refusing.set()
    with pytest.raises(RuntimeError, match="refused"):
        await unheard.close()


async def test_record_many_keeps_the_idempotency_of_record(sessions, org) -> None:
    key = f"commits-{uuid.uuid4().hex}"

    def row(suffix: str, detail: str) -> audit.AuditRow:
        return audit.AuditRow(
            org_id=org.org_id,
            source="test",
            action="bulk_approved",
            result="approved",
            target={"job": key},
            detail=detail,
            idempotency_key=f"{key}:{suffix}",
        )

    async with sessions.begin() as session:
        await audit.record(
            session,
            org_id=org.org_id,
            source="test",
            action="bulk_approved",
            result="approved",
            idempotency_key=f"{key}:a",
        )
        added = await audit.record_many(
            session, [row("a", "again"), row("b", "first"), row("b", "twice"), row("c", "")]
        )
    assert added == 2
    async with sessions() as session:
        entries = await session.scalars(
            select(AuditEntry).where(AuditEntry.idempotency_key.like(f"{key}:%"))
        )
        recorded = sorted((e.idempotency_key, e.detail, e.target) for e in entries)
    assert recorded == [
        (f"{key}:a", "", {}),
        (f"{key}:b", "first", {"job": key}),
        (f"{key}:c", "", {"job": key}),
    ]
