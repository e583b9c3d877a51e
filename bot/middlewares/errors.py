"""Any failure of an update becomes one friendly sentence; the details go to the (redacted) log.

A `UserError` (bad input) and a use case's `Refusal` (`services.caller`: not allowed, over
the plan, cannot apply now) are expected, and their text is the reply. Failures of Luma,
Temporal or the database get a sentence that says what to do; anything else gets a generic
one. Nothing is half-done: the update's session is rolled back on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Chat, TelegramObject, Update
from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError

from bot.errors import UserError
from bot.texts import clip, plain
from luma.errors import LumaError
from services.automations.client import TEMPORAL_DOWN, is_outage
from services.caller import Refusal

log = logging.getLogger(__name__)

NOTHING_CHANGED = "Nothing was changed; please try again in a minute."
GENERIC = "Something went wrong on my side and nothing was changed. Please try again in a minute."
ALERT_LIMIT = 200


def friendly(error: BaseException) -> str:
    """The sentence (HTML) a person sees for `error`."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, LumaError):
        return error.user_message
    if isinstance(error, Refusal):
        return error.message
    if isinstance(error, RPCError) or is_outage(error):
        return f"{TEMPORAL_DOWN}. {NOTHING_CHANGED}"
    if isinstance(error, SQLAlchemyError):
        return f"My database is not answering right now. {NOTHING_CHANGED}"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "That took too long and nothing was changed; please try again in a minute."
    return GENERIC


class ErrorsMiddleware(BaseMiddleware):
    """The outermost of ours: it sees every exception of every update."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except Exception as error:
            if not isinstance(error, UserError | Refusal):
                update_id = event.update_id if isinstance(event, Update) else None
                log.exception("update %s failed", update_id)
            await _tell(data.get("bot"), event, data.get("event_chat"), friendly(error))
            return None


async def _tell(bot: Bot | None, event: TelegramObject, chat: Chat | None, text: str) -> None:
    """A button press is answered with an alert; when that fails (the press was answered
    already, or too long ago) or for anything else, the chat gets a message."""
    if bot is None:
        return
    query = event.callback_query if isinstance(event, Update) else None
    if isinstance(query, CallbackQuery):
        try:
            await query.answer(clip(plain(text), ALERT_LIMIT), show_alert=True)
            return
        except TelegramAPIError as exc:
            log.info("could not answer a button press with the failure: %s", exc)
    if chat is None:
        return
    try:
        await bot.send_message(chat.id, text)
    except TelegramAPIError as exc:
        log.warning("could not tell chat %s about a failure: %s", chat.id, exc)
