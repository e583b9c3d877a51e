"""A button press that answers a parked question (Confirm/Cancel, Send/Edit, Unlink).

Each such press consumes its parked action, in the chat and org it was asked in, before
anything else happens: a second press, another chat's button, or an action of another kind
finds nothing and gets the same "expired" alert. When what it confirms then fails to start
(a service is down), `ask_again` puts the action back and says so in the question's message,
so the same Confirm works once the service is back.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.exc import SQLAlchemyError

from bot.context import Ctx
from services.automations.client import TEMPORAL_DOWN, is_outage
from store import pending
from store.models import Organization, PendingAction
from store.orgs import get_role

log = logging.getLogger(__name__)


async def take_pressed(
    query: CallbackQuery,
    ctx: Ctx,
    *,
    action_id: str,
    kinds: Collection[str],
    expired: str,
    adopt_org: bool = False,
) -> tuple[PendingAction, Message] | None:
    """The parked action and the message holding its buttons, or None once the person has
    been told the question expired. With `adopt_org` (a read: the next page of a list), a
    private chat that follows another calendar answers for the one the list was asked of,
    when the person is a member of it (a list sent privately from a group)."""
    parked = await pending.take(ctx.session, action_id=action_id, chat_id=ctx.chat_id)
    await ctx.session.commit()  # taken for good: a second press finds nothing
    message = query.message
    if parked is not None and adopt_org and parked.org_id != ctx.linked_org.id:
        await _adopt_parked_org(ctx, parked.org_id)
    if (
        parked is None
        or parked.kind not in kinds
        or parked.org_id != ctx.linked_org.id
        or not isinstance(message, Message)
    ):
        await query.answer(expired, show_alert=True)
        return None
    ctx.language = parked.language  # answered in the language the question was asked in
    return parked, message


async def _adopt_parked_org(ctx: Ctx, org_id: int) -> None:
    if ctx.in_group:
        return
    role = await get_role(ctx.session, org_id=org_id, user_id=ctx.user_id)
    org = await ctx.session.get(Organization, org_id) if role is not None else None
    if org is not None:
        ctx.org, ctx.role, ctx.events = org, role, None


PAGE_EXPIRED = "This list has expired; please ask again."


async def take_page(
    query: CallbackQuery, ctx: Ctx, *, action_id: str, kind: str
) -> dict[str, Any] | None:
    """A "More" press: the parked request for the next page, with the button taken off the
    page it was on; None once the person was told the list expired."""
    pressed = await take_pressed(
        query, ctx, action_id=action_id, kinds=(kind,), expired=PAGE_EXPIRED, adopt_org=True
    )
    if pressed is None:
        return None
    parked, message = pressed
    await query.answer()
    await message.edit_reply_markup(reply_markup=None)
    return parked.payload


def what_is_down(error: BaseException) -> str:
    """The service `error` says is down, as the start of a sentence."""
    if is_outage(error):
        return TEMPORAL_DOWN
    if isinstance(error, SQLAlchemyError):
        return "My database is not answering right now"
    return "Something went wrong on my side"


async def ask_again(
    ctx: Ctx,
    parked: PendingAction,
    message: Message,
    question: str,
    buttons: InlineKeyboardMarkup | None,
    error: Exception,
) -> None:
    """What the press confirmed failed to start: put the action back and show the question
    again, with its buttons and what is down (the press itself was answered already)."""
    if isinstance(error, TelegramAPIError):
        raise error  # Telegram refused our answer, after the start: not a service down
    action_id = parked.id  # read before the rollback expires it
    log.warning("confirmed %s could not start", parked.kind, exc_info=error)
    await ctx.session.rollback()
    await pending.put_back(ctx.session, action_id=action_id)
    await ctx.session.commit()
    note = f"{what_is_down(error)}, so nothing was changed. Press the button again once it is back."
    await message.edit_text(f"{question}\n\n<i>{note}</i>", reply_markup=buttons)
