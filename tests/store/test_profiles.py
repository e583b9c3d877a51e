"""Guest profiles rebuilt from the cache: counts across events, no-shows, first and last seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from store import cache, orgs
from store.profiles import get_profile, refresh_profiles


def _row(guest_id: str, email: str, status: str, **extra) -> dict[str, Any]:
    return {
        "luma_guest_id": guest_id, "email": email, "normalized_email": email,
        "email_domain": email.split("@")[1], "name": "Ana Lima", "approval_status": status,
        "registered_at": None, "invited_at": None, "checked_in_at": None, "company": None,
        **extra,
    }  # fmt: skip


async def test_profiles_count_across_events(sessions, keybox, unique) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        org = await orgs.save_org(
            session,
            calendar_id=f"cal-prof-{unique}",
            name="P",
            luma_key=f"secret-prof-{unique}",
            keybox=keybox,
        )
        await cache.upsert_events(session, org_id=org.id, events=[
            {"luma_event_id": "past-1", "name": "Past 1", "start_at": now - timedelta(days=30),
             "end_at": now - timedelta(days=30) + timedelta(hours=3)},
            {"luma_event_id": "past-2", "name": "Past 2", "start_at": now - timedelta(days=9),
             "end_at": now - timedelta(days=9) + timedelta(hours=3)},
            {"luma_event_id": "next", "name": "Next", "start_at": now + timedelta(days=9),
             "end_at": now + timedelta(days=9, hours=3)},
        ])  # fmt: skip
        first = now - timedelta(days=40)
        await cache.upsert_guests(session, org_id=org.id, luma_event_id="past-1", guests=[
            _row("g1", "ana@acme.com", "approved", checked_in_at=now - timedelta(days=30),
                 registered_at=first, company="Acme"),
        ])  # fmt: skip
        await cache.upsert_guests(session, org_id=org.id, luma_event_id="past-2", guests=[
            _row("g2", "ana@acme.com", "approved", registered_at=now - timedelta(days=12)),
            _row("g3", "bo@gmail.com", "invited", invited_at=now - timedelta(days=15)),
        ])  # fmt: skip
        await cache.upsert_guests(session, org_id=org.id, luma_event_id="next", guests=[
            _row("g4", "ana@acme.com", "approved", registered_at=now - timedelta(days=2)),
        ])  # fmt: skip
        written = await refresh_profiles(session, org_id=org.id)
        again = await refresh_profiles(session, org_id=org.id)  # idempotent upsert

    assert written == again == 2
    async with sessions() as session:
        ana = await get_profile(session, org_id=org.id, normalized_email="ana@acme.com")
        bo = await get_profile(session, org_id=org.id, normalized_email="bo@gmail.com")
    assert ana is not None and bo is not None
    assert (ana.events_registered, ana.events_approved, ana.events_attended, ana.no_shows) == (
        3, 3, 1, 1,
    )  # fmt: skip
    assert ana.company == "Acme" and ana.first_seen_at == first
    assert ana.last_seen_at is not None and ana.last_seen_at > now - timedelta(days=3)
    assert (bo.events_registered, bo.events_approved, bo.no_shows) == (0, 0, 0)
