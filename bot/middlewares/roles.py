"""Who may write: org admins, whoever linked the chat, and a group's Telegram administrators.

Members may read; write actions (approve, decline, bulk, link, unlink, roles, tokens, digest
settings) need the admin role. Handlers declare it with the `admin` flag and this middleware
checks it before they run; code reached another way (plain language, buttons) asks
`ctx.access` itself. Telegram is asked (getChatMember) only when the database has no answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject

from bot.errors import UserError
from services.caller import ADMIN_ONLY
from store.models import Role
from store.orgs import get_role

if TYPE_CHECKING:
    from bot.context import Ctx

log = logging.getLogger(__name__)

CHAT_ADMIN_STATUSES = frozenset({"creator", "administrator"})


class Access:
    """Permission answers for one update, each computed at most once."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self._chat_admin: bool | None = None
        self._admin: bool | None = None

    async def is_chat_admin(self) -> bool:
        """A group's creator or administrator; in a DM the person is alone, so always."""
        ctx = self.ctx
        if not ctx.in_group:
            return True
        if self._chat_admin is None:
            try:
                member = await ctx.bot.get_chat_member(ctx.chat_id, ctx.user_id)
            except TelegramAPIError as exc:
                log.warning("getChatMember failed in chat %s: %s", ctx.chat_id, exc)
                self._chat_admin = False
            else:
                self._chat_admin = member.status in CHAT_ADMIN_STATUSES
        return self._chat_admin

    async def is_admin(self) -> bool:
        """Admin of the org this chat sees: by role, by having linked it, or as group admin."""
        ctx = self.ctx
        if ctx.org is None:
            return False
        if self._admin is None:
            role = await get_role(ctx.session, org_id=ctx.org.id, user_id=ctx.user_id)
            self._admin = (
                role is Role.ADMIN
                or ctx.linked_by == ctx.user_id
                or (ctx.in_group and await self.is_chat_admin())
            )
        return self._admin

    async def require_admin(self) -> None:
        if not await self.is_admin():
            raise UserError(ADMIN_ONLY)


class RolesMiddleware(BaseMiddleware):
    """Refuses handlers flagged `admin` to anyone who is not an admin here."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if get_flag(data, "admin"):
            await data["ctx"].access.require_admin()
        return await handler(event, data)
