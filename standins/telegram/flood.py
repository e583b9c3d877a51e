"""Telegram's sending limits, enforced when a test asks for them.

Telegram answers 429 "Too Many Requests: retry after N" (with `parameters.retry_after`) to a
bot that sends faster than about 30 messages a second overall, 1 a second to one chat, or 20 a
minute to one group. Off by default: most tests have the bot answer a person in quick
succession, which a real chat allows in short bursts.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from standins.telegram.errors import ApiError

SENDING_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto"})


@dataclass
class FloodLimits:
    """Sliding windows per bot, per chat and per group; `refused` counts the 429s given."""

    per_bot: tuple[int, float] = (30, 1.0)
    per_chat: tuple[int, float] = (1, 1.0)
    per_group: tuple[int, float] = (20, 60.0)
    clock: Callable[[], float] = time.monotonic
    refused: int = 0
    _sent: dict[str, deque[float]] = field(default_factory=dict)

    def check(self, bot_id: int, chat_id: int) -> None:
        """Admit one send, or raise the 429 Telegram would answer."""
        now = self.clock()
        windows = [(f"bot:{bot_id}", self.per_bot), (f"chat:{bot_id}:{chat_id}", self.per_chat)]
        if chat_id < 0:
            windows.append((f"group:{bot_id}:{chat_id}", self.per_group))
        wait = 0.0
        for key, (limit, seconds) in windows:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - seconds:
                sent.popleft()
            if len(sent) >= limit:
                wait = max(wait, sent[0] + seconds - now)
        if wait > 0:
            self.refused += 1
            raise ApiError(429, f"retry after {math.ceil(wait)}", retry_after=math.ceil(wait))
        for key, _ in windows:
            self._sent[key].append(now)
