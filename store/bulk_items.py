"""Reads of a bulk job's snapshot (`bulk_job_items`): what became of each guest it resolved.

The apply activities write the snapshot as each guest's write returns, so its counts are the
job's progress as last written, readable without a worker: a progress read falls back to them
while a batch moves between workers.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import BulkJobItem


async def state_counts(
    session: AsyncSession, job_id: str, after_seq: int = 0, last_seq: int | None = None
) -> dict[str, int]:
    """Guests of the job (or of its items `after_seq < seq <= last_seq`) per state."""
    query = select(BulkJobItem.state, func.count()).where(
        BulkJobItem.job_id == job_id, BulkJobItem.seq > after_seq
    )
    if last_seq is not None:
        query = query.where(BulkJobItem.seq <= last_seq)
    rows = await session.execute(query.group_by(BulkJobItem.state))
    return {state: count for state, count in rows}
