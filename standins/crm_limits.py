"""What the Airtable and HubSpot stand-ins share: a per-second request limit per key, a
"429 storm" switch, and the log of every request and every record written."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Write:
    """One record a request wrote (created or updated), as the service stored it."""

    email: str
    fields: dict[str, Any]
    created: bool


@dataclass
class Answer:
    """One request and how it was answered."""

    status: int
    records: int


@dataclass
class CrmLimits:
    """Requests allowed per `window` seconds per key (a base, or a token), and the next
    `throttle_next` requests answered 429 whatever the count (a storm)."""

    requests_per_window: int
    window: float = 1.0
    throttle_next: int = 0
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def over(self, key: str) -> bool:
        """Whether this request is refused: counted only when it is let through."""
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return True
        now = time.monotonic()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.requests_per_window:
            return True
        seen.append(now)
        return False


@dataclass
class CrmLog:
    """A stand-in's token, limits and logs (each service sets its own defaults)."""

    token: str
    limits: CrmLimits
    writes: list[Write] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    refuse_emails: set[str] = field(default_factory=set)  # records the service will refuse
    url: str = ""

    def written(self) -> dict[str, int]:
        """How many times each email was written."""
        counts: dict[str, int] = {}
        for write in self.writes:
            counts[write.email] = counts.get(write.email, 0) + 1
        return counts

    def statuses(self, status: int) -> int:
        return sum(1 for answer in self.answers if answer.status == status)
