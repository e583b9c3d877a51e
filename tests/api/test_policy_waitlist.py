"""Waitlist promotion: freed seats (a decline in Luma, a raised capacity) go to the waitlist,
exactly as many as freed, first come first; Luma emails them."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select
from temporalio.service import RPCError

from intel.policy_reads import seats_left
from standins.luma import shapes
from store.models import AuditEntry, PolicyDecision
from tests.api.conftest import synced_event
from tests.api.test_policy_runs import settled, status_writes
from tests.api.test_webhooks import webhook_url
from tests.conftest import eventually
from workflows import ids


async def test_freed_seats_go_to_the_waitlist_first_come(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Supper Club", guests=0)
    state = simulator.state
    calendar, event = state.calendar(org.calendar_id), state.event(event_id)
    seated = [f"seated{n}@example.com" for n in range(4)]
    queue = [f"queue{n}@example.com" for n in range(3)]
    for email in seated:
        state.add_guests(calendar, event, [(email, None)], status="approved", path="test")
    for email in queue:  # one by one: each registered after the one before
        await asyncio.sleep(0.01)
        state.add_guests(calendar, event, [(email, None)], status="waitlist", path="test")
    writes_before = status_writes(simulator, event_id)

    base = f"/v1/events/{event_id}/policy"
    assert (await tenant.client.put(f"{base}/mode", json={"mode": "auto"})).status_code == 200
    full = await tenant.client.put(f"{base}/capacity", json={"capacity": 4})
    assert full.json()["capacity"] == 4 and full.json()["waitlist_order"] == "registered"

    # A person declines two seated guests in Luma; Luma tells us with guest.updated.
    url = await webhook_url(sessions, org.org_id)
    for email in seated[:2]:
        guest = event.by_email[email]
        guest.approval_status = "declined"
        data = shapes.guest_v3(guest, event) | {"event": shapes.event_v3(event)}
        answer = await anonymous.post(url, json={"type": "guest.updated", "data": data})
        assert answer.status_code == 202

    def statuses() -> list[str]:
        return [event.by_email[email].approval_status for email in queue]

    await eventually(lambda: statuses()[:2] == ["approved", "approved"], timeout=60, interval=0.2)
    # Every look the two webhooks asked for is over, and none took a third seat.
    handle = automations.client.get_workflow_handle(ids.policy_id(org.org_id, event_id))
    await eventually(lambda: settled(handle), timeout=30, interval=0.2)
    assert statuses() == ["approved", "approved", "waitlist"]

    raised = await tenant.client.put(f"{base}/capacity", json={"capacity": 5})
    assert raised.status_code == 200
    await eventually(lambda: statuses() == ["approved"] * 3, timeout=60, interval=0.2)

    written = status_writes(simulator, event_id) - writes_before
    assert written == Counter(dict.fromkeys(queue, 1))  # each once, nobody else
    async with sessions() as session:
        promoted = list(
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.org_id == org.org_id, AuditEntry.action == "policy_promote"
                )
            )
        )
    assert len(promoted) == 3


async def test_no_capacity_or_suggest_mode_promotes_nobody(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Loft", guests=0)
    state = simulator.state
    calendar, event = state.calendar(org.calendar_id), state.event(event_id)
    state.add_guests(calendar, event, [("w@example.com", None)], status="waitlist", path="t")
    base = f"/v1/events/{event_id}/policy"
    await tenant.client.put(f"{base}/mode", json={"mode": "suggest"})
    await tenant.client.put(f"{base}/capacity", json={"capacity": 10})
    # Not in auto mode, so no seat is looked at: the event's policy workflow never starts.
    handle = automations.client.get_workflow_handle(ids.policy_id(org.org_id, event_id))
    with pytest.raises(RPCError):
        await handle.describe()
    assert event.by_email["w@example.com"].approval_status == "waitlist"
    assert status_writes(simulator, event_id) == Counter()


async def test_decided_but_unwritten_approvals_take_their_seats(
    tenant, simulator, automations, sessions
) -> None:
    """A seat an approval holds before its write lands is not offered twice."""
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Attic", guests=0)
    async with sessions.begin() as session:
        for n, state in enumerate(("to_write", "sending", "written", "held")):
            session.add(
                PolicyDecision(
                    org_id=org.org_id,
                    luma_event_id=event_id,
                    luma_guest_id=f"gst-{n}",
                    email=f"g{n}@example.com",
                    action="approve" if state != "held" else "hold",
                    reason="rule 1",
                    mode="auto",
                    state=state,
                )
            )
    async with sessions() as session:
        left = await seats_left(session, org_id=org.org_id, event_id=event_id, capacity=5)
    assert left == 3  # the two approvals not written yet; a written one is in the cache's count
