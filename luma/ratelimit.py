"""The contract of the request budget every Luma call goes through.

Luma counts requests per calendar (200 a minute for a calendar key, 500 for an organization
key), whoever sends them, and blocks the calendar for a minute after a 429. The sync worker,
bulk jobs and the bot's reads run in different processes, so the budget must be shared
through storage (see `store.rate_budget.DatabaseRateBudget`); a per-process limiter would let
each process spend the whole budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

CALENDAR_KEY_LIMIT = 200
ORGANIZATION_KEY_LIMIT = 500


class RateBudget(Protocol):
    """Admission control shared by every process that calls Luma for one calendar."""

    async def acquire(self, budget_key: str, *, interactive: bool) -> None:
        """Wait until one request for `budget_key` may be sent, and count it."""

    async def penalize(self, budget_key: str, retry_after: float) -> None:
        """Record a 429 so that every process waits `retry_after` seconds."""


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """How much of Luma's limit we use, and for whom.

    `margin` widens the counted window so that clock skew between processes and the time a
    request spends in flight never let a send fall out of our window before Luma's. Bulk
    callers leave `interactive_reserve` of the limit to people waiting on the bot, so a
    10,000-guest sync never makes a lookup wait a minute; interactive callers may use the
    limit minus `safety` requests, kept free for calls that bypass the budget (key checks).
    """

    limit: int = CALENDAR_KEY_LIMIT
    window: float = 60.0
    margin: float = 1.0
    interactive_reserve: float = 0.1
    safety: int = 2

    @classmethod
    def scaled(cls, limit: int, window: float) -> BudgetPolicy:
        """Margins in proportion to the window and the limit: 1 s and 2 requests for
        Luma's 200 a minute, and no more than a request's worth on a small test limit."""
        return cls(limit=limit, window=window, margin=window / 60, safety=math.ceil(limit / 100))

    @property
    def span(self) -> float:
        """Seconds over which sends are counted."""
        return self.window + self.margin

    def cap(self, limit: int, *, interactive: bool) -> int:
        """Most sends a caller of this kind may see in one span before it must wait."""
        usable = max(1, limit - self.safety)
        if interactive:
            return usable
        return max(1, min(usable, math.floor(limit * (1 - self.interactive_reserve))))
