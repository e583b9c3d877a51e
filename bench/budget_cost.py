"""Benchmark: what the shared Luma budget costs a process making reads as fast as it can.

16 callers share one key and read guest pages from the simulator with no latency and no
limit, once through the database budget (PostgreSQL, the production store; the key's
ceiling set far above what is sent, so the budget admits and never waits) and once with
no budget at all; rounds alternate, each way first as often as second, so the machine's
noise and the order fall on both alike. The budget's cost is the share of reads per second
it takes away; the target is at most 10%, and the ratio printed is that cost over 10%. The
budget leases slots in batches (store/budget_leases.py): one transaction admits many reads.

    .venv/bin/python -m bench.budget_cost     # PostgreSQL on :5432 (BENCH_PG to change)
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from bench.bulk import database
from luma.client import LumaClient, LumaPool
from luma.ratelimit import BudgetPolicy, RateBudget
from standins.luma import SimulatorConfig, running_simulator
from store.db import create_engine, session_factory
from store.rate_budget import DatabaseRateBudget

CALLERS = 16
ROUND_SECONDS = 2.0
ROUNDS = 4  # even: each way goes first as often as second
PAGE = 50
TARGET_COST = 0.10


async def reads_per_second(luma: LumaClient, event_id: str) -> tuple[int, float]:
    deadline = time.perf_counter() + ROUND_SECONDS
    done = 0

    async def reader() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await luma.list_guests_page(event_id, limit=PAGE)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(reader() for _ in range(CALLERS)))
    return done, time.perf_counter() - started


async def run() -> float:
    async with database() as url, running_simulator(SimulatorConfig(calendars=1)) as sim:
        sim.state.configure(rate_limit=None, latency_seconds=0.0)
        calendar = sim.calendars[0]
        event_id = sim.state.add_event(calendar.id, guests=PAGE)
        budget_key = f"bench-{uuid.uuid4().hex[:8]}"
        engine = create_engine(url)
        budget = DatabaseRateBudget(
            session_factory(engine), BudgetPolicy(), limits={budget_key: 10**9}
        )
        totals = {"database budget": [0, 0.0], "no budget": [0, 0.0]}
        try:
            ways: list[tuple[str, DatabaseRateBudget | None]] = [
                ("database budget", budget),
                ("no budget", None),
            ]
            for _ in range(ROUNDS):
                ways.reverse()  # whichever goes first in a round runs a little slower
                for name, each in ways:
                    shared: RateBudget | None = each
                    async with LumaPool(sim.base_url, budget=shared) as pool:
                        luma = pool.client(calendar.api_key, budget_key=budget_key)
                        await luma.list_guests_page(event_id, limit=PAGE)  # connections up
                        done, seconds = await reads_per_second(luma, event_id)
                    totals[name][0] += done
                    totals[name][1] += seconds
        finally:
            await engine.dispose()
    rates = {name: done / seconds for name, (done, seconds) in totals.items()}
    cost = max(0.0, 1 - rates["database budget"] / rates["no budget"])
    print(
        f"reads of a {PAGE}-guest page, no limit or latency, {CALLERS} callers, "
        f"{ROUNDS} x {ROUND_SECONDS:.0f} s each way: {rates['database budget']:,.0f}/s with "
        f"the database budget, {rates['no budget']:,.0f}/s without: the budget costs "
        f"{cost:.1%} = {cost / TARGET_COST:.2f}x the target (<= {TARGET_COST:.0%})"
    )
    return cost


def main() -> None:
    cost = asyncio.run(run())
    sys.exit(0 if cost <= TARGET_COST else 1)


if __name__ == "__main__":
    main()
