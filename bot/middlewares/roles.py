"""Who may do what: an org membership is the one source of authority.

Admin members change the org (roles, tokens, keys, settings, follow-ups); any member reads.
A group's Telegram administrators may approve and decline guests in that group (the
`guest_writer` flag), nothing more. Nobody gains rights by having linked a chat: a removal or
a demotion takes effect on the next update. Handlers declare `admin` or `guest_writer` and
this middleware checks it before they run; code reached another way (plain language,
buttons) asks `ctx.access` itself. Telegram is asked (getChatMember) only when a group
administrator's right is the question.
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
from services.caller import ADMIN_ONLY, GUEST_WRITERS_ONLY
from services.group_privacy import NOT_SHOWN
from store.models import Role

if TYPE_CHECKING:
    from bot.context import Ctx

log = logging.getLogger(__name__)

CHAT_ADMIN_STATUSES = frozenset({"creator", "administrator"})


class Access:
    """Permission answers for one update, each computed at most once."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self._chat_admin: bool | None = None

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

    @property
    def is_member(self) -> bool:
        return self.ctx.org is not None and self.ctx.role is not None

    async def is_admin(self) -> bool:
        """An admin member of the org this chat sees; nothing else makes one."""
        return self.ctx.org is not None and self.ctx.role is Role.ADMIN

    async def is_group_approver(self) -> bool:
        """A Telegram administrator of this group, which is linked to an org, unless the org
        removed them."""
        ctx = self.ctx
        return (
            ctx.org is not None and ctx.in_group and not ctx.removed and await self.is_chat_admin()
        )

    async def may_change_guests(self) -> bool:
        return await self.is_admin() or await self.is_group_approver()

    @property
    def may_see_personal_data(self) -> bool:
        """Org members everywhere; in a group, everyone else only when an admin said so."""
        ctx = self.ctx
        return not ctx.in_group or self.is_member or ctx.personal_data

    def require_personal_data(self) -> None:
        """Refuse a group's non-member; send a member's answer in a public group (that shows
        counts only) to their private chat."""
        if not self.may_see_personal_data:
            raise UserError(NOT_SHOWN)
        ctx = self.ctx
        if ctx.in_group and ctx.public and not ctx.personal_data:
            ctx.answer_chat_id = ctx.user_id

    async def require_admin(self) -> None:
        if not await self.is_admin():
            raise UserError(ADMIN_ONLY)

    async def require_guest_writer(self) -> None:
        if not await self.may_change_guests():
            raise UserError(GUEST_WRITERS_ONLY)


class RolesMiddleware(BaseMiddleware):
    """Refuses handlers flagged `admin` to non-admins, and `guest_writer` to those who may
    not approve or decline here."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if get_flag(data, "admin"):
            await data["ctx"].access.require_admin()
        elif get_flag(data, "guest_writer"):
            await data["ctx"].access.require_guest_writer()
        return await handler(event, data)
