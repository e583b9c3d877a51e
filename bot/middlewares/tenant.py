"""Which org an update sees, and the person's role in it (their membership, nothing else).

A chat only ever sees the org it is linked to. A person in a DM works with their active org
(`users.active_org_id`, set by /use or by linking in the DM) while they are a member of it,
else with the org the DM was linked to while they are a member of that one: someone removed
from an org no longer reaches it from their DM. In a group the org is the group's; the
person's role there is their membership (None for people outside the org). Handlers flagged
`linked` get a clear sentence instead of running when there is no org.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NamedTuple

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.types import Chat as TgChat
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.context import Ctx
from bot.errors import UserError
from core.logs import log_context
from intel.vip import VipRules
from intel.vip_rules import effective_rules
from store.models import Chat, Membership, Organization, OrgVipRules, RemovedMember, Role, User
from store.orgs import upsert_user, user_orgs

NOT_LINKED = (
    "This chat is not linked to a Luma calendar yet: an admin can link it with "
    "/link &lt;your Luma API key&gt;."
)
CHOOSE_ORG = "You work with more than one calendar: choose one with /use first."


NO_LONGER_MEMBER = (
    "You are no longer a member of the calendar this chat was linked to, so I cannot show "
    "or change anything of it here. Ask one of its admins to add you again, or link your own "
    "calendar with /link &lt;your Luma API key&gt;."
)


class Tenancy(NamedTuple):
    """Everything the tenant rules need about one person in one chat."""

    user: User | None
    chat: Chat | None
    chat_org: Organization | None  # the org the chat is linked to
    chat_role: Role | None  # the person's membership in it
    active_org: Organization | None  # the person's /use choice, while still a member (DMs)
    active_role: Role | None
    removed_at: datetime | None  # when the chat's org took the person out, if it did
    # The VIP rules each org saved (`intel.vip_rules`), read with them: most answers score
    # people, and this saves them a query. None: none saved, or (`rules_read` False) not read.
    chat_rules: dict[str, Any] | None = None
    active_rules: dict[str, Any] | None = None
    rules_read: bool = False


_ACTIVE_ORG = aliased(Organization, name="active_org")
_CHAT_MEMBERSHIP = aliased(Membership, name="chat_membership")
_CHAT_RULES = aliased(OrgVipRules, name="chat_rules")
_ACTIVE_RULES = aliased(OrgVipRules, name="active_rules")


def _tenancy_statement(private: bool) -> Select[Any]:
    """The person, the chat, its org, the membership and the org's VIP rules; in a private
    chat also the person's active org (a group always works in its own org, so there it is
    not read: a second organization's columns are most of the row)."""
    columns: list[Any] = [
        User,
        Chat,
        Organization,
        _CHAT_MEMBERSHIP.role,
        RemovedMember.removed_at,
        _CHAT_RULES.rules,
    ]
    if private:
        columns += [_ACTIVE_ORG, Membership.role, _ACTIVE_RULES.rules]
    statement = (
        select(*columns)
        .select_from(User)
        .outerjoin(Chat, Chat.id == bindparam("chat_id"))
        .outerjoin(Organization, Organization.id == Chat.org_id)
        .outerjoin(
            _CHAT_MEMBERSHIP,
            (_CHAT_MEMBERSHIP.user_id == User.id) & (_CHAT_MEMBERSHIP.org_id == Chat.org_id),
        )
        .outerjoin(
            RemovedMember,
            (RemovedMember.user_id == User.id) & (RemovedMember.org_id == Chat.org_id),
        )
        .outerjoin(_CHAT_RULES, _CHAT_RULES.org_id == Chat.org_id)
    )
    if private:
        statement = (
            statement.outerjoin(
                Membership,
                (Membership.user_id == User.id) & (Membership.org_id == User.active_org_id),
            )
            .outerjoin(_ACTIVE_ORG, _ACTIVE_ORG.id == Membership.org_id)
            .outerjoin(_ACTIVE_RULES, _ACTIVE_RULES.org_id == _ACTIVE_ORG.id)
        )
    return statement.where(User.id == bindparam("user_id"))


# Built once: constructing a statement with an alias costs more than running it.
_TENANCY_GROUP = _tenancy_statement(private=False)
_TENANCY_PRIVATE = _tenancy_statement(private=True)


async def load_tenancy(
    session: AsyncSession, user_id: int, chat_id: int, *, private: bool = True
) -> Tenancy:
    """One round trip per update: the person, the chat, the candidate orgs (both in a private
    chat, the chat's in a group), the roles and the orgs' VIP rules."""
    statement = _TENANCY_PRIVATE if private else _TENANCY_GROUP
    row = (await session.execute(statement, {"user_id": user_id, "chat_id": chat_id})).first()
    if row is not None:
        user, chat, chat_org, chat_role, removed_at, chat_rules, *active = row
        active_org, active_role, active_rules = active or (None, None, None)
        return Tenancy(
            user,
            chat,
            chat_org,
            chat_role,
            active_org,
            active_role,
            removed_at,
            chat_rules,
            active_rules,
            rules_read=True,
        )
    # The person's first message: no user row yet, so nothing joins; ask for the chat alone.
    chat = await session.get(Chat, chat_id)
    org = await session.get(Organization, chat.org_id) if chat and chat.org_id else None
    return Tenancy(None, chat, org, None, None, None, None)


def seen_org(found: Tenancy, private: bool) -> tuple[Organization | None, Role | None]:
    """The org an update works in and the person's role there (see the module's rules)."""
    if not private:
        return found.chat_org, found.chat_role
    if found.active_org is not None:
        return found.active_org, found.active_role
    if found.chat_role is not None:
        return found.chat_org, found.chat_role
    return None, None


def seen_rules(found: Tenancy, org: Organization | None, defaults: VipRules) -> VipRules | None:
    """The VIP rules of `org` (the one `seen_org` chose), when they were read with it."""
    if org is None or not found.rules_read:
        return None  # `Ctx.vip_rules` reads them if asked
    saved = found.active_rules if org is found.active_org else found.chat_rules
    return effective_rules(defaults, saved)


class TenantMiddleware(BaseMiddleware):
    """Builds the update's `Ctx` (inner middleware: only for updates a handler takes)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        tg_chat: TgChat | None = data.get("event_chat")
        if tg_user is None or tg_chat is None:
            return None  # channel posts and the like: nothing for us to answer
        session: AsyncSession = data["session"]
        private = tg_chat.type == "private"
        found = await load_tenancy(session, tg_user.id, tg_chat.id, private=private)
        await _remember_user(session, found.user, tg_user)
        org, role = seen_org(found, private)
        chat = found.chat
        deps = data["deps"]
        ctx = Ctx(
            bot=data["bot"],
            deps=deps,
            session=session,
            chat_id=tg_chat.id,
            chat_kind=tg_chat.type,
            chat_title=tg_chat.title or tg_chat.full_name or "",
            user_id=tg_user.id,
            org=org,
            role=role,
            timezone=chat.timezone if chat is not None else "UTC",
            personal_data=chat is not None and chat.personal_data,
            public=bool(tg_chat.username) and tg_chat.type != "private",
            removed=found.removed_at is not None and org is found.chat_org,
            org_vip_rules=seen_rules(found, org, deps.vip_rules),
        )
        data["ctx"] = ctx
        # Every line logged while handling this update names its org and chat.
        with log_context(org=org.id if org is not None else None, chat=tg_chat.id):
            if get_flag(data, "linked") and org is None:
                raise UserError(await _why_no_org(session, ctx, found))
            return await handler(event, data)


async def _remember_user(session: AsyncSession, user: User | None, tg_user: TgUser) -> None:
    """Write the user's row only when it is new or their names changed (for /role @name)."""
    if user is not None and (user.username, user.full_name) == (
        tg_user.username,
        tg_user.full_name,
    ):
        return
    try:
        async with session.begin_nested():
            await upsert_user(
                session, user_id=tg_user.id, username=tg_user.username, full_name=tg_user.full_name
            )
    except IntegrityError:
        pass  # two first messages of a new person at once: the other update wrote the row


async def _why_no_org(session: AsyncSession, ctx: Ctx, found: Tenancy) -> str:
    if ctx.in_group:
        return NOT_LINKED
    if await user_orgs(session, user_id=ctx.user_id):
        return CHOOSE_ORG
    if found.chat_org is not None:
        return NO_LONGER_MEMBER
    return NOT_LINKED
