"""Sending to Telegram within its limits, so a fan-out of digests and reports is never refused.

Telegram allows a bot about 30 messages a second overall, 1 a second to one chat and 20 a
minute to one group; past that it answers 429 with a flood wait. Digests due at the same
minute, summaries and job reports all leave through this pace: one at a time, each waiting
for its turn (per process; a second worker process shares Telegram's budget, which
`TelegramRetryAfter` then covers by waiting what Telegram says). One at a time costs little:
a send takes a round trip, so a process sends at most about 1/RTT a second anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# A little under Telegram's figures: a send is paced when it leaves, Telegram counts it when it
# arrives, and the network's jitter between the two must not push a burst over.
PER_BOT = (25, 1.0)
PER_CHAT = (1, 1.1)
PER_GROUP = (19, 60.0)


@dataclass
class TelegramPace:
    """Sliding windows like Telegram's; `async with pace.turn(chat_id):` around each send."""

    per_bot: tuple[int, float] = PER_BOT
    per_chat: tuple[int, float] = PER_CHAT
    per_group: tuple[int, float] = PER_GROUP
    clock: Callable[[], float] = time.monotonic
    _sent: dict[str, deque[float]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the turn while one send to `chat_id` is made. Sends leave one at a time and
        are counted when they complete, so however long each takes to reach Telegram (a busy
        machine, a slow network), no window sees more arrivals than allowed."""
        windows = [("bot", self.per_bot), (f"chat:{chat_id}", self.per_chat)]
        if chat_id < 0:
            windows.append((f"group:{chat_id}", self.per_group))
        async with self._lock:
            # One wait is enough: nothing is counted while the turn is held, entries only age.
            delay = self._delay(windows)
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                yield
            finally:
                done = self.clock()
                for key, _ in windows:
                    self._sent.setdefault(key, deque()).append(done)

    def _delay(self, windows: list[tuple[str, tuple[int, float]]]) -> float:
        now, delay = self.clock(), 0.0
        for key, (limit, seconds) in windows:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - seconds:
                sent.popleft()
            if len(sent) >= limit:
                # A little past the window's edge: the stand-in and Telegram count it closed.
                delay = max(delay, sent[0] + seconds - now + 0.01)
        return delay
