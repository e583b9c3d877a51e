"""Luma's per-calendar request budget, shared by every process through the database.

A sliding log: each request sent is a row in `luma_rate_sends`; a caller may send when fewer
than its cap were sent in the last `policy.span` seconds. All decisions for one budget key
are serialized on that key's `luma_rate_state` row, which also carries the block recorded
after a 429 so that every process stops, not only the one that was refused.

One short transaction per request: lock the state row, then insert the send only if the
window has room (and, for a bulk send, move its pace on: a third statement). The lock is
an upsert (`INSERT … ON CONFLICT DO UPDATE`): on PostgreSQL it locks the row exactly as
`SELECT … FOR UPDATE` would, creating it on first use in the same round trip; on SQLite,
whose transactions serialize on the file, starting with a write takes the write lock up
front (the effect of `BEGIN IMMEDIATE`), so no reader decides on a stale count. Statements
are built once per dialect: every request pays this, and the benchmark allows it a few
milliseconds. Send times are the senders' own UTC clocks; `policy.margin` absorbs the skew
between hosts.

The limit a key may spend is the one Luma announces in its answers' headers, capped by the
configured ceiling. It is remembered per process (`luma.announced.AnnouncedLimits`), not in
the database: every process hears it on its first answer for the key, so sharing it would
only cover the sends a process makes before that answer (those in flight at once), at the
cost of a migration. What must be shared is: the log, and a hold on the key when Luma says
nothing is left (the same `blocked_until` a 429 sets), which also checks those early sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import String, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luma.announced import AnnouncedLimits
from luma.ratelimit import BudgetPolicy
from store.budget_leases import Lease, largest_lease
from store.db import upsert_insert
from store.models import LumaRateSend, LumaRateState, UTCDateTime, utcnow

Limits = Mapping[str, int] | Callable[[str], int]
T = TypeVar("T")

_MIN_WAIT = 0.005  # never spin on a wait rounded down to nothing

_KEY = bindparam("key", type_=String)
_NOW = bindparam("now", type_=UTCDateTime)
_SINCE = bindparam("since", type_=UTCDateTime)
_IN_WINDOW = (LumaRateSend.budget_key == _KEY, LumaRateSend.sent_at > _SINCE)
_STATE = LumaRateState.budget_key == _KEY


class _Statements:
    """The budget's SQL, compiled once; only the lock differs between dialects."""

    def __init__(self, dialect: str) -> None:
        upsert = upsert_insert(dialect, LumaRateState)
        state = (
            LumaRateState.blocked_until,
            LumaRateState.pruned_at,
            LumaRateState.interactive_at,
            LumaRateState.paced_until,
        )

        def lock(**marks: Any) -> Any:
            # Without marks the conflict update writes a column back unchanged: it only locks.
            return (
                upsert.values(budget_key=_KEY, **marks)
                .on_conflict_do_update(
                    index_elements=[LumaRateState.budget_key],
                    set_=marks or {"blocked_until": LumaRateState.blocked_until},
                )
                .returning(*state)
            )

        self.lock = lock()
        # A person's call also marks the time, which holds bulk callers to their share.
        self.lock_marking_person = lock(interactive_at=_NOW)
        self.count = select(func.count()).where(*_IN_WINDOW)
        self.send = insert(LumaRateSend).returning(LumaRateSend.id)
        self.give_back = delete(LumaRateSend).where(
            LumaRateSend.id.in_(bindparam("ids", expanding=True))
        )
        self.pace = (
            update(LumaRateState)
            .where(_STATE)
            .values(paced_until=bindparam("paced_until", type_=UTCDateTime))
        )
        # Newest first, the send at offset cap - 1 is the one whose leaving the window
        # brings the count below the cap.
        self.release = (
            select(LumaRateSend.sent_at)
            .where(*_IN_WINDOW)
            .order_by(LumaRateSend.sent_at.desc())
            .offset(bindparam("skip"))
            .limit(1)
        )
        self.prune = delete(LumaRateSend).where(
            LumaRateSend.budget_key == _KEY, LumaRateSend.sent_at <= _SINCE
        )
        self.pruned = update(LumaRateState).where(_STATE).values(pruned_at=_NOW)
        self.block = (
            update(LumaRateState)
            .where(_STATE)
            .values(blocked_until=bindparam("until", type_=UTCDateTime))
        )


@cache
def _statements(dialect: str) -> _Statements:
    return _Statements(dialect)


class DatabaseRateBudget:
    """`luma.ratelimit.RateBudget` on the product database (PostgreSQL or SQLite)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        policy: BudgetPolicy | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        """`limits` gives a budget key's ceiling, its most requests per window whatever
        Luma announces; keys it does not name get `policy.limit` (`LUMA_RATE_LIMIT`)."""
        self._sessions = session_factory
        self.policy = policy or BudgetPolicy()
        self._limits = limits
        self._announced = AnnouncedLimits()
        self._finishing: set[asyncio.Future[Any]] = set()
        self._leases: dict[tuple[str, bool], Lease] = {}

    def ceiling_for(self, budget_key: str) -> int:
        """The configured most requests per window for `budget_key`."""
        if self._limits is None:
            return self.policy.limit
        if callable(self._limits):
            return self._limits(budget_key)
        return self._limits.get(budget_key, self.policy.limit)

    def limit_for(self, budget_key: str) -> int:
        """The requests per window spent on `budget_key`: Luma's announced limit, at most
        the ceiling (the ceiling until Luma has announced one to this process)."""
        return self._announced.allowance(budget_key, self.ceiling_for(budget_key))

    def announce(self, budget_key: str, limit: int) -> None:
        self._announced.record(budget_key, limit)

    async def acquire(self, budget_key: str, *, interactive: bool) -> None:
        """Take a slot from this process's lease, refilling it from the database (one
        refill at a time; callers arriving meanwhile share it) when it is used up."""
        loop = asyncio.get_running_loop()
        lease = self._leases.setdefault((budget_key, interactive), Lease())
        lease.waiting += 1
        try:
            while not lease.take(loop.time()):
                if lease.not_before > loop.time():  # a refill just found the window full
                    await asyncio.sleep(lease.not_before - loop.time())
                    continue
                await asyncio.shield(self._refilling(budget_key, interactive, lease))
        finally:
            lease.waiting -= 1
        if lease.running_low() and lease.not_before <= loop.time() and lease.refill is None:
            # Ahead of need, nobody waits for it: a failure here is met again, and reported,
            # by the refill a caller does wait for.
            self._refilling(budget_key, interactive, lease).add_done_callback(_retrieved)

    def _refilling(self, budget_key: str, interactive: bool, lease: Lease) -> asyncio.Future[None]:
        """The lease's refill under way, started if there is none."""
        if lease.refill is None:
            lease.refill = self._finish(self._refill(budget_key, interactive, lease))
        return lease.refill

    async def _refill(self, budget_key: str, interactive: bool, lease: Lease) -> None:
        loop = asyncio.get_running_loop()
        try:
            limit = self.limit_for(budget_key)  # an answer may announce another meanwhile
            asked = loop.time()
            wait, ids = await self._try_send(
                budget_key,
                limit,
                interactive,
                want=lease.want(largest_lease(limit)),
                give_back=lease.take_stale(),
            )
            if ids:
                lease.grant(ids, expires=asked + self.policy.margin / 2)
            else:
                lease.not_before = loop.time() + wait
        finally:
            lease.refill = None

    async def penalize(self, budget_key: str, retry_after: float) -> None:
        for interactive in (False, True):  # no more sends from this process's leases
            if lease := self._leases.get((budget_key, interactive)):
                lease.drop()
        await self._uncancelled(self._block(budget_key, retry_after))

    async def _uncancelled(self, transaction: Coroutine[Any, Any, T]) -> T:
        """Run a transaction to its end even if the caller is cancelled meanwhile.

        A transaction cut short would keep SQLite's write lock (or the PostgreSQL row lock)
        from every other process until its connection is reclaimed; finishing it at worst
        records a send that is never made, which only makes the budget more cautious.
        """
        return await asyncio.shield(self._finish(transaction))

    def _finish(self, transaction: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """`transaction` as a task that runs to its end, whoever stops waiting for it."""
        task = asyncio.ensure_future(transaction)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        return task

    async def _block(self, budget_key: str, retry_after: float) -> None:
        async with self._sessions() as session, session.begin():
            connection = await session.connection()
            sql = _statements(connection.dialect.name)
            blocked_until, *_ = (await connection.execute(sql.lock, {"key": budget_key})).one()
            until = utcnow() + timedelta(seconds=retry_after)
            if blocked_until is None or blocked_until < until:
                await connection.execute(sql.block, {"key": budget_key, "until": until})

    async def _try_send(
        self, budget_key: str, limit: int, interactive: bool, *, want: int, give_back: list[int]
    ) -> tuple[float, list[int]]:
        """Record up to `want` sends and return their log ids, or return the seconds to wait
        before trying again (and no ids); `give_back` are leased sends never made."""
        policy = self.policy
        span = timedelta(seconds=policy.span)
        async with self._sessions() as session, session.begin():
            connection = await session.connection()
            sql = _statements(connection.dialect.name)
            if interactive:
                locked = await connection.execute(
                    sql.lock_marking_person, {"key": budget_key, "now": utcnow()}
                )
            else:
                locked = await connection.execute(sql.lock, {"key": budget_key})
            blocked_until, pruned_at, person_at, paced_until = locked.one()
            if give_back:
                await connection.execute(sql.give_back, {"ids": give_back})
            now = utcnow()  # read after the lock, so sends are logged in the order made
            if blocked_until is not None and blocked_until > now:
                return _seconds(blocked_until - now), []
            window: dict[str, Any] = {"key": budget_key, "now": now, "since": now - span}
            if pruned_at is None or pruned_at < window["since"]:
                await connection.execute(sql.prune, window)
                await connection.execute(sql.pruned, window)
            person_recently = person_at is not None and person_at > window["since"]
            cap = policy.cap(limit, interactive=interactive, person_recently=person_recently)
            if not interactive and paced_until is not None:
                early = paced_until - timedelta(seconds=policy.tolerance(limit)) - now
                if early > timedelta(0):
                    return _seconds(early), []
            room = cap - (await connection.scalar(sql.count, window) or 0)
            if room <= 0:  # the window is full: wait for its oldest counted send to leave
                release = await connection.scalar(sql.release, {**window, "skip": cap - 1})
                wait = _seconds(release + span - now) if release is not None else _MIN_WAIT
                return wait, []
            grant = min(want, room)
            if not interactive:  # only as many as the pace allows now
                paced_from = now if paced_until is None else max(paced_until, now)
                grant = min(grant, policy.paced_sends(limit, paced_from - now))
                next_pace = paced_from + timedelta(seconds=grant * policy.spacing(limit))
                await connection.execute(sql.pace, {"key": budget_key, "paced_until": next_pace})
            rows = [{"budget_key": budget_key, "sent_at": now}] * grant
            return 0.0, list((await connection.scalars(sql.send, rows)).all())


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _seconds(delta: timedelta) -> float:
    return max(_MIN_WAIT, delta.total_seconds())
