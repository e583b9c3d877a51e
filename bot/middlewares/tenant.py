"""Which org an update sees: a group's linked org, or in a DM the org chosen with /use.

A chat only ever sees the org it is linked to. A person in a DM works with their active org
(`users.active_org_id`, set by /use or by linking in the DM) while they are still a member
of it, else with the org the DM itself was linked to. Handlers flagged `linked` get a clear
sentence instead of running when there is no org.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.types import Chat as TgChat
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Ctx
from bot.errors import UserError
from store.models import Chat, Organization, User
from store.orgs import get_role, upsert_user, user_orgs

NOT_LINKED = (
    "This chat is not linked to a Luma calendar yet: an admin can link it with "
    "/link &lt;your Luma API key&gt;."
)
CHOOSE_ORG = "You work with more than one calendar: choose one with /use first."


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
        user = await _known_user(session, tg_user)
        chat = await session.get(Chat, tg_chat.id)
        org = await _visible_org(session, tg_chat, chat, user)
        ctx = Ctx(
            bot=data["bot"],
            deps=data["deps"],
            session=session,
            chat_id=tg_chat.id,
            chat_kind=tg_chat.type,
            chat_title=tg_chat.title or tg_chat.full_name or "",
            user_id=tg_user.id,
            username=tg_user.username,
            org=org,
            linked_by=_linker(chat, org),
            timezone=chat.timezone if chat is not None else "UTC",
        )
        data["ctx"] = ctx
        if get_flag(data, "linked") and org is None:
            raise UserError(await _why_no_org(session, ctx))
        return await handler(event, data)


async def _known_user(session: AsyncSession, tg_user: TgUser) -> User:
    """The user's row, written only when it is new or their names changed."""
    user = await session.get(User, tg_user.id)
    if user is not None and (user.username, user.full_name) == (
        tg_user.username,
        tg_user.full_name,
    ):
        return user
    try:
        async with session.begin_nested():
            return await upsert_user(
                session, user_id=tg_user.id, username=tg_user.username, full_name=tg_user.full_name
            )
    except IntegrityError:
        # Two first messages of a new person at once: the other update created the row.
        found = await session.get(User, tg_user.id, populate_existing=True)
        assert found is not None
        return found


async def _visible_org(
    session: AsyncSession, tg_chat: TgChat, chat: Chat | None, user: User
) -> Organization | None:
    if tg_chat.type == "private" and user.active_org_id is not None:
        role = await get_role(session, org_id=user.active_org_id, user_id=user.id)
        if role is not None:
            return await session.get(Organization, user.active_org_id)
    if chat is None or chat.org_id is None:
        return None
    return await session.get(Organization, chat.org_id)


def _linker(chat: Chat | None, org: Organization | None) -> int | None:
    """Who linked this chat to the org it sees (in a DM, the active org may be another)."""
    if chat is None or org is None or chat.org_id != org.id:
        return None
    return chat.linked_by_user_id


async def _why_no_org(session: AsyncSession, ctx: Ctx) -> str:
    if not ctx.in_group and await user_orgs(session, user_id=ctx.user_id):
        return CHOOSE_ORG
    return NOT_LINKED
