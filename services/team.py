"""The team of a calendar: who is in it, in which role, and the rules for changing that.

The bot's `/role` and the portal's team page come here, so both keep the same rules: admins
only, a newcomer only within the plan's team size (an existing member's role always
changes), and never a calendar without an admin.
"""

from __future__ import annotations

from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import Billing, LimitExceeded
from billing.limits import check_new_member
from services import audit
from services.caller import Caller, Conflict, Invalid, NotFound, PlanLimit
from store import orgs
from store.models import Organization, Role, User

MAX_USER_ID_DIGITS = 15  # Telegram user ids fit in 52 bits
LAST_ADMIN = "This is the calendar's last admin: make someone else admin first."


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise Invalid(
            f"The role must be admin or member, not “{escape(raw.strip()[:20])}”."
        ) from None


async def find_person(session: AsyncSession, who: str) -> int:
    """A Telegram user id, or the id of a @username who has talked to the bot (only those
    are known: Telegram does not let a bot look people up)."""
    who = who.strip()
    if who.isdigit() and len(who) <= MAX_USER_ID_DIGITS:
        return int(who)
    username = who.removeprefix("@").lower()
    found = None
    if username:
        found = await session.scalar(select(User.id).where(func.lower(User.username) == username))
    if found is None:
        raise Invalid(
            f"I do not know @{escape(username[:40])} yet: nobody by that name has talked to "
            "the bot. Ask them to send it a message first (or give their numeric Telegram id), "
            "then try again."
        )
    return int(found)


async def _guard_last_admin(caller: Caller, session: AsyncSession, member: int) -> None:
    """Refuse a change that would leave the calendar without any admin."""
    roles = {user.id: role for user, role in await orgs.list_members(session, org_id=caller.org_id)}
    if member not in roles:
        raise NotFound("There is no such member in this calendar.")
    admins = [user for user, role in roles.items() if role is Role.ADMIN]
    if roles[member] is Role.ADMIN and admins == [member]:
        raise Conflict(LAST_ADMIN)


async def assign_role(
    caller: Caller,
    session: AsyncSession,
    billing: Billing,
    *,
    user_id: int,
    role: Role,
    newcomer: bool = True,
) -> Role:
    """Give `user_id` the role: a newcomer (when `newcomer` allows adding at all) only within
    the plan's team size; an existing member's role always changes, unless that leaves no
    admin."""
    caller.require_admin()
    known = await orgs.get_role(session, org_id=caller.org_id, user_id=user_id)
    if known is None and not newcomer:
        raise NotFound("There is no such member in this calendar.")
    if known is not None and role is Role.MEMBER:
        await _guard_last_admin(caller, session, user_id)
    org = await session.get(Organization, caller.org_id)
    if org is None:
        raise NotFound("There is no such calendar.")
    try:
        await check_new_member(session, billing, org=org, user_id=user_id)
    except LimitExceeded as exc:
        raise PlanLimit(str(exc), limit=exc.limit) from None
    await orgs.set_role(session, org_id=caller.org_id, user_id=user_id, role=role)
    await audit.record(caller, session, "set_role", {"user_id": user_id, "role": role.value})
    return role


async def remove_member(caller: Caller, session: AsyncSession, *, user_id: int) -> None:
    """Take a person out of the team (never the last admin)."""
    caller.require_admin()
    await _guard_last_admin(caller, session, user_id)
    await orgs.remove_member(session, org_id=caller.org_id, user_id=user_id)
    await audit.record(caller, session, "remove_member", {"user_id": user_id})
