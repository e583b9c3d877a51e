"""Rate limiting per user and per chat, with one friendly "slow down" per burst.

The counts live in the database (`store.request_limits`), so every bot process (long polling,
or the control API's webhook, or several of them) together allows the configured rate. The
"slow down" is said on a key's first refusal since its last counted update, also counted in
the database, so one burst spread over several processes is told once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from store.request_limits import Quota, RequestLimits, retry_after


@dataclass(frozen=True)
class ThrottleLimits:
    """At most `per_user` updates from one person and `per_chat` in one chat per window."""

    per_user: int = 12
    per_chat: int = 30
    window_seconds: float = 10.0


class ThrottlingMiddleware(BaseMiddleware):
    """Inner middleware: only updates a handler will answer count, so group chatter is free.

    Refused updates do not count, so one person's flood does not use up their group's share.
    Each limit that trips says "slow down" once, then stays quiet until it lifts. The person
    and the chat are counted in one statement; if the database is down, updates pass (see
    `store.request_limits`) and meet the outage in the handler.
    """

    def __init__(self, limiter: RequestLimits, limits: ThrottleLimits) -> None:
        self.limiter = limiter
        self.users = Quota("bot-user", limits.per_user, limits.window_seconds)
        self.chats = Quota("bot-chat", limits.per_chat, limits.window_seconds)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user, chat = data.get("event_from_user"), data.get("event_chat")
        user_id, chat_id = user.id if user else 0, chat.id if chat else 0
        over = await self.limiter.hit((self.users, str(user_id)), (self.chats, str(chat_id)))
        if not over:
            return await handler(event, data)
        if any(refusal.first for refusal in over):
            await _slow_down(event, retry_after(over))
        return None


async def _slow_down(event: TelegramObject, seconds: int) -> None:
    text = f"Slow down a little, please: I can answer again in {seconds} s."
    if isinstance(event, CallbackQuery | Message):
        await event.answer(text)
