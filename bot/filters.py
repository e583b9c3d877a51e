"""Message filters as async `Filter` classes.

aiogram runs a synchronous filter (such as a magic `F.text...` filter) in a worker thread,
one hop per check; every plain-text message would pay that on its way to the last router.
These do the same checks in the event loop.
"""

from __future__ import annotations

import re
from typing import Any

from aiogram import Bot
from aiogram.filters import Filter
from aiogram.types import Message


class Text(Filter):
    """Text messages: commands (a leading "/") or plain text, as asked."""

    def __init__(self, *, command: bool) -> None:
        self.command = command

    async def __call__(self, message: Message) -> bool:
        return message.text is not None and message.text.startswith("/") == self.command


class Addressed(Filter):
    """Text meant for the bot: anything in a DM; in a group, a mention of it or a reply to it.

    Passes the text on as `text`, without the @mention.
    """

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, Any]:
        text = message.text or ""
        if message.chat.type == "private":
            return {"text": text}
        me = await bot.me()
        if me.username:
            mention = re.compile(rf"@{re.escape(me.username)}\b", re.IGNORECASE)
            if mention.search(text):
                return {"text": mention.sub(" ", text)}
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
            return {"text": text}
        return False
