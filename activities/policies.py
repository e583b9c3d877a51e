"""The I/O of approval policies: decide new registrations, write the decisions, report them.

Every step is idempotent. A guest is decided once (`policy_decisions` is unique per guest of
an event), and only while Luma says they are pending, so a guest a person decided is never
decided by the policy. A write is claimed ("sending") before its call, and Luma is asked
for the guest's status right before it: a person who decided in the meantime wins, and a
retried write whose first attempt may have landed finds the status already set.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from html import escape
from typing import Any

from sqlalchemy import select, update
from temporalio import activity

from activities.heartbeat import heartbeating
from activities.luma_access import LumaAccess, luma_failures_are_final
from activities.sync import cache_one_guest
from catalog.guest_filter import person_key
from intel.approval_policy import LUMA_STATUS, Action
from intel.policy_reads import (
    PolicyView,
    decide_in_order,
    facts_for,
    in_registration_order,
    policy_for,
    unwritten_approvals,
)
from intel.rubric import RubricReader
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from luma import BadRequestError, LumaClient, LumaGuest, NotFoundError
from store import audit, cache
from store.db import upsert_insert
from store.models import PolicyDecision
from store.orgs import org_chats
from workflows.contracts.policies import (
    BatchReport,
    DecideInput,
    DecideResult,
    PromoteInput,
    PromoteResult,
    ReportInput,
    WriteInput,
)

PENDING = "pending_approval"
FINISHED = ("written", "held", "suggested", "skipped", "failed")
WRITES_IN_FLIGHT = 8
READS_IN_FLIGHT = 8  # both within the shared Luma budget, which paces them
_REPORT_ORDER = (
    "approved",
    "waitlisted",
    "declined",
    "would approve",
    "would waitlist",
    "would decline",
    "holding for review",
    "skipped",
    "failed",
)


class PolicyActivities:
    """Clients for deciding and writing registrations by an event's approval policy."""

    def __init__(
        self, luma: LumaAccess, vip_defaults: VipRules, rubric: RubricReader | None = None
    ) -> None:
        self.luma = luma
        self.sessions = luma.sessions
        self.vip_defaults = vip_defaults  # the settings'; each org's own rules come first
        self.rubric = rubric  # None: Gemini is not set up; a rubric holds its guests

    @activity.defn
    async def decide_registrations(self, batch: DecideInput) -> DecideResult:
        """Decide the batch's guests that are still pending and not decided before."""
        async with self.sessions() as session:
            policy = await policy_for(session, org_id=batch.org_id, event_id=batch.event_id)
            decided = set(
                await session.scalars(
                    select(PolicyDecision.luma_guest_id).where(
                        PolicyDecision.org_id == batch.org_id,
                        PolicyDecision.luma_event_id == batch.event_id,
                        PolicyDecision.luma_guest_id.in_(batch.guest_ids),
                    )
                )
            )
        undecided = [gid for gid in dict.fromkeys(batch.guest_ids) if gid not in decided]
        rows: list[tuple[int, str]] = []
        if policy.mode != "off" and undecided:
            client = await self.luma.client(batch.org_id)
            async with heartbeating("deciding"):  # a dead worker's batch moves on in seconds
                pending = await self._still_pending(client, batch.event_id, undecided)
                rows = await self._decide(batch, policy, pending)
        states = Counter(state for _, state in rows)
        return DecideResult(
            await self._unwritten(batch),
            suggested=states["suggested"],
            held=states["held"],
            skipped=len(batch.guest_ids) - len(rows),
        )

    async def _unwritten(self, batch: DecideInput) -> list[int]:
        """The event's decisions still to be written: this batch's, and any an earlier batch
        could not finish (its write failed for good, or a retry found them decided)."""
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(PolicyDecision.id)
                    .where(
                        PolicyDecision.org_id == batch.org_id,
                        PolicyDecision.luma_event_id == batch.event_id,
                        PolicyDecision.state.in_(("to_write", "sending")),
                    )
                    .order_by(PolicyDecision.id)
                )
            )

    async def _still_pending(
        self, client: LumaClient, event_id: str, guest_ids: list[str]
    ) -> list[LumaGuest]:
        gate = asyncio.Semaphore(READS_IN_FLIGHT)

        async def read(guest_id: str) -> LumaGuest | None:
            async with gate:
                try:
                    return await client.get_guest(event_id, guest_id=guest_id)
                except NotFoundError:
                    return None  # gone again: nothing to decide

        with luma_failures_are_final():
            read_now = await asyncio.gather(*(read(guest_id) for guest_id in guest_ids))
        return [g for g in read_now if g is not None and g.approval_status == PENDING]

    async def _decide(
        self, batch: DecideInput, policy: PolicyView, guests: list[LumaGuest]
    ) -> list[tuple[int, str]]:
        """Record a decision per guest (in registration order, so seats fill in that order);
        the ids and states of the rows this call wrote."""
        if not guests:
            return []
        mode = policy.mode
        # Deciding may wait on Gemini (the rubric): no transaction stays open meanwhile.
        async with self.sessions() as session:
            decided = await decide_in_order(
                session,
                org_id=batch.org_id,
                event_id=batch.event_id,
                policy=policy,
                guests=guests,
                vip_rules=await vip_rules_for(
                    session, org_id=batch.org_id, defaults=self.vip_defaults
                ),
                reader=self.rubric,
            )
        async with self.sessions.begin() as session:
            values = []
            for guest, decision in decided:
                # The fresh read goes to the cache too: lists and previews see the newcomer.
                await cache_one_guest(session, batch.org_id, batch.event_id, guest)
                state, reason = _state_of(mode, decision.action, guest, decision.reason)
                values.append(
                    {
                        "org_id": batch.org_id,
                        "luma_event_id": batch.event_id,
                        "luma_guest_id": guest.id,
                        "email": guest.email[:320],
                        "name": (guest.name or "")[:300],
                        "action": decision.action.value,
                        "reason": reason[:500],
                        "mode": mode,
                        "state": state,
                        "detail": "",
                        "decided_at": datetime.now(UTC),
                    }
                )
            dialect = session.get_bind().dialect.name
            inserted = await session.execute(
                upsert_insert(dialect, PolicyDecision)
                .values(values)
                .on_conflict_do_nothing(index_elements=["org_id", "luma_event_id", "luma_guest_id"])
                .returning(PolicyDecision.id, PolicyDecision.state)
            )
            return [(row_id, state) for row_id, state in inserted]

    @activity.defn
    async def write_policy_decisions(self, batch: WriteInput) -> None:
        """Write each decision still to be written; a retry resumes where one stopped."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(PolicyDecision)
                    .where(
                        PolicyDecision.id.in_(batch.decision_ids),
                        PolicyDecision.org_id == batch.org_id,
                        PolicyDecision.state.in_(("to_write", "sending")),
                    )
                    .order_by(PolicyDecision.id)
                )
            ).all()
        if not rows:
            return
        async with self.sessions() as session:
            mode = (await policy_for(session, org_id=batch.org_id, event_id=batch.event_id)).mode
        client = await self.luma.client(batch.org_id)
        gate = asyncio.Semaphore(WRITES_IN_FLIGHT)

        async def write(row: PolicyDecision) -> None:
            async with gate:
                await self._claim(row)
                with luma_failures_are_final():
                    state, detail = await self._write_one(client, batch.event_id, row, mode)
                await self._finish(batch, row, state, detail)

        async with heartbeating("writing"), asyncio.TaskGroup() as tasks:
            for row in rows:
                tasks.create_task(write(row))

    async def _claim(self, row: PolicyDecision) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(PolicyDecision)
                .where(PolicyDecision.id == row.id, PolicyDecision.state == "to_write")
                .values(state="sending")
            )

    async def _write_one(
        self, client: LumaClient, event_id: str, row: PolicyDecision, mode: str
    ) -> tuple[str, str]:
        """Write one decision, unless a person or the policy's mode says otherwise; a refusal
        by Luma is this guest's failure, not the batch's."""
        target = LUMA_STATUS[Action(row.action)]
        try:
            guest = await client.get_guest(event_id, guest_id=row.luma_guest_id)
        except NotFoundError:
            return "skipped", "no longer on the guest list"
        if guest.approval_status == target:
            return "written", ""  # an earlier attempt's write landed (or Luma had it)
        if guest.approval_status != PENDING:
            return "skipped", f"a person decided first ({guest.approval_status})"
        if mode != "auto":  # switched to suggest or off since the decision: a person decides
            return "held", f"not written: the policy was switched to {mode}"
        try:
            await client.update_guest_status(event_id, guest_id=row.luma_guest_id, status=target)
        except NotFoundError:
            return "skipped", "no longer on the guest list"
        except BadRequestError as exc:
            return "failed", exc.user_message
        return "written", ""

    async def _finish(
        self, batch: WriteInput, row: PolicyDecision, state: str, detail: str
    ) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(PolicyDecision)
                .where(PolicyDecision.id == row.id)
                .values(state=state, detail=detail[:500], finished_at=datetime.now(UTC))
            )
            if state == "written":
                await cache.set_guest_status(
                    session,
                    org_id=batch.org_id,
                    luma_event_id=batch.event_id,
                    luma_guest_ids=[row.luma_guest_id],
                    status=LUMA_STATUS[Action(row.action)],
                )
            await audit.record(
                session,
                org_id=batch.org_id,
                source="workflow",
                action=f"policy_{row.action}",
                result=state,
                target={"event_id": batch.event_id, "email": row.email},
                detail=(detail or row.reason)[:500],
                idempotency_key=f"policy-decision:{row.id}",
            )

    @activity.defn
    async def policy_batch_report(self, batch: ReportInput) -> BatchReport:
        """One message for the decisions no message has told yet (counts and reasons, no
        names), and the chats linked to the org. The decisions are marked with the report's
        key as it is composed: a retry finds the same ones, a later batch none of them."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(PolicyDecision)
                .where(
                    PolicyDecision.org_id == batch.org_id,
                    PolicyDecision.luma_event_id == batch.event_id,
                    PolicyDecision.report_key.is_(None),
                    PolicyDecision.state.in_(FINISHED),
                )
                .values(report_key=batch.report_key)
            )
            rows = (
                await session.scalars(
                    select(PolicyDecision).where(
                        PolicyDecision.org_id == batch.org_id,
                        PolicyDecision.luma_event_id == batch.event_id,
                        PolicyDecision.report_key == batch.report_key,
                    )
                )
            ).all()
            event = await cache.get_event(
                session, org_id=batch.org_id, luma_event_id=batch.event_id
            )
            chats = [chat.id for chat in await org_chats(session, org_id=batch.org_id)]
        name = event.name if event else batch.event_id
        if not rows:  # nothing to tell, unless the batch failed (the workflow words that)
            return BatchReport("", chats, event_name=name)
        held = sum(
            1
            for row in rows
            if row.state == "held" or (row.state == "suggested" and row.action == Action.HOLD.value)
        )
        return BatchReport(report_text(name, rows), chats, held, name)

    @activity.defn
    async def promote_waitlisted(self, ask: PromoteInput) -> PromoteResult:
        """Fill the seats left (the policy's capacity minus Luma's approved guests, both
        read now) from the waitlist in the policy's order; Luma emails each promoted guest.
        A retry counts again, so the guests an earlier attempt promoted take their seats."""
        async with self.sessions() as session:
            policy = await policy_for(session, org_id=ask.org_id, event_id=ask.event_id)
        if policy.mode != "auto" or policy.capacity is None or policy.waitlist_order == "off":
            return PromoteResult(0)
        client = await self.luma.client(ask.org_id)
        async with heartbeating("promoting"):
            return await self._promote(ask, policy, client)

    async def _promote(
        self, ask: PromoteInput, policy: PolicyView, client: LumaClient
    ) -> PromoteResult:
        assert policy.capacity is not None
        with luma_failures_are_final():
            approved = 0
            async for _ in client.iter_guests(ask.event_id, status="approved"):
                approved += 1
            async with self.sessions() as session:
                approved += await unwritten_approvals(
                    session, org_id=ask.org_id, event_id=ask.event_id
                )
            seats = policy.capacity - approved
            if seats <= 0:
                return PromoteResult(0)
            waiting = [g async for g in client.iter_guests(ask.event_id, status="waitlist")]
        chosen = (await self._in_waitlist_order(ask, policy, waiting))[:seats]
        promoted = 0
        for guest in chosen:
            with luma_failures_are_final():
                fresh = await client.get_guest(ask.event_id, guest_id=guest.id)
                if fresh.approval_status != "waitlist":
                    continue  # a person (or an earlier attempt) moved them meanwhile
                await client.update_guest_status(
                    ask.event_id, guest_id=guest.id, status="approved", send_email=True
                )
            promoted += 1
            await self._record_promotion(ask, guest)
        if not promoted:
            return PromoteResult(0)
        return await self._promotion_report(ask, policy, promoted)

    async def _in_waitlist_order(
        self, ask: PromoteInput, policy: PolicyView, waiting: list[LumaGuest]
    ) -> list[LumaGuest]:
        by_time = in_registration_order(waiting)
        if policy.waitlist_order != "vip":
            return by_time
        async with self.sessions() as session:
            rules = await vip_rules_for(session, org_id=ask.org_id, defaults=self.vip_defaults)
            facts = await facts_for(session, org_id=ask.org_id, guests=waiting, rules=rules)
        score = {key: known.vip_score for key, known in facts.items()}
        return sorted(by_time, key=lambda g: -score.get(person_key(g.email), 0))  # stable

    async def _record_promotion(self, ask: PromoteInput, guest: LumaGuest) -> None:
        info = activity.info()
        async with self.sessions.begin() as session:
            await cache.set_guest_status(
                session,
                org_id=ask.org_id,
                luma_event_id=ask.event_id,
                luma_guest_ids=[guest.id],
                status="approved",
            )
            await audit.record(
                session,
                org_id=ask.org_id,
                source="workflow",
                action="policy_promote",
                result="approved",
                target={"event_id": ask.event_id, "email": guest.email},
                detail="a seat freed: off the waitlist",
                idempotency_key=f"promote:{info.workflow_run_id}:{info.activity_id}:{guest.id}",
            )

    async def _promotion_report(
        self, ask: PromoteInput, policy: PolicyView, promoted: int
    ) -> PromoteResult:
        async with self.sessions() as session:
            event = await cache.get_event(session, org_id=ask.org_id, luma_event_id=ask.event_id)
            chats = [chat.id for chat in await org_chats(session, org_id=ask.org_id)]
        name = event.name if event else ask.event_id
        order = "highest VIP score first" if policy.waitlist_order == "vip" else "first come"
        text = (
            f"{escape(name)} — approval policy: a seat freed, so {promoted} guest(s) came off the "
            f"waitlist ({order}; capacity {policy.capacity}). Luma emailed them."
        )
        return PromoteResult(promoted, text, chats)


def report_text(event_name: str, rows: Any) -> str:
    """'Founders Dinner — approval policy: approved 12 (rule 1: …); holding 3 for review.'
    (HTML for Telegram: the event name and the reasons escaped.)"""
    done: Counter[tuple[str, str]] = Counter()
    for row in rows:
        done[(_outcome(row), escape(digest_reason(row.reason)))] += 1
    by_outcome: dict[str, list[str]] = {}
    for (outcome, reason), count in sorted(done.items()):
        by_outcome.setdefault(outcome, []).append(f"{count} ({reason})")
    parts = [
        f"{outcome} " + ", ".join(by_outcome[outcome])
        for outcome in _REPORT_ORDER
        if outcome in by_outcome
    ]
    return f"{escape(event_name)} — approval policy: " + "; ".join(parts) + "."


_RUBRIC_KINDS = (
    ("rubric (", "rubric"),
    ("rubric unsure", "rubric unsure"),
    ("rubric would decline", "rubric would decline"),
    ("rubric would approve but no seats", "rubric: no seats left"),
)


def digest_reason(reason: str) -> str:
    """A decision's reason as one batch message groups it: a rule's own words, or the kind of
    rubric verdict (each guest's own reason is in the review list and the decision log, so
    the message stays one line per kind however many guests the rubric read)."""
    for start, kind in _RUBRIC_KINDS:
        if reason.startswith(start):
            return kind
    return reason


def _outcome(row: PolicyDecision) -> str:
    if row.state == "written":
        return {"approve": "approved", "waitlist": "waitlisted", "decline": "declined"}[row.action]
    if row.state == "suggested":
        if row.action == Action.HOLD:
            return "holding for review"
        return f"would {row.action}"
    if row.state == "held":
        return "holding for review"
    return row.state  # skipped, failed, or still being written


def _state_of(mode: str, action: Action, guest: LumaGuest, reason: str) -> tuple[str, str]:
    """The decision's first state: what suggest and auto do with the action."""
    if mode == "suggest":
        return "suggested", reason
    if action is Action.HOLD:
        return "held", reason
    if action is Action.DECLINE and guest.is_paid:
        return "held", f"{reason}; has a paid ticket: a person decides about the refund"
    return "to_write", reason
