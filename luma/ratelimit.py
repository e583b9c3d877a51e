"""The contract of the request budget every Luma call goes through.

Luma counts requests per calendar (200 a minute for a calendar key, 500 for an organization
key), whoever sends them, and blocks the calendar for a minute after a 429. The sync worker,
bulk jobs and the bot's reads run in different processes, so the budget must be shared
through storage (see `store.rate_budget.DatabaseRateBudget`); a per-process limiter would let
each process spend the whole budget.

The limit is Luma's to state: each answer announces it (`X-RateLimit-Limit`), and the budget
follows that figure, never above the configured ceiling (see `luma.announced`). An
organization key is counted per organization, not per calendar, so all the calendars reached
through one such key spend one budget (`budget_key`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core.defaults import LUMA_RATE_LIMIT, LUMA_RATE_WINDOW_SECONDS

CALENDAR_KEY_LIMIT = LUMA_RATE_LIMIT
ORGANIZATION_KEY_LIMIT = 500
CALENDAR_KEY = "calendar"
ORGANIZATION_KEY = "organization"  # the kind of a key that reaches several calendars
ORGANIZATION_BUDGET = "org-key:"  # how an organization key's budget key begins


def budget_key(calendar_id: str, api_key: str, key_kind: str = CALENDAR_KEY) -> str:
    """The budget a tenant's requests spend. Luma counts a calendar key's requests per
    calendar, so that key's budget is the calendar's (a replaced key keeps it); it counts an
    organization key's per organization, so every calendar reached through that key shares
    one budget, named after the key. Hashed, because budget keys are stored in clear."""
    if key_kind != ORGANIZATION_KEY:
        return calendar_id
    return ORGANIZATION_BUDGET + hashlib.sha256(api_key.encode()).hexdigest()[:24]


def ceilings(calendar_limit: int) -> Callable[[str], int]:
    """Each budget key's ceiling for `store.rate_budget.DatabaseRateBudget`: the configured
    `calendar_limit` (`LUMA_RATE_LIMIT`) for a calendar key's budget, and as large a share of
    Luma's 500 for an organization key's (500 at the default 200), which all the calendars
    linked through that key spend together."""
    organization_limit = max(
        calendar_limit, calendar_limit * ORGANIZATION_KEY_LIMIT // CALENDAR_KEY_LIMIT
    )

    def ceiling(key: str) -> int:
        return organization_limit if key.startswith(ORGANIZATION_BUDGET) else calendar_limit

    return ceiling


class RateBudget(Protocol):
    """Admission control shared by every process that calls Luma for one calendar."""

    async def acquire(self, budget_key: str, *, interactive: bool) -> None:
        """Wait until one request for `budget_key` may be sent, and count it."""

    async def penalize(self, budget_key: str, retry_after: float) -> None:
        """Hold every process off `budget_key` for `retry_after` seconds: after a 429, or
        when Luma announces that nothing is left before its window resets."""

    def announce(self, budget_key: str, limit: int) -> None:
        """Luma stated `limit` requests per window for `budget_key`: spend no more from now
        on (nor more than the configured ceiling, whatever Luma says)."""


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """How much of Luma's limit we use, and for whom.

    `margin` widens the counted window so that clock skew between processes and the time a
    request spends in flight never let a send fall out of our window before Luma's.
    Interactive callers (people waiting on the bot) may use the limit minus `safety`
    requests, kept free for calls that bypass the budget (key checks). Bulk callers may use
    as much while nobody has asked for a span; once a person has, they leave
    `interactive_reserve` of the limit free for the next span, so a 10,000-guest sync never
    makes a lookup wait. Past a first `burst` share of the limit, bulk sends keep an even
    pace over the span: a window filled in one burst would free no slot for a minute, while
    a paced one frees a slot every `spacing` seconds for whoever asks next.
    """

    limit: int = CALENDAR_KEY_LIMIT
    window: float = LUMA_RATE_WINDOW_SECONDS
    margin: float = 2.0
    interactive_reserve: float = 0.1
    burst: float = 0.1
    safety: int = 2

    @classmethod
    def scaled(cls, limit: int, window: float) -> BudgetPolicy:
        """Margins in proportion to the window and the limit: 2 s and 2 requests for
        Luma's 200 a minute, and no request held back on a limit under 100."""
        return cls(limit=limit, window=window, margin=window / 30, safety=limit // 100)

    @property
    def span(self) -> float:
        """Seconds over which sends are counted."""
        return self.window + self.margin

    def cap(self, limit: int, *, interactive: bool, person_recently: bool = True) -> int:
        """Most sends a caller of this kind may see in one span before it must wait;
        `person_recently` says whether an interactive call was made within the last span."""
        usable = max(1, limit - self.safety)
        if interactive or not person_recently:
            return usable
        return max(1, min(usable, math.floor(limit * (1 - self.interactive_reserve))))

    def spacing(self, limit: int) -> float:
        """Seconds between paced bulk sends: the limit spread evenly over the span."""
        return self.span / max(1, limit)

    def paced_sends(self, limit: int, ahead: timedelta) -> int:
        """How many bulk sends may go now when the pace is `ahead` of now: the first, and each
        next one whose pace mark stays within the tolerance (at least one)."""
        slack = self.tolerance(limit) - max(0.0, ahead.total_seconds())
        return max(1, 1 + math.floor(slack / self.spacing(limit) + 1e-9))

    def tolerance(self, limit: int) -> float:
        """How far ahead of its pace bulk may run: `burst` of the limit back to back after
        a pause, and never less than one send, so that a sender waking a little late does
        not lose its turn for good."""
        return max(1, math.floor(limit * self.burst) - 1) * self.spacing(limit)
