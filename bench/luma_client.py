"""Benchmark: the Luma client's overhead over network latency, and its raw read rate.

Phase 1 lists a 10,000-guest event (100 pages of 100) from the simulator at 50 ms latency
through `LumaPool` with the database rate budget, as a refresh a person waits for (bulk
callers keep an even pace instead, which bench/bulk.py measures), and compares the wall
time with the floor of pages × latency; the target is at most 1.1×, i.e. parsing, the
budget's transaction and HTTP together cost under 5 ms a page. The simulator runs in its own
process, as Luma is another machine, and answers each page `LATENCY` after it was asked, its
own work included, as Luma's answer time would.
What the budget costs at full speed: bench/budget_cost.py.

    .venv/bin/python -m bench.luma_client        # SQLite under a temp dir
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/luma_client.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bench.api import free_port, wait_until_up
from bench.bulk import LUMABOT
from luma.client import KEY_HEADER, LumaClient, LumaPool
from luma.paths import CURRENT, Endpoint
from luma.ratelimit import BudgetPolicy
from migrations import runner
from store.db import create_engine, session_factory
from store.rate_budget import DatabaseRateBudget

GUESTS = 10_000
PAGE = 100
LATENCY = 0.05
TARGET_RATIO = 1.1


async def list_all(luma: LumaClient, event_id: str) -> float:
    started = time.perf_counter()
    count = sum([1 async for _ in luma.iter_guests(event_id)])
    elapsed = time.perf_counter() - started
    if count != GUESTS:
        raise SystemExit(f"listed {count} guests, expected {GUESTS}")
    return elapsed


async def list_bare(base_url: str, api_key: str, event_id: str) -> float:
    """The same pages with bare httpx (no parsing, no budget): the simulator's own cost."""
    async with httpx.AsyncClient(base_url=base_url, headers={KEY_HEADER: api_key}) as http:
        started = time.perf_counter()
        cursor = None
        for _ in range(GUESTS // PAGE):
            params: dict[str, str | int] = {"event_id": event_id, "pagination_limit": PAGE}
            if cursor:
                params["pagination_cursor"] = cursor
            response = await http.get(CURRENT.routes[Endpoint.LIST_GUESTS], params=params)
            cursor = response.json().get("next_cursor")  # absent on the last page
        return time.perf_counter() - started


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    latency_ms = str(round(LATENCY * 1000))
    command = [LUMABOT, "simulator", "--port", str(port), "--calendars", "1", "--events", "0"]
    command += ["--rate-limit", "0", "--latency-ms", latency_ms]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


@asynccontextmanager
async def simulator() -> AsyncIterator[tuple[str, str, str]]:
    """`lumabot simulator` in a process of its own with one calendar holding one event of
    GUESTS guests: its URL, the calendar's key and the event's id."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_simulator(port)
    try:
        await wait_until_up(base_url, process, "/_sim/calendars", "simulator")
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
            (calendar,) = (await http.get("/_sim/calendars")).json()
            made = await http.post(
                "/_sim/events", json={"calendar_id": calendar["id"], "guests": GUESTS}
            )
        yield base_url, calendar["api_key"], made.json()["id"]
    finally:
        process.terminate()
        process.wait(timeout=30)


async def run(database_url: str) -> bool:
    engine = create_engine(database_url)
    budget_key = f"bench-{uuid.uuid4().hex[:8]}"  # a fresh window, whatever earlier runs left
    budget = DatabaseRateBudget(session_factory(engine), BudgetPolicy())
    try:
        async with simulator() as (base_url, api_key, event_id):
            async with LumaPool(base_url, budget=budget) as pool:
                elapsed = await list_all(
                    pool.client(api_key, budget_key=budget_key, interactive=True), event_id
                )
            bare = await list_bare(base_url, api_key, event_id)
            pages = GUESTS // PAGE
            floor = pages * LATENCY
            ratio = elapsed / floor
            print(
                f"list {GUESTS:,} guests, {pages} pages at {LATENCY * 1000:.0f} ms: "
                f"{elapsed:.2f} s vs floor {floor:.2f} s = {ratio:.3f}x "
                f"(target <= {TARGET_RATIO}x; {(elapsed - floor) / pages * 1000:.1f} ms "
                "overhead a page)"
            )
            print(
                f"same pages with bare httpx, no parsing or budget: {bare:.2f} s = "
                f"{bare / floor:.3f}x (the simulator's and HTTP's share of the overhead)"
            )
    finally:
        await engine.dispose()
    return ratio <= TARGET_RATIO


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{Path(scratch)}/bench.db"
        runner.upgrade(url)
        print(f"database: {url.split('://')[0]}")
        ok = asyncio.run(run(url))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
