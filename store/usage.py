"""Per-org daily usage counters: quotas (Gemini questions, ...) shared by all processes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import upsert_insert
from store.models import UsageCounter


async def add_usage(
    session: AsyncSession, *, org_id: int, day: date, kind: str, amount: int = 1
) -> int:
    """Count `amount` more and return the day's new total (one atomic upsert)."""
    insert = upsert_insert(session.get_bind().dialect.name, UsageCounter)
    statement = insert.values(org_id=org_id, day=day, kind=kind, count=amount)
    statement = statement.on_conflict_do_update(
        index_elements=["org_id", "day", "kind"],
        set_={"count": UsageCounter.count + amount},
    ).returning(UsageCounter.count)
    return (await session.execute(statement)).scalar_one()


async def usage(session: AsyncSession, *, org_id: int, day: date) -> dict[str, int]:
    rows = await session.execute(
        select(UsageCounter.kind, UsageCounter.count).where(
            UsageCounter.org_id == org_id, UsageCounter.day == day
        )
    )
    return {kind: count for kind, count in rows}


class DailyQuota:
    """`nlp.quota.CallQuota` on the database: at most `limit` calls per org per day."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, kind: str, limit: int
    ) -> None:
        self.sessions = sessions
        self.kind = kind
        self.limit = limit

    async def try_consume(self, org_id: int, *, day: date) -> bool:
        return await consume_within(
            self.sessions, org_id=org_id, day=day, kind=self.kind, limit=self.limit
        )


async def consume_within(
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: int,
    day: date,
    kind: str,
    limit: int | None,
) -> bool:
    """Count one more `kind` for the org's day if that stays within `limit` (None: no limit)."""
    async with sessions.begin() as session:
        total = await add_usage(session, org_id=org_id, day=day, kind=kind)
        if limit is None or total <= limit:
            return True
        # Over the limit: take the count back so usage shows real calls only.
        await session.execute(
            update(UsageCounter)
            .where(
                UsageCounter.org_id == org_id,
                UsageCounter.day == day,
                UsageCounter.kind == kind,
            )
            .values(count=UsageCounter.count - 1)
        )
        return False
