"""How many Gemini calls an org may make per day: the contract only.

The real quota lives in the database so every bot process shares it; the facade only needs
to ask before each call. No implementation lives here on purpose: an in-process counter
would pretend to limit what several processes would each spend in full.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol


class CallQuota(Protocol):
    async def try_consume(self, org_id: int, *, day: date) -> bool:
        """Count one call for `org_id` on `day` (`quota_day`); False when spent."""
        ...


def quota_day(now: datetime | None = None) -> date:
    """The day a Gemini call counts on: the UTC day, the same for every chat, process and use
    (questions, translations, the approval rubric), so that the plan's "N a day", the count
    and the bot's one "used up" notice agree on when a day ends."""
    return (now or datetime.now(UTC)).astimezone(UTC).date()
