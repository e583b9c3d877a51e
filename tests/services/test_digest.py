"""Digest, post-event summary and sync interval through `services.digest`: the role, the
input and the plan are checked before any schedule moves; each write leaves one audit row."""

from __future__ import annotations

import uuid

import pytest

from services import digest
from services.caller import Forbidden, Invalid, NotFound, PlanLimit
from store.models import AutomationSettings, Chat, Organization, Role
from store.orgs import link_chat
from tests.services.conftest import audit_rows, caller, person
from workflows import ids


async def _linked_chat(sessions, org_id: int) -> int:
    chat_id = -(10**12) - uuid.uuid4().int % 10**9
    linker = await person(sessions, None, None)
    async with sessions.begin() as session:
        await link_chat(
            session, chat_id=chat_id, org_id=org_id, kind="group", title="Ops", linked_by=linker
        )
    return chat_id


async def test_a_member_or_bad_input_changes_nothing(sessions, org, automations) -> None:
    chat_id = await _linked_chat(sessions, org.org_id)
    member = await caller(sessions, org.org_id, Role.MEMBER)
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    for who, at, zone, refusal in (
        (member, "08:30", "Europe/Lisbon", Forbidden),
        (admin, "25:00", "Europe/Lisbon", Invalid),
        (admin, "08:30", "Mars/Base", Invalid),
    ):
        async with sessions.begin() as session:
            with pytest.raises(refusal):
                await digest.set_digest(
                    who, session, automations, chat_id=chat_id, enabled=True, at=at, zone=zone
                )
    async with sessions.begin() as session:
        with pytest.raises(Invalid):
            await digest.set_post_event_summary(
                admin, session, chat_id=chat_id, enabled=True, delay_minutes=-1
            )
    assert not await automations.schedule_exists(ids.digest_schedule_id(chat_id))
    async with sessions() as session:
        assert await session.get(AutomationSettings, chat_id) is None
    assert await audit_rows(sessions, org.org_id) == []


async def test_digest_on_and_off_move_the_schedule_with_one_audit_row_each(
    sessions, org, automations
) -> None:
    chat_id = await _linked_chat(sessions, org.org_id)
    admin = await caller(sessions, org.org_id, Role.ADMIN, "api")
    async with sessions.begin() as session:
        state = await digest.set_digest(
            admin, session, automations, chat_id=chat_id, enabled=True, at="7:05", zone="Asia/Tokyo"
        )
    assert (state.enabled, state.time, state.timezone) == (True, "07:05", "Asia/Tokyo")
    assert await automations.schedule_exists(ids.digest_schedule_id(chat_id))
    async with sessions() as session:
        [listed] = await digest.digests(admin, session, chat_id=chat_id)
        assert listed == state
        chat = await session.get(Chat, chat_id)
        assert chat is not None and chat.timezone == "Asia/Tokyo"  # dates follow the digest
    async with sessions.begin() as session:
        off = await digest.set_digest(admin, session, automations, chat_id=chat_id, enabled=False)
    assert not off.enabled and off.time == "07:05"
    assert not await automations.schedule_exists(ids.digest_schedule_id(chat_id))
    entries = await audit_rows(sessions, org.org_id)
    assert [(e.action, e.chat_id, e.source) for e in entries] == [
        ("digest_on", chat_id, "api"),
        ("digest_off", chat_id, "api"),
    ]


async def test_another_orgs_chat_is_not_found(
    sessions, org, keybox, simulator, automations
) -> None:
    from tests.workflows.conftest import link_calendar

    other = await link_calendar(sessions, keybox, simulator, "Other")
    theirs = await _linked_chat(sessions, other.org_id)
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        with pytest.raises(NotFound):
            await digest.set_digest(admin, session, automations, chat_id=theirs, enabled=True)
        with pytest.raises(NotFound):
            await digest.digests(admin, session, chat_id=theirs)
    assert not await automations.schedule_exists(ids.digest_schedule_id(theirs))


async def test_sync_interval_is_refused_below_the_plan(
    sessions, org, automations, billed, billing
) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    member = await caller(sessions, org.org_id, Role.MEMBER)
    try:
        for who, minutes, plans, refusal in (
            (member, 90, billed, Forbidden),
            (admin, 15, billed, PlanLimit),  # Free: every 60 minutes at most
            (admin, 0, billing, Invalid),
        ):
            async with sessions.begin() as session:
                with pytest.raises(refusal):
                    await digest.set_sync_interval(
                        who, session, plans, automations, minutes=minutes
                    )
        assert not await automations.schedule_exists(ids.sync_schedule_id(org.org_id))
        assert await audit_rows(sessions, org.org_id) == []

        async with sessions.begin() as session:
            await digest.set_sync_interval(admin, session, billed, automations, minutes=90)
        assert await automations.schedule_exists(ids.sync_schedule_id(org.org_id))
        async with sessions() as session:
            saved = await session.get(Organization, org.org_id)
            assert saved is not None and saved.sync_interval_minutes == 90
        [entry] = await audit_rows(sessions, org.org_id)
        assert (entry.action, entry.target) == ("sync_interval", {"minutes": 90})
    finally:
        await automations.on_org_unlinked(org.org_id, [])


async def test_plan_limit_names_the_limit(sessions, org, automations, billed) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        with pytest.raises(PlanLimit) as refused:
            await digest.set_sync_interval(admin, session, billed, automations, minutes=15)
    assert refused.value.limit == "min_sync_interval_minutes"
    assert "Free plan syncs at most every 60 minutes" in refused.value.message
    assert refused.value.status == 403 and refused.value.code == "plan_limit"


async def test_post_event_summary_is_saved_and_audited(sessions, org) -> None:
    chat_id = await _linked_chat(sessions, org.org_id)
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        await digest.set_post_event_summary(
            admin, session, chat_id=chat_id, enabled=False, delay_minutes=45
        )
    async with sessions() as session:
        settings = await session.get(AutomationSettings, chat_id)
        assert settings is not None
        assert (settings.post_event_summary, settings.summary_delay_minutes) == (False, 45)
        assert not settings.digest_enabled
    [entry] = await audit_rows(sessions, org.org_id)
    assert entry.action == "post_event_summary" and entry.chat_id == chat_id
