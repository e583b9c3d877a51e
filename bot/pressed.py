"""A button press that answers a parked question (Confirm/Cancel, Send/Edit, Unlink).

Each such press consumes its parked action for good, in the chat and org it was asked in,
before anything else happens: a second press, another chat's button, or an action of
another kind finds nothing and gets the same "expired" alert.
"""

from __future__ import annotations

from collections.abc import Collection

from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from store import pending
from store.models import PendingAction


async def take_pressed(
    query: CallbackQuery, ctx: Ctx, *, action_id: str, kinds: Collection[str], expired: str
) -> tuple[PendingAction, Message] | None:
    """The parked action and the message holding its buttons, or None once the person has
    been told the question expired."""
    parked = await pending.take(ctx.session, action_id=action_id, chat_id=ctx.chat_id)
    await ctx.session.commit()  # taken for good: a second press finds nothing
    message = query.message
    if (
        parked is None
        or parked.kind not in kinds
        or parked.org_id != ctx.linked_org.id
        or not isinstance(message, Message)
    ):
        await query.answer(expired, show_alert=True)
        return None
    return parked, message
