"""The bot's side of `services.caller`: who a handled update acts as in the application layer."""

from __future__ import annotations

from bot.context import Ctx
from services.caller import Caller
from store.models import Role


async def caller_of(ctx: Ctx) -> Caller:
    """The person in this chat, in the org it sees, with their membership role; in a group
    its Telegram administrators are also trusted with that group's guest decisions."""
    role = Role.ADMIN if await ctx.access.is_admin() else Role.MEMBER
    approver = role is not Role.ADMIN and await ctx.access.is_group_approver()
    return Caller(ctx.linked_org.id, role, "bot", ctx.user_id, ctx.chat_id, approver)
