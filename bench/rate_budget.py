"""Benchmark: how long a person waits for the shared Luma budget while bulk work saturates it.

Four bulk callers pace themselves through a calendar's budget (20 requests a second here, the
real policy scaled down); meanwhile a person asks three times, as the bot does for a lookup.
The interactive reserve should let them straight through: the target is 150 ms for the
slowest of the three, against about a window (1 s) for a person queued behind bulk. The
ratio printed is the slowest wait over that target. The functional side (the person is not
queued, bulk keeps to its share) is tested in tests/luma/test_rate_budget.py.

    .venv/bin/python -m bench.rate_budget                 # SQLite under a temp dir
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/rate_budget.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from luma.ratelimit import BudgetPolicy
from migrations import runner
from store.db import create_engine, session_factory
from store.rate_budget import DatabaseRateBudget

POLICY = BudgetPolicy(limit=20, window=1.0, margin=0.1, interactive_reserve=0.25, safety=2)
BULK_CALLERS = 4
ASKS = 3
TARGET_SECONDS = 0.15


async def person_waits(database_url: str) -> list[float]:
    engine = create_engine(database_url)
    budget = DatabaseRateBudget(session_factory(engine), POLICY)
    calendar = f"bench-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()

    async def bulk() -> None:
        while not stop.is_set():
            await budget.acquire(calendar, interactive=False)

    workers = [asyncio.create_task(bulk()) for _ in range(BULK_CALLERS)]
    try:
        await asyncio.sleep(POLICY.span * 1.5)  # bulk has filled its share of the window
        waits = []
        for _ in range(ASKS):
            asked = time.perf_counter()
            await budget.acquire(calendar, interactive=True)
            waits.append(time.perf_counter() - asked)
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        await engine.dispose()
    return waits


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{Path(scratch)}/bench.db"
        runner.upgrade(url)
        print(f"database: {url.split('://')[0]}")
        waits = asyncio.run(person_waits(url))
    ratio = max(waits) / TARGET_SECONDS
    print(
        f"a person's {ASKS} lookups beside {BULK_CALLERS} paced bulk callers: waited "
        f"{', '.join(f'{w * 1000:.0f}' for w in waits)} ms; slowest vs target "
        f"{TARGET_SECONDS * 1000:.0f} ms = {ratio:.3f}x (target <= 1.0x)"
    )
    sys.exit(0 if ratio <= 1.0 else 1)


if __name__ == "__main__":
    main()
