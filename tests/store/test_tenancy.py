"""Tenant isolation: one org's repository calls never return another org's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from store import audit, cache, orgs
from store.models import Role


def _guest(n: int, status: str, domain: str = "acme.com") -> dict[str, Any]:
    email = f"person{n}@{domain}"
    return {
        "luma_guest_id": f"gst-{n}",
        "email": email,
        "normalized_email": email,
        "email_domain": domain,
        "name": f"Person {n}",
        "approval_status": status,
    }


async def _org_with_guests(sessions, keybox, unique: str, label: str) -> int:
    async with sessions.begin() as session:
        org = await orgs.save_org(
            session,
            calendar_id=f"cal-{label}-{unique}",
            name=label,
            luma_key=f"secret-{label}-{unique}",
            keybox=keybox,
        )
        start = datetime.now(UTC) + timedelta(days=3)
        await cache.upsert_events(
            session,
            org_id=org.id,
            events=[
                {"luma_event_id": "evt-shared-id", "name": f"{label} Mixer", "start_at": start}
            ],
        )
        await cache.upsert_guests(
            session,
            org_id=org.id,
            luma_event_id="evt-shared-id",
            guests=[_guest(1, "approved"), _guest(2, "pending_approval")],
        )
        await orgs.link_chat(
            session,
            chat_id=hash((label, unique)) % 10**12,
            org_id=org.id,
            kind="group",
            title=label,
            linked_by=hash((label, unique, "u")) % 10**9,
        )
        await audit.record(session, org_id=org.id, source="test", action="link", result="ok")
        return org.id


async def test_orgs_never_see_each_other(sessions, keybox, unique: str) -> None:
    org_a = await _org_with_guests(sessions, keybox, unique, "A")
    org_b = await _org_with_guests(sessions, keybox, unique, "B")
    async with sessions() as session:
        for org_id in (org_a, org_b):
            events = await cache.list_events(session, org_id=org_id)
            assert {event.org_id for event in events} == {org_id}
            guests = await cache.list_guests(session, org_id=org_id, luma_event_id="evt-shared-id")
            assert len(guests) == 2 and {guest.org_id for guest in guests} == {org_id}
            found = await cache.guests_by_email(
                session, org_id=org_id, normalized_email="person1@acme.com"
            )
            assert [guest.org_id for guest in found] == [org_id]
            counts = await cache.count_by_status(
                session, org_id=org_id, luma_event_id="evt-shared-id"
            )
            assert counts == {"approved": 1, "pending_approval": 1}
            chats = await orgs.org_chats(session, org_id=org_id)
            assert len(chats) == 1 and chats[0].org_id == org_id
            assert {entry.org_id for entry in await audit.recent(session, org_id=org_id)} == {
                org_id
            }
            chat_org = await orgs.chat_org(session, chat_id=chats[0].id)
            assert chat_org is not None and chat_org.id == org_id


async def test_upsert_is_idempotent_and_marks_gone(sessions, keybox, unique: str) -> None:
    org_id = await _org_with_guests(sessions, keybox, unique, "C")
    async with sessions.begin() as session:
        cutoff = datetime.now(UTC)
        await cache.upsert_guests(
            session,
            org_id=org_id,
            luma_event_id="evt-shared-id",
            guests=[_guest(1, "declined")],
        )
        gone = await cache.mark_guests_gone(
            session, org_id=org_id, luma_event_id="evt-shared-id", fetched_before=cutoff
        )
    assert gone == 1
    async with sessions() as session:
        guests = await cache.list_guests(session, org_id=org_id, luma_event_id="evt-shared-id")
    assert [(guest.luma_guest_id, guest.approval_status) for guest in guests] == [
        ("gst-1", "declined")
    ]


async def test_roles_and_membership(sessions, keybox, unique: str) -> None:
    org_a = await _org_with_guests(sessions, keybox, unique, "D")
    org_b = await _org_with_guests(sessions, keybox, unique, "E")
    user_id = int(unique[:8], 16)
    async with sessions.begin() as session:
        await orgs.upsert_user(session, user_id=user_id, username="ana", full_name="Ana")
        await orgs.set_role(session, org_id=org_a, user_id=user_id, role=Role.MEMBER)
        await orgs.set_role(session, org_id=org_a, user_id=user_id, role=Role.ADMIN)
        assert await orgs.get_role(session, org_id=org_a, user_id=user_id) is Role.ADMIN
        assert await orgs.get_role(session, org_id=org_b, user_id=user_id) is None
        assert [org.id for org in await orgs.user_orgs(session, user_id=user_id)] == [org_a]
        members = await orgs.list_members(session, org_id=org_a)
        assert (user_id, Role.ADMIN) in [(user.id, role) for user, role in members]
        assert await orgs.remove_member(session, org_id=org_a, user_id=user_id)
        assert await orgs.get_role(session, org_id=org_a, user_id=user_id) is None


async def test_unlink_detaches_chat(sessions, keybox, unique: str) -> None:
    org_id = await _org_with_guests(sessions, keybox, unique, "F")
    async with sessions.begin() as session:
        chat = (await orgs.org_chats(session, org_id=org_id))[0]
        assert await orgs.unlink_chat(session, chat_id=chat.id) == org_id
        assert await orgs.chat_org(session, chat_id=chat.id) is None
        assert await orgs.unlink_chat(session, chat_id=chat.id) is None


async def test_audit_idempotency_key_records_once(sessions, keybox, unique: str) -> None:
    org_id = await _org_with_guests(sessions, keybox, unique, "G")
    async with sessions.begin() as session:
        for _ in range(3):
            await audit.record(
                session,
                org_id=org_id,
                source="workflow",
                action="set_status",
                result="approved",
                idempotency_key=f"bulk-{unique}-gst-1",
            )
        entries = await audit.recent(session, org_id=org_id)
    assert sum(entry.action == "set_status" for entry in entries) == 1
