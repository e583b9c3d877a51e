"""Rate limiting per user and per chat, with one friendly "slow down" per burst.

The counters live in this process's memory: right for the single long-polling process (or the
single webhook process) the bot runs as. Several processes would each allow the full rate;
they would then need a shared store, which the product does not need today.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject


@dataclass(frozen=True)
class ThrottleLimits:
    """At most `per_user` updates from one person and `per_chat` in one chat per window."""

    per_user: int = 12
    per_chat: int = 30
    window_seconds: float = 10.0


class SlidingWindows:
    """Timestamps of recent hits per key; keys with no recent hits are forgotten."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[int, deque[float]] = {}
        self._swept_at = 0.0

    def wait(self, key: int, now: float) -> float:
        """0 when one more hit is allowed now, else the seconds until it is."""
        self._sweep(now)
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits[0] + self.window - now if len(hits) >= self.limit else 0.0

    def record(self, key: int, now: float) -> None:
        self._hits.setdefault(key, deque()).append(now)

    def _sweep(self, now: float) -> None:
        if now - self._swept_at < self.window:
            return
        self._swept_at = now
        stale = [
            key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window
        ]
        for key in stale:
            del self._hits[key]


class ThrottlingMiddleware(BaseMiddleware):
    """Inner middleware: only updates a handler will answer count, so group chatter is free.

    Refused updates do not count, so one person's flood does not use up their group's share.
    Each limit that trips says "slow down" once, then stays quiet until it lifts.
    """

    def __init__(self, limits: ThrottleLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.users = SlidingWindows(limits.per_user, limits.window_seconds)
        self.chats = SlidingWindows(limits.per_chat, limits.window_seconds)
        self.clock = clock
        self._warned_until: dict[tuple[str, int], float] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user, chat = data.get("event_from_user"), data.get("event_chat")
        user_id, chat_id = user.id if user else 0, chat.id if chat else 0
        now = self.clock()
        user_wait, chat_wait = self.users.wait(user_id, now), self.chats.wait(chat_id, now)
        if not (user_wait or chat_wait):
            self.users.record(user_id, now)
            self.chats.record(chat_id, now)
            return await handler(event, data)
        key = ("user", user_id) if user_wait else ("chat", chat_id)
        if self._warned_until.get(key, 0.0) <= now:
            if len(self._warned_until) > 1024:
                self._warned_until = {k: t for k, t in self._warned_until.items() if t > now}
            wait = max(user_wait, chat_wait)
            self._warned_until[key] = now + wait
            await _slow_down(event, wait)
        return None


async def _slow_down(event: TelegramObject, wait: float) -> None:
    text = f"Slow down a little, please: I can answer again in {max(1, round(wait))} s."
    if isinstance(event, CallbackQuery | Message):
        await event.answer(text)
