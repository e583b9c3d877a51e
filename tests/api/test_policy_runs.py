"""Approval policies at work: registrations arrive as Luma webhooks, the event's policy
workflow decides them from a fresh read and writes what auto mode writes, exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from standins.luma import shapes
from store.models import AuditEntry, PolicyDecision
from tests.api.conftest import synced_event
from tests.api.test_webhooks import webhook_url
from tests.conftest import eventually
from workflows.policies import IDLE

DONE = ("written", "held", "suggested", "skipped", "failed")


def register(simulator, calendar_id: str, event_id: str, emails: list[str]) -> list[Any]:
    """New pending registrations in Luma (the simulator), as people signing up."""
    state = simulator.state
    calendar, event = state.calendar(calendar_id), state.event(event_id)
    state.add_guests(calendar, event, [(e, None) for e in emails], status="pending_approval",
                     path="test")  # fmt: skip
    return [event.by_email[email] for email in emails]


async def deliver(client, url: str, simulator, event_id: str, guests: list[Any]) -> None:
    """Each registration's `guest.registered` webhook, as Luma posts it."""
    event = simulator.state.event(event_id)
    for guest in guests:
        data = shapes.guest_v3(guest, event) | {"event": shapes.event_v3(event)}
        answer = await client.post(url, json={"type": "guest.registered", "data": data})
        assert answer.status_code == 202, answer.text


async def decisions(sessions, org_id: int, event_id: str) -> dict[str, PolicyDecision]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PolicyDecision).where(
                PolicyDecision.org_id == org_id, PolicyDecision.luma_event_id == event_id
            )
        )
        return {row.email: row for row in rows}


def status_writes(simulator, event_id: str) -> Counter[str]:
    return Counter(
        w.email
        for w in simulator.state.writes
        if w.event_id == event_id and w.endpoint == "update-guest-status"
    )


async def test_auto_mode_decides_each_registration_once(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Founders Dinner", guests=2)
    base = f"/v1/events/{event_id}/policy"
    rules = [
        {"action": "decline", "emails": ["spam@bots.example"]},
        {"action": "approve", "domains": ["acme.com"]},
        {"action": "waitlist", "domains": ["late.example"]},
    ]
    assert (await tenant.client.put(f"{base}/rules", json={"rules": rules})).status_code == 200
    assert (await tenant.client.put(f"{base}/mode", json={"mode": "auto"})).status_code == 200

    emails = ["ada@acme.com", "bob@acme.com", "spam@bots.example", "eve@late.example"]
    emails += ["carl@elsewhere.example", "dora@elsewhere.example"]
    guests = register(simulator, org.calendar_id, event_id, emails)
    # A person decides Dora before the policy sees her: the policy never overrides that.
    simulator.state.event(event_id).by_email["dora@elsewhere.example"].approval_status = "declined"
    url = await webhook_url(sessions, org.org_id)
    await deliver(anonymous, url, simulator, event_id, guests)

    async def all_done() -> bool:
        found = await decisions(sessions, org.org_id, event_id)
        return len(found) == 5 and all(row.state in DONE for row in found.values())

    await eventually(all_done, timeout=60, interval=0.2)
    found = await decisions(sessions, org.org_id, event_id)
    assert {email: (row.action, row.state) for email, row in found.items()} == {
        "ada@acme.com": ("approve", "written"),
        "bob@acme.com": ("approve", "written"),
        "spam@bots.example": ("decline", "written"),
        "eve@late.example": ("waitlist", "written"),
        "carl@elsewhere.example": ("hold", "held"),
    }
    assert found["ada@acme.com"].reason == "rule 2: approve email at acme.com"
    event = simulator.state.event(event_id)
    statuses = {email: event.by_email[email].approval_status for email in emails}
    assert statuses == {
        "ada@acme.com": "approved",
        "bob@acme.com": "approved",
        "spam@bots.example": "declined",
        "eve@late.example": "waitlist",
        "carl@elsewhere.example": "pending_approval",
        "dora@elsewhere.example": "declined",  # the person's decision stands
    }
    assert status_writes(simulator, event_id) == Counter(
        {"ada@acme.com": 1, "bob@acme.com": 1, "spam@bots.example": 1, "eve@late.example": 1}
    )
    async with sessions() as session:
        audited = Counter(
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.org_id == org.org_id, AuditEntry.action.like("policy_%")
                )
            )
        )
    assert audited["policy_approve"] == 2 and audited["policy_decline"] == 1
    assert audited["policy_waitlist"] == 1

    # Luma delivers the same webhooks again: nothing is decided or written twice.
    await deliver(anonymous, url, simulator, event_id, guests)
    handle = automations.client.get_workflow_handle(f"approval-policy-{org.org_id}-{event_id}")
    await eventually(lambda: settled(handle), timeout=30, interval=0.2)
    assert status_writes(simulator, event_id) == Counter(
        {"ada@acme.com": 1, "bob@acme.com": 1, "spam@bots.example": 1, "eve@late.example": 1}
    )
    assert len(await decisions(sessions, org.org_id, event_id)) == 5


async def test_suggest_mode_writes_nothing_and_off_starts_nothing(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Gala", guests=1)
    url = await webhook_url(sessions, org.org_id)
    off = register(simulator, org.calendar_id, event_id, ["first@acme.com"])
    await deliver(anonymous, url, simulator, event_id, off)  # mode off: no policy workflow
    assert await decisions(sessions, org.org_id, event_id) == {}

    base = f"/v1/events/{event_id}/policy"
    rules = [{"action": "approve", "domains": ["acme.com"]}]
    await tenant.client.put(f"{base}/rules", json={"rules": rules})
    await tenant.client.put(f"{base}/mode", json={"mode": "suggest"})
    later = register(simulator, org.calendar_id, event_id, ["second@acme.com", "x@y.example"])
    await deliver(anonymous, url, simulator, event_id, later)

    async def decided() -> bool:
        return len(await decisions(sessions, org.org_id, event_id)) == 2

    await eventually(decided, timeout=60, interval=0.2)
    found = await decisions(sessions, org.org_id, event_id)
    assert {e: (r.action, r.state) for e, r in found.items()} == {
        "second@acme.com": ("approve", "suggested"),
        "x@y.example": ("hold", "suggested"),
    }
    assert status_writes(simulator, event_id) == Counter()
    statuses = {
        g.person.email: g.approval_status for g in simulator.state.event(event_id).guests.values()
    }
    assert statuses["second@acme.com"] == "pending_approval"


async def settled(handle) -> bool:
    """The policy workflow is waiting out its quiet spell: no activity is running, and the
    last thing it did is start the long idle timer (so every signal was looked at)."""
    history = [event async for event in handle.fetch_history_events()]
    scheduled = sum(1 for e in history if e.HasField("activity_task_scheduled_event_attributes"))
    closed = sum(
        1
        for e in history
        if e.HasField("activity_task_completed_event_attributes")
        or e.HasField("activity_task_failed_event_attributes")
    )
    last = history[-1].timer_started_event_attributes.start_to_fire_timeout
    return scheduled == closed and last.ToTimedelta() == IDLE
