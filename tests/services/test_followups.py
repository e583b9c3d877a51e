"""Follow-up rules in `services.followups`: admins only, mail configured, the event over,
unsubscribed people left out, each start and unsubscribe audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.settings import MailBackend
from services import followups
from services.caller import Conflict, Forbidden, Invalid, NotFound
from store.models import Event, Role, utcnow
from tests.services.conftest import audit_rows, caller


def _event(org_id: int, *, ended: bool) -> Event:
    start = utcnow() + (timedelta(days=-2) if ended else timedelta(days=2))
    return Event(
        org_id=org_id,
        luma_event_id="evt-none",
        name="Founders <Dinner>",
        start_at=start,
        end_at=start + timedelta(hours=3),
    )


async def test_the_rules_before_anything_is_drafted_or_sent(sessions, org, automations) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    member = await caller(sessions, org.org_id, Role.MEMBER)
    with pytest.raises(Conflict):
        followups.require_mail(MailBackend.OFF)
    assert followups.audience_of("No-Show") == "no-shows" and followups.audience_of("x") is None
    async with sessions() as session:
        with pytest.raises(Forbidden):
            await followups.reach(
                member, session, event=_event(org.org_id, ended=True), audience="all"
            )
        with pytest.raises(Conflict) as early:
            await followups.reach(
                admin, session, event=_event(org.org_id, ended=False), audience="all"
            )
        assert "&lt;Dinner&gt;" in early.value.message  # refusals are HTML-safe
        with pytest.raises(Invalid):
            await followups.reach(
                admin, session, event=_event(org.org_id, ended=True), audience="vips"
            )
        reach = await followups.reach(
            admin, session, event=_event(org.org_id, ended=True), audience="attended"
        )
        assert reach == followups.Reach("attended", 0, 0)
    async with sessions.begin() as session:
        with pytest.raises(Conflict):  # no mail backend: nothing starts
            await followups.start(
                admin,
                session,
                automations,
                mail=MailBackend.OFF,
                campaign_id="c1",
                event_id="evt-none",
                event_name="Founders Dinner",
                audience="all",
                subject="Hi",
                body="Thanks",
            )
        with pytest.raises(Forbidden):
            await followups.unsubscribe(member, session, email="ada@example.com")
    assert await audit_rows(sessions, org.org_id) == []


async def test_unsubscribe_is_audited_once_per_call(sessions, org) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        assert await followups.unsubscribe(admin, session, email="ada@example.com")
    async with sessions.begin() as session:
        assert not await followups.unsubscribe(admin, session, email="ADA@example.com")
    entries = await audit_rows(sessions, org.org_id, "unsubscribe")
    assert [e.result for e in entries] == ["added", "already"]


async def test_a_campaign_starts_only_for_an_ended_event_of_the_callers_org(
    sessions, org, automations
) -> None:
    """Whatever the way in (not only the bot's draft flow), `start` reads the event itself."""
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    upcoming = _event(org.org_id, ended=False)
    upcoming.luma_event_id = "evt-upcoming"
    async with sessions.begin() as session:
        session.add(upcoming)

    async def start(event_id: str) -> None:
        async with sessions.begin() as session:
            await followups.start(
                admin,
                session,
                automations,
                mail=MailBackend.SMTP,
                campaign_id=f"c-{event_id}",
                event_id=event_id,
                event_name="Founders Dinner",
                audience="all",
                subject="Hi",
                body="Thanks",
            )

    with pytest.raises(Conflict):  # not over yet
        await start("evt-upcoming")
    with pytest.raises(NotFound):  # not this org's (or nobody's) event
        await start("evt-of-another-calendar")
    assert await audit_rows(sessions, org.org_id) == []
