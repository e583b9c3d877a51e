"""Bulk approve/decline end to end: real Temporal, PostgreSQL and the Luma simulator."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import FailureError

from catalog.guest_filter import GuestFilter
from luma import identity_key
from services.automations import JobControlError
from store.models import AuditEntry
from store.profiles import add_tag
from tests.conftest import eventually, settled
from workflows.bulk import BulkReport


def statuses(sim, event_id: str) -> Counter[str]:
    return Counter(guest.approval_status for guest in sim.state.event(event_id).guests.values())


def writes_per_guest(sim, event_id: str) -> Counter[str]:
    return Counter(w.guest_id for w in sim.state.writes if w.event_id == event_id)


async def result(automations, workflow_id: str) -> BulkReport:
    return await automations.bulk_handle(workflow_id).result()


async def test_bulk_approve_pending_exactly_once(automations, simulator, org, sessions) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id,
        name="Founders Dinner",
        guests=160,
        status_mix={"pending_approval": 0.75, "approved": 0.25},
    )
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=7,
        event_name="Founders Dinner",
    )
    again = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=7,
    )
    assert again.already_running and again.workflow_id == started.workflow_id
    assert started.web_url.endswith(f"/web/jobs/{started.workflow_id}")

    report = await result(automations, started.workflow_id)
    assert (report.total, report.done, report.failed, report.cancelled) == (120, 120, 0, False)
    assert statuses(simulator, event_id) == {"approved": 160}
    per_guest = writes_per_guest(simulator, event_id)
    assert len(per_guest) == 120 and set(per_guest.values()) == {1}
    assert "Approved: 120 of 120" in report.text and "Founders Dinner" in report.text

    progress = await automations.bulk_progress(started.workflow_id)
    assert (progress.phase, progress.done) == ("finished", 120)
    async with sessions() as session:
        audited = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.org_id == org.org_id, AuditEntry.action == "bulk_approved"
                )
            )
        ).all()
    assert len(audited) == 120 and {entry.actor_user_id for entry in audited} == {7}


async def test_writes_start_while_the_guest_list_is_still_being_read(
    automations, simulator, org
) -> None:
    """The first page read is written at once: a job does not wait for the whole list."""
    simulator.state.configure(latency_seconds=0.2)
    event_id = simulator.state.add_event(
        org.calendar_id, guests=450, status_mix={"pending_approval": 1.0}
    )  # five pages
    job = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    handle = automations.bulk_handle(job.workflow_id)
    report = await handle.result()
    assert (report.total, report.done) == (450, 450)
    assert set(writes_per_guest(simulator, event_id).values()) == {1}

    history = (await handle.fetch_history()).events
    scheduled = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    completed = [
        (index, scheduled[event.activity_task_completed_event_attributes.scheduled_event_id])
        for index, event in enumerate(history)
        if event.HasField("activity_task_completed_event_attributes")
    ]
    last_read_done = max(index for index, name in completed if name == "resolve_bulk_targets")
    first_write_scheduled = min(
        index
        for index, event in enumerate(history)
        if scheduled.get(event.event_id) == "apply_bulk_batch"
    )
    assert first_write_scheduled < last_read_done


async def test_already_in_target_are_skipped(automations, simulator, org) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=40, status_mix={"approved": 0.5, "waitlist": 0.5}
    )
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(),
    )
    report = await result(automations, started.workflow_id)
    assert (report.total, report.done, report.skipped) == (40, 20, 20)
    assert len(writes_per_guest(simulator, event_id)) == 20


async def test_filters_by_domain_and_reports_unknown_emails(automations, simulator, org) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=60, status_mix={"pending_approval": 1.0}
    )
    guests = list(simulator.state.event(event_id).guests.values())
    domain = guests[0].person.email.split("@")[1]
    expected = sum(1 for g in guests if g.person.email.endswith("@" + domain))
    by_domain = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="declined",
        guest_filter=GuestFilter(domains=[domain]),
        should_refund=False,
    )
    report = await result(automations, by_domain.workflow_id)
    assert report.done == expected and report.failed == 0

    chosen = [
        g.person.email.upper() for g in guests[1:8] if not g.person.email.endswith("@" + domain)
    ]
    by_email = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(emails=[*chosen, "nobody@nowhere.example", "not-an-email"]),
    )
    report = await result(automations, by_email.workflow_id)
    assert report.done == len(chosen)
    reasons = {failure.email: failure.reason for failure in report.failures}
    assert reasons["nobody@nowhere.example"] == "not on this event's guest list"
    assert reasons["not-an-email"] == "not a valid email address"


async def test_paid_guests_need_a_refund_choice(automations, simulator, org) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=20, status_mix={"pending_approval": 1.0}, paid_share=0.5
    )
    paid = sum(1 for g in simulator.state.event(event_id).guests.values() if g.paid)
    assert paid > 0
    unchosen = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="declined",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    report = await result(automations, unchosen.workflow_id)
    assert report.failed == paid and report.done == 20 - paid
    assert all("refund" in failure.reason for failure in report.failures)

    chosen = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="declined",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        should_refund=True,
    )
    report = await result(automations, chosen.workflow_id)
    assert report.done == paid
    assert statuses(simulator, event_id) == {"declined": 20}


async def test_pause_resume_and_cancel(automations, simulator, org) -> None:
    simulator.state.configure(latency_seconds=0.05)
    event_id = simulator.state.add_event(
        org.calendar_id, guests=300, status_mix={"pending_approval": 1.0}
    )
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=1,
    )
    wid = started.workflow_id

    async def started_work() -> bool:
        return (await automations.bulk_progress(wid)).done > 0

    await eventually(started_work)
    paused = await automations.control_bulk(wid, "pause", requested_by=1)
    assert paused.phase == "paused"
    with pytest.raises(JobControlError, match="already paused"):
        await automations.control_bulk(wid, "pause")

    async def done() -> int:
        return (await automations.bulk_progress(wid)).done

    assert await settled(done) < 300  # the batch in flight ends, then nothing moves
    frozen = await automations.bulk_progress(wid)
    assert frozen.phase == "paused" and frozen.eta_seconds is not None

    resumed = await automations.control_bulk(wid, "resume")
    assert resumed.phase == "applying"
    cancelled = await automations.control_bulk(wid, "cancel")
    assert cancelled.phase == "cancelling"
    report = await result(automations, wid)
    assert report.cancelled and 0 < report.done < 300
    assert "cancelled" in report.text and "left as they were" in report.text
    assert statuses(simulator, event_id)["approved"] == report.done
    with pytest.raises(JobControlError, match="no longer running"):
        await automations.control_bulk(wid, "resume")


async def test_invalid_key_fails_fast(automations, simulator, org, sessions, keybox) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=5, status_mix={"pending_approval": 1.0}
    )
    from store.models import Organization

    async with sessions.begin() as session:
        row = await session.get(Organization, org.org_id)
        row.key_ciphertext = keybox.encrypt("secret-revoked-key-000")
    before = simulator.state.counters["unauthorized"]
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(),
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await automations.handle(started.workflow_id).result()
    cause = failure.value.cause
    assert isinstance(cause, FailureError) and "rejected this API key" in cause.message
    # One activity attempt, one request: a rejected key is never retried.
    assert simulator.state.counters["unauthorized"] - before == 1


async def test_survives_luma_errors(automations, simulator, org) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=200, status_mix={"pending_approval": 1.0}
    )
    simulator.state.configure(error_rate=0.1)
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    report = await result(automations, started.workflow_id)
    assert report.done == 200 and statuses(simulator, event_id) == {"approved": 200}
    assert simulator.state.stats()["injected_errors"] > 0


async def test_search_and_vip_select_fresh_guests(automations, simulator, org, sessions) -> None:
    """The job evaluates the whole filter on Luma's pages: search (name, email, company)
    and VIPs, scored from our tags by the same function the portal's lists use."""
    event_id = simulator.state.add_event(
        org.calendar_id, guests=30, status_mix={"pending_approval": 1.0}
    )
    guests = list(simulator.state.event(event_id).guests.values())
    vips = {guest.person.email for guest in guests[:3]}
    async with sessions.begin() as session:
        for email in vips:
            await add_tag(
                session,
                org_id=org.org_id,
                normalized_email=identity_key(email),
                tag="vip",
                user_id=None,
            )
    by_vip = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(vip=True),
    )
    assert (await result(automations, by_vip.workflow_id)).done == 3
    searched = guests[10].person.email.split("@")[0].upper()
    by_search = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="declined",
        guest_filter=GuestFilter(search=searched),
        should_refund=False,
    )
    report = await result(automations, by_search.workflow_id)
    expected = {g.person.email for g in guests if searched.lower() in g.person.email.lower()}
    assert report.done == len(expected) >= 1
    approved = {
        g.person.email
        for g in simulator.state.event(event_id).guests.values()
        if g.approval_status == "approved"
    }
    assert approved == vips
