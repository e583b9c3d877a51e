"""Luma's per-calendar request budget, shared by every process through the database.

A sliding log: each request sent is a row in `luma_rate_sends`; a caller may send when fewer
than its cap were sent in the last `policy.span` seconds. All decisions for one budget key
are serialized on that key's `luma_rate_state` row, which also carries the block recorded
after a 429 so that every process stops, not only the one that was refused.

One short transaction per request: lock the state row, count the window, insert the send.
The lock is taken by an upsert (`INSERT … ON CONFLICT DO UPDATE`): on PostgreSQL it locks
the row exactly as `SELECT … FOR UPDATE` would, creating it on first use in the same round
trip; on SQLite, whose transactions serialize on the file, starting with a write takes the
write lock up front (the effect of `BEGIN IMMEDIATE`), so no reader can decide on a stale
count. Clocks: send times are the senders' own UTC clocks; `policy.margin` absorbs skew.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luma.ratelimit import BudgetPolicy
from store.models import LumaRateSend, LumaRateState, utcnow

Limits = Mapping[str, int] | Callable[[str], int]

_MIN_WAIT = 0.005  # never spin on a wait rounded down to nothing


class DatabaseRateBudget:
    """`luma.ratelimit.RateBudget` on the product database (PostgreSQL or SQLite)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        policy: BudgetPolicy | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        """`limits` gives a budget key's requests per window (500 for an organization
        key); keys it does not name get `policy.limit`."""
        self._sessions = session_factory
        self.policy = policy or BudgetPolicy()
        self._limits = limits

    def limit_for(self, budget_key: str) -> int:
        if self._limits is None:
            return self.policy.limit
        if callable(self._limits):
            return self._limits(budget_key)
        return self._limits.get(budget_key, self.policy.limit)

    async def acquire(self, budget_key: str, *, interactive: bool) -> None:
        cap = self.policy.cap(self.limit_for(budget_key), interactive=interactive)
        while True:
            wait = await self._try_send(budget_key, cap)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    async def penalize(self, budget_key: str, retry_after: float) -> None:
        async with self._sessions() as session, session.begin():
            state = await self._lock(session, budget_key)
            until = utcnow() + timedelta(seconds=retry_after)
            if state.blocked_until is None or state.blocked_until < until:
                await session.execute(
                    update(LumaRateState)
                    .where(LumaRateState.budget_key == budget_key)
                    .values(blocked_until=until)
                )

    async def _try_send(self, budget_key: str, cap: int) -> float:
        """Record a send and return 0, or return the seconds to wait before trying again."""
        span = timedelta(seconds=self.policy.span)
        async with self._sessions() as session, session.begin():
            state = await self._lock(session, budget_key)
            now = utcnow()  # read after the lock, so sends are logged in the order made
            if state.blocked_until is not None and state.blocked_until > now:
                return _seconds(state.blocked_until - now)
            since = now - span
            if state.pruned_at is None or state.pruned_at < since:
                await self._prune(session, budget_key, since, now)
            in_window = LumaRateSend.budget_key == budget_key, LumaRateSend.sent_at > since
            count = await session.scalar(select(func.count()).where(*in_window)) or 0
            if count < cap:
                await session.execute(
                    insert(LumaRateSend).values(budget_key=budget_key, sent_at=now)
                )
                return 0.0
            # Enough of the oldest sends must leave the window to bring the count below cap.
            release = await session.scalar(
                select(LumaRateSend.sent_at)
                .where(*in_window)
                .order_by(LumaRateSend.sent_at)
                .offset(count - cap)
                .limit(1)
            )
            return _seconds(release + span - now) if release else _MIN_WAIT

    @staticmethod
    async def _lock(
        session: AsyncSession, budget_key: str
    ) -> Row[tuple[datetime | None, datetime | None]]:
        """Create-or-lock the key's state row; returns its `blocked_until` and `pruned_at`."""
        dialect = session.get_bind().dialect.name
        upsert = (postgresql if dialect == "postgresql" else sqlite).insert(LumaRateState)
        statement = (
            upsert.values(budget_key=budget_key)
            .on_conflict_do_update(
                index_elements=[LumaRateState.budget_key],
                set_={"blocked_until": LumaRateState.blocked_until},
            )
            .returning(LumaRateState.blocked_until, LumaRateState.pruned_at)
        )
        return (await session.execute(statement)).one()

    @staticmethod
    async def _prune(
        session: AsyncSession, budget_key: str, before: datetime, now: datetime
    ) -> None:
        """Drop sends older than the window, at most once per window per key."""
        await session.execute(
            delete(LumaRateSend).where(
                LumaRateSend.budget_key == budget_key, LumaRateSend.sent_at <= before
            )
        )
        await session.execute(
            update(LumaRateState)
            .where(LumaRateState.budget_key == budget_key)
            .values(pruned_at=now)
        )


def _seconds(delta: timedelta) -> float:
    return max(_MIN_WAIT, delta.total_seconds())
