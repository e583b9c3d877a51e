"""The audit log: every write action, who asked for it, and how it ended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import upsert_insert
from store.models import AuditEntry, utcnow


async def record(
    session: AsyncSession,
    *,
    org_id: int | None,
    source: str,
    action: str,
    result: str,
    target: dict[str, Any] | None = None,
    actor_user_id: int | None = None,
    chat_id: int | None = None,
    detail: str = "",
    idempotency_key: str | None = None,
) -> AuditEntry | None:
    """Append an entry; with an idempotency key, a replayed write is recorded only once."""
    if idempotency_key is not None:
        existing = await session.scalar(
            select(AuditEntry).where(AuditEntry.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return None
    entry = AuditEntry(
        org_id=org_id,
        source=source,
        action=action,
        result=result,
        target=target or {},
        actor_user_id=actor_user_id,
        chat_id=chat_id,
        detail=detail,
        idempotency_key=idempotency_key,
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One entry for `record_many`: what `record` takes, field for field."""

    org_id: int | None
    source: str
    action: str
    result: str
    target: dict[str, Any] = field(default_factory=dict)
    actor_user_id: int | None = None
    chat_id: int | None = None
    detail: str = ""
    idempotency_key: str | None = None


async def record_many(session: AsyncSession, rows: Sequence[AuditRow]) -> int:
    """Append many entries in one statement (a batch's outcomes); as with `record`, an entry
    whose idempotency key is already recorded, or comes earlier in `rows`, is left out.
    Returns how many were added."""
    if not rows:
        return 0
    now = utcnow()
    statement = (
        upsert_insert(session.get_bind().dialect.name, AuditEntry)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(AuditEntry.id)
    )
    # Parameters apart from the statement: compiled once, sent as one multi-row INSERT.
    added = await session.execute(statement, [{**asdict(row), "created_at": now} for row in rows])
    return len(added.all())


async def recent(session: AsyncSession, *, org_id: int, limit: int = 50) -> Sequence[AuditEntry]:
    result = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.org_id == org_id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return result.all()
