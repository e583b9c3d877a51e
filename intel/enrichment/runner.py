"""Looking many people up within a provider's rate limit.

At most `concurrency` lookups are in flight. A 429 pauses every lookup of the run for the
Retry-After the provider gave (one shared gate, so parallel lookups do not keep hammering
it), then the refused lookup is tried again. A wait longer than `max_wait` is not sat out
here: `RateLimited` propagates so the caller can come back later (a Temporal retry with that
delay). Each answer is handed to `on_result` as soon as it arrives, so work already done
survives a failure further on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from intel.enrichment import EnrichmentError, EnrichmentProvider, PersonInfo, RateLimited

MAX_RATE_LIMITED = 5  # 429s in a row for one person before the run gives up for now


class Gate:
    """The moment after which lookups may go again, shared by every lookup of a run."""

    def __init__(self) -> None:
        self._open_at = 0.0

    def block(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._open_at = max(self._open_at, loop.time() + seconds)

    async def wait(self) -> None:
        delay = self._open_at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
            await self.wait()  # another 429 may have pushed the gate further meanwhile


async def lookup_all(
    provider: EnrichmentProvider,
    emails: Sequence[str],
    on_result: Callable[[str, PersonInfo | None], Awaitable[None]],
    *,
    concurrency: int = 4,
    max_wait: float = 30.0,
) -> None:
    """Look every email up once (429s waited out and retried); raises the first failure."""
    pending = list(reversed(emails))
    gate = Gate()

    async def one(email: str) -> PersonInfo | None:
        for _ in range(MAX_RATE_LIMITED):
            await gate.wait()
            try:
                return await provider.lookup(email)
            except RateLimited as limited:
                if limited.retry_after > max_wait:
                    raise
                gate.block(limited.retry_after)
        raise RateLimited(max_wait)

    failures: list[EnrichmentError] = []

    async def worker() -> None:
        # After a failure no new lookup starts, but those in flight finish and are saved:
        # cancelling them would throw away answers the provider already gave (and billed).
        while pending and not failures:
            email = pending.pop()
            try:
                info = await one(email)
            except EnrichmentError as exc:
                failures.append(exc)
                return
            await on_result(email, info)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(emails))):
            group.create_task(worker())
    if failures:
        raise failures[0]
