"""guests: the default list order (by name) of live rows as an index, so a page of an event's
guests is read off the index rather than sorted, and its total counted from the index alone

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_guests_live_by_name",
        "guests",
        ["org_id", "luma_event_id", sa.text("lower(name)"), "id"],
        unique=False,
        postgresql_where=sa.text("gone_at IS NULL"),
        sqlite_where=sa.text("gone_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_guests_live_by_name", table_name="guests")
