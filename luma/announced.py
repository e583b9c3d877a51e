"""What Luma announces about a key's budget on each answer, and the limits a process heard.

Luma documents 200 requests a minute per calendar key and 500 per organization key, but says
the figures are "subject to change" and other integrations report others: the answers carry
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`, and those, not a
constant, say what a key may spend. The budget follows the announced limit up to the
configured ceiling (`LUMA_RATE_LIMIT`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

LIMIT_HEADER = "x-ratelimit-limit"
REMAINING_HEADER = "x-ratelimit-remaining"
RESET_HEADER = "x-ratelimit-reset"
_EPOCH_SECONDS = 1e9  # a reset this large is a moment (epoch seconds), not a delay
_EPOCH_MILLISECONDS = 1e12
_REMEMBERED_KEYS = 10_000  # budget keys are few (one per calendar); this only bounds memory


@dataclass(frozen=True, slots=True)
class Announcement:
    """The rate headers of one answer; a field is None when absent or unreadable."""

    limit: int | None
    remaining: int | None
    reset_in: float | None  # seconds from now until Luma's window resets

    @property
    def exhausted_for(self) -> float | None:
        """Seconds until a request could be admitted again when Luma says none is left
        (None while some are): sending sooner would only earn a 429 and a minute's block."""
        if self.remaining != 0 or self.reset_in is None:
            return None
        return self.reset_in


def read_announcement(headers: Mapping[str, str], now: float | None = None) -> Announcement | None:
    """The announcement in an answer's headers, or None when it carries no rate headers
    (the simulator with its limit lifted, a proxy's error page)."""
    limit = _count(headers.get(LIMIT_HEADER))
    remaining = _count(headers.get(REMAINING_HEADER))
    reset_in = _reset_in(headers.get(RESET_HEADER), time.time() if now is None else now)
    if limit is None and remaining is None:
        return None
    return Announcement(limit=limit if limit else None, remaining=remaining, reset_in=reset_in)


class AnnouncedLimits:
    """The limit Luma last announced for each budget key, as heard by this process.

    Kept per process on purpose: every process reads the headers of its own answers, so it
    learns a key's limit with its first request and needs no shared storage (nor a
    migration) for it. Until then it spends up to the ceiling; the shared log still keeps
    all processes together, and a `Remaining: 0` answer holds them all (see the client).
    """

    def __init__(self) -> None:
        self._limits: dict[str, int] = {}

    def record(self, budget_key: str, limit: int) -> None:
        if limit < 1:
            return
        self._limits.pop(budget_key, None)  # newest last, so the oldest is forgotten first
        self._limits[budget_key] = limit
        if len(self._limits) > _REMEMBERED_KEYS:
            del self._limits[next(iter(self._limits))]

    def announced(self, budget_key: str) -> int | None:
        return self._limits.get(budget_key)

    def allowance(self, budget_key: str, ceiling: int) -> int:
        """Requests per window for `budget_key`: what Luma announced, never above `ceiling`."""
        announced = self._limits.get(budget_key)
        return ceiling if announced is None else min(announced, ceiling)


def _count(raw: str | None) -> int | None:
    """A non-negative count; also reads the first figure of "200, 200;w=60" forms."""
    if raw is None:
        return None
    head = raw.split(",", 1)[0].split(";", 1)[0].strip()
    try:
        value = int(float(head))
    except (ValueError, OverflowError):
        return None
    return value if value >= 0 else None


def _reset_in(raw: str | None, now: float) -> float | None:
    """Seconds until the reset, whether Luma sends a delay, an epoch time (seconds or
    milliseconds) or a date; never negative (a reset already past means now)."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        moment = _date(text)
        return None if moment is None else max(0.0, moment - now)
    if not math.isfinite(value):
        return None
    if value >= _EPOCH_MILLISECONDS:
        value = value / 1000 - now
    elif value >= _EPOCH_SECONDS:
        value -= now
    return max(0.0, value)


def _date(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return moment.timestamp() if moment.tzinfo is not None else None
