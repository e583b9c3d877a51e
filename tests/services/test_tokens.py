"""API tokens through `services.tokens`: admins issue and revoke, each write audited once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services import tokens
from services.caller import Forbidden, Invalid, NotFound
from store.models import ApiToken, Role, utcnow
from store.tokens import TokenHolder, token_holder
from tests.services.conftest import audit_rows, caller


async def test_a_member_can_read_the_list_but_not_issue_or_revoke(sessions, org) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN, "bot", chat_id=123)
    member = await caller(sessions, org.org_id, Role.MEMBER)
    async with sessions.begin() as session:
        issued = await tokens.issue(admin, session, name="ci")
    async with sessions.begin() as session:
        with pytest.raises(Forbidden):
            await tokens.issue(member, session, name="mine")
        with pytest.raises(Forbidden):
            await tokens.revoke(member, session, ref=issued.prefix)
        assert [row.prefix for row in await tokens.active(member, session)] == [issued.prefix]
    async with sessions() as session:
        holder = await token_holder(session, token=issued.token)
        assert holder == TokenHolder(org.org_id, admin.user_id, Role.ADMIN)  # the maker's role
    [entry] = await audit_rows(sessions, org.org_id)
    assert entry.action == "token_issue" and entry.source == "bot" and entry.chat_id == 123
    assert entry.actor_user_id == admin.user_id and issued.token not in str(entry.target)


async def test_issue_list_revoke_each_write_one_audit_row(sessions, org) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        with pytest.raises(Invalid):
            await tokens.issue(admin, session, name="x" * (tokens.MAX_NAME + 1))
    async with sessions.begin() as session:
        issued = await tokens.issue(admin, session, name="deploy")
    async with sessions.begin() as session:
        with pytest.raises(NotFound):
            await tokens.revoke(admin, session, ref="lbt_nope")
        with pytest.raises(NotFound):  # too long to be an id
            await tokens.revoke(admin, session, ref="1" * 12)
        assert await tokens.revoke(admin, session, ref=str(issued.id)) == 1
    async with sessions() as session:
        assert await token_holder(session, token=issued.token) is None
        assert list(await tokens.active(admin, session)) == []
    actions = [entry.action for entry in await audit_rows(sessions, org.org_id)]
    assert actions == ["token_issue", "token_revoke"]


async def test_another_orgs_token_is_not_found(sessions, org, keybox, simulator) -> None:
    from tests.workflows.conftest import link_calendar

    other = await link_calendar(sessions, keybox, simulator, "Other")
    theirs = await caller(sessions, other.org_id, Role.ADMIN)
    ours = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        issued = await tokens.issue(theirs, session)
    async with sessions.begin() as session:
        with pytest.raises(NotFound):
            await tokens.revoke(ours, session, ref=issued.prefix)
    async with sessions() as session:
        holder = await token_holder(session, token=issued.token)
        assert holder is not None and holder.org_id == other.org_id
    assert await audit_rows(sessions, org.org_id) == []


async def test_a_token_made_for_some_days_stops_after_them(sessions, org) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        with pytest.raises(Invalid):
            await tokens.issue(admin, session, name="x", days=0)
        lasting = await tokens.issue(admin, session, name="forever")
        weekly = await tokens.issue(admin, session, name="week", days=7)
    async with sessions.begin() as session:
        row = await session.get(ApiToken, weekly.id)
        assert row is not None and row.expires_at is not None
        assert await token_holder(session, token=weekly.token) is not None
        row.expires_at = utcnow() - timedelta(seconds=1)  # a week later
    async with sessions() as session:
        assert await token_holder(session, token=weekly.token) is None
        assert await token_holder(session, token=lasting.token) is not None
        assert [r.name for r in await tokens.active(admin, session)] == ["forever"]
