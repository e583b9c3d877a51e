"""Team: the org's members and roles, adding or removing a member, and the chats linked to it.

The rules are `services.team`'s, the same as the bot's /role: a newcomer only within the
plan's team size, an existing member's role always changes, never a calendar without an
admin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from services import team
from services.caller import Invalid
from store import orgs
from store.models import Role
from web.caller import caller_of
from web.deps import Admin, Api, Plans, Reader
from web.errors import WebError, not_found, refusal_page
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
    if not raw.isdigit() or len(raw) > team.MAX_USER_ID_DIGITS:
        raise not_found("member")
    return int(raw)


def _role(raw: str) -> Role:
    try:
        return team.parse_role(raw)
    except Invalid as exc:
        raise WebError(400, "Unknown role", refusal_page(exc).message) from None


@router.post("/remove")
async def remove_member(
    viewer: Admin, deps: Api, user_id: Annotated[str, Form(max_length=20)] = ""
) -> object:
    member = _user_id(user_id)
    async with deps.sessions.begin() as session:
        await team.remove_member(caller_of(viewer), session, user_id=member)
    return see_other("/web/team")


@router.post("/role")
async def set_role(
    viewer: Admin,
    deps: Api,
    billing: Plans,
    user_id: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
) -> object:
    """A member's new role (admin or member); only people already on the team."""
    member, wanted = _user_id(user_id), _role(role)
    async with deps.sessions.begin() as session:
        await team.assign_role(
            caller_of(viewer), session, billing, user_id=member, role=wanted, newcomer=False
        )
    return see_other("/web/team")


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
        try:
            member = await team.find_person(session, who)
        except Invalid as exc:
            raise WebError(400, "Unknown person", refusal_page(exc).message) from None
        await team.assign_role(caller_of(viewer), session, billing, user_id=member, role=wanted)
    return see_other("/web/team")
