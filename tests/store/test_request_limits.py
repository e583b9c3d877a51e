"""The request limits every process shares: sliding counts, several keys, bursts, pruning,
two processes at once, SQLite, and a database that is down."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from migrations import runner
from store.db import create_engine, session_factory
from store.models import RequestLimit
from store.request_limits import Quota, RequestLimits, digest

T0 = 1_000_000.0  # a window edge for windows of 10 s


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _quota(limit: int, window: float = 10.0, scope: str = "") -> Quota:
    return Quota(scope or f"t-{uuid.uuid4().hex[:8]}", limit, window)


async def test_two_limiters_share_one_sliding_count(sessions) -> None:
    clock = Clock()
    first, second = RequestLimits(sessions, clock=clock), RequestLimits(sessions, clock=clock)
    quota = _quota(2)
    assert await first.hit((quota, "k")) == [] and await second.hit((quota, "k")) == []
    [over] = await first.hit((quota, "k"))
    assert over.quota == quota and over.wait == pytest.approx(10.0) and over.first
    assert [o.first for o in await second.hit((quota, "k"))] == [False]  # told once
    assert await second.hit((quota, "other")) == []
    clock.now = T0 + 4
    assert [o.wait for o in await first.hit((quota, "k"))] == [pytest.approx(6.0)]
    # Half a second into the next window the last one's 2 count as 1.9: one more fits...
    clock.now = T0 + 10.5
    assert await second.hit((quota, "k")) == []
    # ...and the next fits once the previous window's weight drops to a half (at 15 s).
    [over] = await first.hit((quota, "k"))
    assert over.wait == pytest.approx(4.5) and over.first  # a new burst
    clock.now = T0 + 15.1
    assert await first.hit((quota, "k")) == []


async def test_a_burst_across_a_window_edge_is_not_doubled(sessions) -> None:
    clock = Clock(T0 + 9.9)
    limits, quota = RequestLimits(sessions, clock=clock), _quota(10)
    allowed = 0
    for now in (T0 + 9.9, T0 + 10.1):
        clock.now = now
        allowed += sum([await limits.hit((quota, "k")) == [] for _ in range(20)])
    assert allowed == 11  # a fixed window would allow 20 in these 0.2 s


async def test_several_keys_count_together_or_not_at_all(sessions) -> None:
    """A person over their limit does not use up their chat's share, and the reverse."""
    limits = RequestLimits(sessions, clock=Clock())
    person, chat = _quota(1, scope="person"), _quota(3, scope="chat")
    tag = uuid.uuid4().hex
    assert await limits.hit((person, f"a{tag}"), (chat, tag)) == []
    [over] = await limits.hit((person, f"a{tag}"), (chat, tag))
    assert over.quota == person
    for other in ("b", "c"):  # the chat still has room for two
        assert await limits.hit((person, f"{other}{tag}"), (chat, tag)) == []
    [over] = await limits.hit((person, f"d{tag}"), (chat, tag))
    assert over.quota == chat and over.first
    assert await limits.hit((person, f"d{tag}"), (_quota(3), tag)) == []  # d was not counted


async def test_keys_are_stored_as_digests_and_old_windows_pruned(sessions) -> None:
    clock = Clock()
    limits = RequestLimits(sessions, clock=clock, prune_every=0.0)
    quota, secret = _quota(5), f"lbt_{uuid.uuid4().hex}"
    await limits.hit((quota, secret))
    async with sessions() as session:
        rows = (
            await session.scalars(select(RequestLimit).where(RequestLimit.scope == quota.scope))
        ).all()
    assert [row.key for row in rows] == [digest(secret)] and secret not in rows[0].key
    clock.now = T0 + 19.9  # the previous window still counts
    await limits.hit((_quota(5), "another"))
    clock.now = T0 + 20.0  # both windows over: nothing left to say
    await limits.hit((_quota(5), "another"))
    await limits.drain()  # the prune runs beside the request, in its own transaction
    async with sessions() as session:
        left = await session.scalar(select(func.count()).where(RequestLimit.scope == quota.scope))
    assert left == 0


async def test_a_database_that_is_down_lets_requests_through(caplog) -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        limits = RequestLimits(session_factory(engine))
        with caplog.at_level(logging.WARNING, logger="store.request_limits"):
            for _ in range(3):
                assert await limits.hit((_quota(1), "k")) == []
                assert await limits.hit((_quota(1), "k"), (_quota(1), "j")) == []
    finally:
        await engine.dispose()
    warnings = [r for r in caplog.records if r.name == "store.request_limits"]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()  # once a minute


async def test_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}"
    await asyncio.to_thread(runner.upgrade, url)
    engine = create_engine(url)
    try:
        clock = Clock()
        first = RequestLimits(session_factory(engine), clock=clock)
        second = RequestLimits(session_factory(engine), clock=clock)
        person, chat = _quota(2, scope="person"), _quota(5, scope="chat")
        assert await first.hit((person, "a"), (chat, "x")) == []
        assert await second.hit((person, "a"), (chat, "x")) == []
        [over] = await first.hit((person, "a"), (chat, "x"))
        assert over.quota == person and over.wait == pytest.approx(10.0)
        clock.now = T0 + 10.5
        assert await second.hit((person, "a"), (chat, "x")) == []
    finally:
        await engine.dispose()


_PROCESS = """
import asyncio, sys
from store.db import create_engine, session_factory
from store.request_limits import Quota, RequestLimits

async def main(url, key):
    engine = create_engine(url)
    limits = RequestLimits(session_factory(engine))
    quota = Quota("processes", 10, 1_000_000.0)
    await asyncio.sleep(0)
    results = await asyncio.gather(*(limits.hit((quota, key)) for _ in range(15)))
    print(sum(not over for over in results))
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_together_allow_the_limit(db_url) -> None:
    """15 requests at once from each of two processes, 10 allowed in all: not 10 each."""
    key = uuid.uuid4().hex
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PROCESS, db_url, key, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [(await process.communicate())[0] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert sum(int(output) for output in outputs) == 10


def test_a_quota_needs_room() -> None:
    with pytest.raises(ValueError):
        Quota("x", 0, 10)
    with pytest.raises(ValueError):
        Quota("x", 1, 0)
