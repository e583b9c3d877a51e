"""Team: the org's members and roles, removing a member, and the chats linked to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession

from store import orgs
from store.models import Role
from web.deps import Admin, Api, Reader, audit_write
from web.errors import WebError, not_found
from web.render import page, see_other

router = APIRouter(prefix="/team")


@router.get("")
async def team_page(request: Request, viewer: Reader, deps: Api) -> object:
    async with deps.sessions() as session:
        members = await orgs.list_members(session, org_id=viewer.org_id)
        chats = await orgs.org_chats(session, org_id=viewer.org_id)
        return await page(
            request, session, viewer, "team.html", members=members, chats=chats, nav="team"
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


@router.post("/role")
async def set_role(
    viewer: Admin,
    deps: Api,
    user_id: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
) -> object:
    member = _user_id(user_id)
    try:
        wanted = Role(role)
    except ValueError:
        raise WebError(400, "Unknown role", "A role is admin or member.") from None
    async with deps.sessions.begin() as session:
        if wanted is Role.MEMBER:
            await _guard_last_admin(session, viewer.org_id, member)
        elif await orgs.get_role(session, org_id=viewer.org_id, user_id=member) is None:
            raise not_found("member")
        await orgs.set_role(session, org_id=viewer.org_id, user_id=member, role=wanted)
        await audit_write(session, viewer, "set_role", {"user_id": member, "role": wanted.value})
    return see_other("/web/team")
