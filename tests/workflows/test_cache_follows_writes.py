"""Our own status writes reach the cache and the profiles at once, without waiting for a sync."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select

from activities.digest import DigestActivities
from catalog.guest_filter import GuestFilter
from luma import identity_key
from services.automations import GuestStatusError
from store import cache
from store.models import Guest, GuestProfile
from workflows.contracts.digest import DigestRequest
from workflows.contracts.guest_status import GuestStatusChange


def luma_statuses(simulator, event_id: str) -> dict[str, str]:
    """Luma's (the simulator's) status per guest id: the truth the cache must follow."""
    return {g.id: g.approval_status for g in simulator.state.event(event_id).guests.values()}


async def cached_statuses(sessions, org_id: int, event_id: str) -> dict[str, str]:
    async with sessions() as session:
        guests = await cache.list_guests(session, org_id=org_id, luma_event_id=event_id)
    return {guest.luma_guest_id: guest.approval_status for guest in guests}


async def approved_counts(sessions, org_id: int) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(GuestProfile.normalized_email, GuestProfile.events_approved).where(
                GuestProfile.org_id == org_id
            )
        )
    return {email: approved for email, approved in rows}


async def synced(simulator, automations, org, **event) -> str:
    event_id: str = simulator.state.add_event(org.calendar_id, **event)
    await (await automations.sync_now(org.org_id)).result()
    return event_id


async def test_a_bulk_job_leaves_the_cache_and_profiles_as_luma_has_them(
    automations, simulator, org, sessions
) -> None:
    event_id = await synced(
        simulator,
        automations,
        org,
        name="Cache Follows Dinner",
        guests=30,
        status_mix={"pending_approval": 0.6, "waitlist": 0.4},
        paid_share=0.3,
        repeat_share=0.0,
    )
    before = await cached_statuses(sessions, org.org_id, event_id)
    assert before == luma_statuses(simulator, event_id)
    digest = DigestActivities(sessions)
    request = DigestRequest(chat_id=-7_000_000 - org.org_id, org_id=org.org_id)
    first_digest = await digest.build_digest(request)
    pending = Counter(before.values())["pending_approval"]
    assert f"Cache Follows Dinner: {pending} pending" in first_digest.text

    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=7,
    )
    report = await automations.bulk_handle(started.workflow_id).result()
    assert report.done == pending > 0

    after = await cached_statuses(sessions, org.org_id, event_id)
    assert after == luma_statuses(simulator, event_id)
    assert Counter(after.values()) == {
        "approved": report.done,
        "waitlist": len(after) - report.done,
    }
    # The people behind those guests count as approved (what /repeats and VIP scores read).
    profiles = await approved_counts(sessions, org.org_id)
    guests = simulator.state.event(event_id).guests.values()
    for guest in guests:
        expected = 1 if guest.approval_status == "approved" else 0
        assert profiles[identity_key(guest.person.email)] == expected
    # The digest reads the new figures (and sees that they changed) without a sync.
    second_digest = await digest.build_digest(request)
    assert second_digest.fingerprint != first_digest.fingerprint
    # Nobody waits for approval there now.
    assert not re.search(r"Cache Follows Dinner: \d+ pending", second_digest.text)

    # Applying the same statuses again (a retried activity) changes nothing more.
    async with sessions.begin() as session:
        again = await cache.set_guest_status(
            session,
            org_id=org.org_id,
            luma_event_id=event_id,
            luma_guest_ids=list(after),
            status="approved",
        )
        waitlisted = [gid for gid, status in after.items() if status == "waitlist"]
        assert again == len(waitlisted)  # only rows that differed; undo them below
        await session.rollback()
    assert await cached_statuses(sessions, org.org_id, event_id) == after


async def test_refused_bulk_writes_leave_the_cache_alone(
    automations, simulator, org, sessions
) -> None:
    event_id = await synced(
        simulator,
        automations,
        org,
        guests=20,
        status_mix={"approved": 1.0},
        paid_share=0.5,
        repeat_share=0.0,
    )
    paid = {g.id for g in simulator.state.event(event_id).guests.values() if g.paid}
    assert paid
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="declined",
        guest_filter=GuestFilter(statuses=["approved"]),
        requested_by=7,
    )
    report = await automations.bulk_handle(started.workflow_id).result()
    assert report.failed == len(paid)  # no refund choice: Luma was never asked
    cached = await cached_statuses(sessions, org.org_id, event_id)
    assert cached == luma_statuses(simulator, event_id)
    assert {cached[gid] for gid in paid} == {"approved"}
    assert Counter(cached.values())["declined"] == 20 - len(paid)


async def test_one_approval_shows_in_the_cache_and_profile(
    automations, simulator, org, sessions
) -> None:
    event_id = await synced(
        simulator,
        automations,
        org,
        guests=3,
        status_mix={"pending_approval": 1.0},
        repeat_share=0.0,
    )
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    key = identity_key(guest.person.email)
    assert (await approved_counts(sessions, org.org_id))[key] == 0
    await automations.set_guest_status(
        GuestStatusChange(org.org_id, event_id, guest.person.email, "approved")
    )
    cached = await cached_statuses(sessions, org.org_id, event_id)
    assert cached[guest.id] == "approved" == guest.approval_status
    assert (await approved_counts(sessions, org.org_id))[key] == 1


async def test_a_refused_single_write_changes_nothing(
    automations, simulator, org, sessions
) -> None:
    event_id = await synced(
        simulator, automations, org, guests=2, status_mix={"approved": 1.0}, paid_share=1.0
    )
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    before = await cached_statuses(sessions, org.org_id, event_id)
    profiles = await approved_counts(sessions, org.org_id)
    with pytest.raises(GuestStatusError, match="refund"):
        await automations.set_guest_status(
            GuestStatusChange(org.org_id, event_id, guest.person.email, "declined")
        )
    assert await cached_statuses(sessions, org.org_id, event_id) == before
    assert await approved_counts(sessions, org.org_id) == profiles
    async with sessions() as session:
        row = await session.scalar(
            select(Guest).where(Guest.org_id == org.org_id, Guest.luma_guest_id == guest.id)
        )
    assert row is not None and row.approval_status == "approved"
