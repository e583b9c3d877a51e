"""One guest approved or declined through its short workflow; event-scoped refresh."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.automations import GuestStatusError
from store import cache
from store.models import AuditEntry
from workflows.contracts.guest_status import GuestStatusChange


async def test_approve_one_guest_then_again(automations, simulator, org, sessions) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=4, status_mix={"pending_approval": 1.0}
    )
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    change = GuestStatusChange(
        org.org_id, event_id, guest.person.email.upper(), "approved", requested_by=42
    )
    first = await automations.set_guest_status(change)
    assert (first.before, first.after, first.changed) == ("pending_approval", "approved", True)
    again = await automations.set_guest_status(change)
    assert not again.changed  # already approved: no second write
    assert sum(w.guest_id == guest.id for w in simulator.state.writes) == 1
    async with sessions() as session:
        counts = await cache.count_by_status(session, org_id=org.org_id, luma_event_id=event_id)
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.actor_user_id == 42).order_by(AuditEntry.id)
            )
        ).all()
    assert counts == {"approved": 1}
    assert [entry.result for entry in entries if entry.org_id == org.org_id] == [
        "approved",
        "already approved",
    ]


@pytest.mark.parametrize(
    ("email", "message"),
    [("not-an-email", "not a valid email"), ("stranger@example.org", "no such event or guest")],
)
async def test_bad_input_is_a_sentence(automations, simulator, org, email, message) -> None:
    event_id = simulator.state.add_event(org.calendar_id, guests=2)
    writes = len(simulator.state.writes)
    with pytest.raises(GuestStatusError, match=message):
        await automations.set_guest_status(
            GuestStatusChange(org.org_id, event_id, email, "approved")
        )
    assert len(simulator.state.writes) == writes


async def test_paid_decline_needs_refund_choice(automations, simulator, org) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=2, status_mix={"approved": 1.0}, paid_share=1.0
    )
    email = next(iter(simulator.state.event(event_id).guests.values())).person.email
    with pytest.raises(GuestStatusError, match="refund"):
        await automations.set_guest_status(
            GuestStatusChange(org.org_id, event_id, email, "declined")
        )
    done = await automations.set_guest_status(
        GuestStatusChange(org.org_id, event_id, email, "declined", should_refund=True)
    )
    assert done.changed and simulator.state.writes[-1].should_refund is True


async def test_refresh_one_event(automations, simulator, org, sessions) -> None:
    event_id = simulator.state.add_event(org.calendar_id, guests=12)
    await (await automations.refresh_event(org.org_id, event_id)).result()
    async with sessions() as session:
        counts = await cache.count_by_status(session, org_id=org.org_id, luma_event_id=event_id)
    assert sum(counts.values()) == 12
