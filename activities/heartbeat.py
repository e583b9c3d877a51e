"""Heartbeats that keep flowing while an activity waits (on Luma's budget, say).

Temporal treats an activity that stops heartbeating as dead and retries it elsewhere. A batch
that waits out a rate-limit block is alive, so a background task keeps heartbeating with the
latest progress until the activity ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity


class Progress:
    """The latest heartbeat details; set `value` as work completes."""

    def __init__(self, value: Any = None) -> None:
        self.value = value


@asynccontextmanager
async def heartbeating(initial: Any = None) -> AsyncIterator[Progress]:
    progress = Progress(initial)
    timeout = activity.info().heartbeat_timeout
    interval = timeout.total_seconds() / 3 if timeout else 10.0

    async def beat() -> None:
        while True:
            activity.heartbeat(progress.value)
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield progress
    finally:
        task.cancel()
        activity.heartbeat(progress.value)
