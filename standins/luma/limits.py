"""Luma's per-calendar rate limit: a sliding window, and a block after an overrun.

Luma documents 200 requests a minute per calendar key (500 for organization keys), GET and
POST sharing one budget, and a one-minute block once the limit is exceeded. The window and
block lengths are parameters so tests can run the same behaviour in a second or two.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Counts every request of each calendar; monotonic time, epoch seconds in headers."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def reset(self) -> None:
        self._hits.clear()
        self._blocked_until.clear()

    def check(self, key: str, limit: int, window: float, block: float) -> RateDecision:
        now = time.monotonic()
        blocked_until = self._blocked_until.get(key, 0.0)
        if now < blocked_until:
            return self._refusal(limit, now, blocked_until)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            # The window is emptied with the block, so the caller recovers when the block ends
            # even if the block is shorter than the window.
            hits.clear()
            self._blocked_until[key] = now + block
            return self._refusal(limit, now, now + block)
        hits.append(now)
        return RateDecision(
            allowed=True,
            headers={
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(limit - len(hits)),
                "X-RateLimit-Reset": str(_epoch(hits[0] + window, now)),
            },
        )

    @staticmethod
    def _refusal(limit: int, now: float, until: float) -> RateDecision:
        return RateDecision(
            allowed=False,
            headers={
                "Retry-After": str(max(1, math.ceil(until - now))),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(_epoch(until, now)),
            },
        )


def _epoch(monotonic_at: float, monotonic_now: float) -> int:
    return math.ceil(time.time() + (monotonic_at - monotonic_now))
