"""Re-encrypt every encrypted column with the first of ENCRYPTION_KEYS.

Encrypted columns are found by name (`*_ciphertext`) in the schema rather than listed, so a
secret added later (a provider key, a webhook secret) is rotated without anyone remembering to
add it here; a test holds every `LargeBinary` column to that naming.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.crypto import KeyBox
from store.models import Base

SUFFIX = "_ciphertext"


@dataclass(frozen=True)
class ColumnRotation:
    """What `rotate-keys` did to one column: re-encrypted rows, and rows already current."""

    column: str  # "table.column"
    rotated: int
    already_current: int


def encrypted_columns() -> list[tuple[Table, Column[bytes]]]:
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith(SUFFIX)
    ]


async def rotate_all(session: AsyncSession, *, keybox: KeyBox) -> list[ColumnRotation]:
    """Every encrypted value re-encrypted with the current key; idempotent, one transaction
    (an unreadable value raises `UnreadableKeyError` and nothing is changed)."""
    reports = []
    for table, column in encrypted_columns():
        keys = list(table.primary_key.columns)
        rows = await session.execute(
            select(*keys, column).where(column.is_not(None)).with_for_update()
        )
        rotated = current = 0
        for *ids, ciphertext in rows:
            if keybox.is_current(ciphertext):
                current += 1
                continue
            where = [key == value for key, value in zip(keys, ids, strict=True)]
            await session.execute(
                update(table).where(*where).values({column.name: keybox.rotate(ciphertext)})
            )
            rotated += 1
        reports.append(ColumnRotation(f"{table.name}.{column.name}", rotated, current))
    return reports
