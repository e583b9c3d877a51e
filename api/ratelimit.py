"""Per-token request limits: a sliding window counted in this process.

One API process is the unit of deployment, so an in-memory log is exact and costs nothing.
With several API processes behind a balancer each would allow the full rate; the log would
then move to the database, the way `store.rate_budget` shares the Luma budget.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `limit` requests per `window` seconds for each key (a token's hash).

    Keys are only ever valid tokens (the limit is checked after authentication), so the
    number of logs is bounded by the number of live tokens.
    """

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._logs: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count one request; None when allowed, else the seconds until one would be."""
        now = self._clock()
        log = self._logs.setdefault(key, deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) >= self.limit:
            return log[0] + self.window - now
        log.append(now)
        return None
