"""Roles through `services.team`: admins only, never without an admin, a newcomer only
within the plan's team size; the same rules for the bot's /role and the portal."""

from __future__ import annotations

import pytest

from services import team
from services.caller import Conflict, Forbidden, Invalid, NotFound, PlanLimit
from store.models import Role
from store.orgs import get_role
from tests.services.conftest import audit_rows, caller, person


async def _role(sessions, org_id: int, user_id: int) -> Role | None:
    async with sessions() as session:
        return await get_role(session, org_id=org_id, user_id=user_id)


async def test_a_member_cannot_give_roles(sessions, org, billing) -> None:
    member = await caller(sessions, org.org_id, Role.MEMBER)
    newcomer = await person(sessions, None, None)
    async with sessions.begin() as session:
        with pytest.raises(Forbidden):
            await team.assign_role(member, session, billing, user_id=newcomer, role=Role.ADMIN)
        with pytest.raises(Forbidden):
            await team.remove_member(member, session, user_id=member.user_id or 0)
    assert await _role(sessions, org.org_id, newcomer) is None
    assert await audit_rows(sessions, org.org_id) == []


async def test_the_last_admin_stays(sessions, org, billing) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN, "bot")
    assert admin.user_id is not None
    async with sessions.begin() as session:
        with pytest.raises(Conflict):
            await team.assign_role(admin, session, billing, user_id=admin.user_id, role=Role.MEMBER)
        with pytest.raises(Conflict):
            await team.remove_member(admin, session, user_id=admin.user_id)
        with pytest.raises(NotFound):
            await team.assign_role(
                admin, session, billing, user_id=12345, role=Role.ADMIN, newcomer=False
            )
    assert await _role(sessions, org.org_id, admin.user_id) is Role.ADMIN
    other = await person(sessions, None, None)
    async with sessions.begin() as session:
        await team.assign_role(admin, session, billing, user_id=other, role=Role.ADMIN)
    async with sessions.begin() as session:  # with a second admin, the first may step down
        await team.assign_role(admin, session, billing, user_id=admin.user_id, role=Role.MEMBER)
    async with sessions.begin() as session:
        await team.remove_member(admin, session, user_id=admin.user_id)
    assert await _role(sessions, org.org_id, admin.user_id) is None
    entries = await audit_rows(sessions, org.org_id)
    assert [e.action for e in entries] == ["set_role", "set_role", "remove_member"]
    assert {e.source for e in entries} == {"bot"}


async def test_a_newcomer_only_within_the_plans_team_size(sessions, org, billed) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    member = await person(sessions, org.org_id, Role.MEMBER)  # Free: 2 members, now full
    newcomer = await person(sessions, None, None)
    async with sessions.begin() as session:
        with pytest.raises(PlanLimit) as refused:
            await team.assign_role(admin, session, billed, user_id=newcomer, role=Role.MEMBER)
    assert refused.value.limit == "team_members" and "2 team member(s)" in refused.value.message
    async with sessions.begin() as session:  # a member's new role is always fine
        await team.assign_role(admin, session, billed, user_id=member, role=Role.ADMIN)
    assert await _role(sessions, org.org_id, newcomer) is None
    assert await _role(sessions, org.org_id, member) is Role.ADMIN


async def test_people_and_roles_are_read_from_what_was_typed(sessions) -> None:
    known = await person(sessions, None, None)
    async with sessions() as session:
        assert await team.find_person(session, f"@P{known}") == known
        assert await team.find_person(session, str(known)) == known
        with pytest.raises(Invalid) as unknown:
            await team.find_person(session, "@nobody_knows_me")
    assert "has talked to the bot" in unknown.value.message
    assert team.parse_role(" Admin ") is Role.ADMIN
    with pytest.raises(Invalid):
        team.parse_role("boss")
