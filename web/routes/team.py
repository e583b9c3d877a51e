"""Team: the org's members and roles, adding or removing a member, and the chats linked to it.

Adding a person is refused beyond the plan's team size (`billing.limits.check_new_member`, as
the bot's /role); changing an existing member's role is always allowed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import Billing, LimitExceeded
from billing.limits import check_new_member
from store import orgs
from store.models import Organization, Role, User
from web.auth import Viewer
from web.deps import Admin, Api, Plans, Reader, audit_write, plan_refusal
from web.errors import WebError, not_found
from web.render import page, see_other

router = APIRouter(prefix="/team")


@router.get("")
async def team_page(request: Request, viewer: Reader, deps: Api, billing: Plans) -> object:
    async with deps.sessions() as session:
        members = await orgs.list_members(session, org_id=viewer.org_id)
        chats = await orgs.org_chats(session, org_id=viewer.org_id)
        plan = await billing.plan_for(session, org_id=viewer.org_id)
        return await page(
            request,
            session,
            viewer,
            "team.html",
            members=members,
            chats=chats,
            plan_name=plan.name,
            team_limit=plan.team_members,
            nav="team",
        )


def _user_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 15:
        raise not_found("member")
    return int(raw)


async def _guard_last_admin(session: AsyncSession, org_id: int, member: int) -> None:
    """Refuse a change that would leave the calendar without any admin (404 if no member)."""
    roles = {user.id: role for user, role in await orgs.list_members(session, org_id=org_id)}
    if member not in roles:
        raise not_found("member")
    if roles[member] is Role.ADMIN and [u for u, r in roles.items() if r is Role.ADMIN] == [member]:
        raise WebError(
            409,
            "Cannot change the last admin",
            "This is the calendar's last admin: make someone else admin first.",
        )


@router.post("/remove")
async def remove_member(
    viewer: Admin, deps: Api, user_id: Annotated[str, Form(max_length=20)] = ""
) -> object:
    member = _user_id(user_id)
    async with deps.sessions.begin() as session:
        await _guard_last_admin(session, viewer.org_id, member)
        await orgs.remove_member(session, org_id=viewer.org_id, user_id=member)
        await audit_write(session, viewer, "remove_member", {"user_id": member})
    return see_other("/web/team")


def _role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise WebError(400, "Unknown role", "A role is admin or member.") from None


async def _assign(
    session: AsyncSession,
    billing: Billing,
    viewer: Viewer,
    member: int,
    role: Role,
    *,
    newcomer: bool,
) -> None:
    """Give `member` the role. A newcomer (when allowed at all) only within the plan's team
    size; an existing member's role always changes, unless that leaves no admin."""
    known = await orgs.get_role(session, org_id=viewer.org_id, user_id=member)
    if known is None and not newcomer:
        raise not_found("member")
    if known is not None and role is Role.MEMBER:
        await _guard_last_admin(session, viewer.org_id, member)
    org = await session.get(Organization, viewer.org_id)
    if org is None:
        raise not_found("calendar")
    try:
        await check_new_member(session, billing, org=org, user_id=member)
    except LimitExceeded as exc:
        raise plan_refusal(exc) from None
    await orgs.set_role(session, org_id=viewer.org_id, user_id=member, role=role)
    await audit_write(session, viewer, "set_role", {"user_id": member, "role": role.value})


@router.post("/role")
async def set_role(
    viewer: Admin,
    deps: Api,
    billing: Plans,
    user_id: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
) -> object:
    """A member's new role (admin or member)."""
    member, wanted = _user_id(user_id), _role(role)
    async with deps.sessions.begin() as session:
        await _assign(session, billing, viewer, member, wanted, newcomer=False)
    return see_other("/web/team")


async def _person(session: AsyncSession, who: str) -> int:
    """A Telegram user id, or the id of a @username who has talked to the bot."""
    who = who.strip()
    if who.isdigit() and len(who) <= 15:
        return int(who)
    username = who.removeprefix("@").lower()
    found = await session.scalar(select(User.id).where(func.lower(User.username) == username))
    if not username or found is None:
        raise WebError(
            400,
            "Unknown person",
            f"No one called @{username[:40]} has talked to the bot yet: ask them to send it a "
            "message first, or give their numeric Telegram id.",
        )
    return found


@router.post("/add")
async def add_member(
    viewer: Admin,
    deps: Api,
    billing: Plans,
    who: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=16)] = "member",
) -> object:
    """Add a person to the team (or change their role, when they already are in it)."""
    wanted = _role(role)
    async with deps.sessions.begin() as session:
        member = await _person(session, who)
        await _assign(session, billing, viewer, member, wanted, newcomer=True)
    return see_other("/web/team")
