"""The bot's side of `services.caller`: who a handled update acts as in the application layer."""

from __future__ import annotations

from bot.context import Ctx
from services.caller import Caller
from store.models import Role


async def caller_of(ctx: Ctx) -> Caller:
    """The person in this chat, in the org it sees; admin as `Access` decides (their role,
    having linked the chat, or being an administrator of the group)."""
    role = Role.ADMIN if await ctx.access.is_admin() else Role.MEMBER
    return Caller(ctx.linked_org.id, role, "bot", ctx.user_id, ctx.chat_id)
