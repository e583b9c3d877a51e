"""`services.bulk`: who may start a bulk job, the plan's limit, one audit row per start, and
usage counted once however often the same job is asked for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billing.limits import BULK_GUESTS
from catalog.guest_filter import GuestFilter
from services import bulk
from services.caller import Forbidden, PlanLimit
from store.models import AuditEntry, utcnow
from store.usage import usage
from tests.api.conftest import synced_event
from tests.conftest import RULES
from tests.services.conftest import admin_of, member_of


async def _audit(sessions, org_id: int) -> list[AuditEntry]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.org_id == org_id, AuditEntry.action.like("bulk_%_started"))
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def _used(sessions, org_id: int) -> int:
    async with sessions() as session:
        return (await usage(session, org_id=org_id, day=utcnow().date())).get(BULK_GUESTS, 0)


async def _bulk_runs(automations, org_id: int) -> list[str]:
    return [job.workflow_id for job in await automations.list_jobs(org_id) if job.kind == "bulk"]


def _pending(event_id: str) -> bulk.BulkRequest:
    return bulk.BulkRequest(event_id, "approved", GuestFilter(statuses=["pending_approval"]))


@pytest.fixture
async def event_id(simulator, automations, org) -> str:
    """An event with 4 pending and 4 approved guests, in the cache."""
    return await synced_event(
        simulator, automations, org, guests=8, status_mix={"pending_approval": 0.5, "approved": 0.5}
    )


async def test_a_member_is_refused_and_nothing_starts(
    sessions, automations, pro, org, event_id
) -> None:
    with pytest.raises(Forbidden) as refused:
        await bulk.start_bulk(
            member_of(org.org_id),
            _pending(event_id),
            sessions=sessions,
            automations=automations,
            billing=pro,
            vip_defaults=RULES,
        )
    assert refused.value.status == 403 and refused.value.message.startswith("Only admins")
    assert await _bulk_runs(automations, org.org_id) == []
    assert await _audit(sessions, org.org_id) == []
    assert await _used(sessions, org.org_id) == 0


async def test_over_the_plan_nothing_starts_or_is_counted(
    sessions, automations, free, simulator, org
) -> None:
    event_id = await synced_event(
        simulator, automations, org, guests=6, status_mix={"pending_approval": 1.0}
    )
    async with sessions() as session:
        check = await bulk.preview_bulk(
            session, free, admin_of(org.org_id), _pending(event_id), vip_defaults=RULES
        )
    assert check.guests == 6 and isinstance(check.over_plan, PlanLimit)
    with pytest.raises(PlanLimit) as refused:
        await bulk.start_bulk(
            admin_of(org.org_id),
            _pending(event_id),
            sessions=sessions,
            automations=automations,
            billing=free,
            vip_defaults=RULES,
        )
    assert refused.value.limit == "max_bulk_guests" and refused.value.code == "plan_limit"
    assert "up to 5 guests; this one would change 6" in refused.value.message
    assert await _bulk_runs(automations, org.org_id) == []
    assert await _audit(sessions, org.org_id) == []
    assert await _used(sessions, org.org_id) == 0
    assert not [w for w in simulator.state.writes if w.calendar_id == org.calendar_id]


async def test_a_start_is_audited_and_counted_once_a_double_start_finds_it(
    sessions, automations, free, simulator, org, event_id
) -> None:
    caller = admin_of(org.org_id)
    simulator.state.configure(latency_seconds=0.3)  # the job is still running when asked again
    try:
        first = await bulk.start_bulk(
            caller,
            _pending(event_id),
            sessions=sessions,
            automations=automations,
            billing=free,
            vip_defaults=RULES,
        )
        second = await bulk.start_bulk(
            caller,
            _pending(event_id),
            sessions=sessions,
            automations=automations,
            billing=free,
            vip_defaults=RULES,
        )
    finally:
        simulator.state.configure(latency_seconds=0.0)
    assert (first.job.already_running, second.job.already_running) == (False, True)
    assert first.job.workflow_id == second.job.workflow_id and first.guests == 4
    report = await automations.bulk_handle(first.job.workflow_id).result()
    assert report.done == 4

    entries = await _audit(sessions, org.org_id)
    assert [(e.action, e.result, e.source) for e in entries] == [
        ("bulk_approved_started", "started", "bot"),
        ("bulk_approved_started", "already running", "bot"),
    ]
    assert {(e.actor_user_id, e.chat_id) for e in entries} == {(caller.user_id, caller.chat_id)}
    assert entries[0].target == {"event_id": event_id, "job": first.job.workflow_id}
    assert await _used(sessions, org.org_id) == 4  # counted once, for the new job only
    assert await _bulk_runs(automations, org.org_id) == [first.job.workflow_id]


async def test_paid_guests_count_only_when_a_refund_choice_follows(
    sessions, automations, pro, simulator, org
) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        org,
        guests=6,
        status_mix={"pending_approval": 1.0},
        paid_share=1.0,
    )
    decline = bulk.BulkRequest(event_id, "declined", GuestFilter(statuses=["pending_approval"]))
    async with sessions() as session:
        api = await bulk.preview_bulk(
            session, pro, admin_of(org.org_id), decline, vip_defaults=RULES
        )
        bot = await bulk.preview_bulk(
            session,
            pro,
            admin_of(org.org_id),
            decline,
            refund_choice_follows=True,
            vip_defaults=RULES,
        )
        refunded = await bulk.preview_bulk(
            session,
            pro,
            admin_of(org.org_id),
            bulk.BulkRequest(event_id, "declined", decline.guest_filter, should_refund=True),
            vip_defaults=RULES,
        )
    assert (api.preview.needs_refund_choice, api.guests) == (6, 0)
    assert bot.guests == 6  # the bot's buttons ask, so each of them will be declined
    assert (refunded.preview.to_change, refunded.guests) == (6, 6)
