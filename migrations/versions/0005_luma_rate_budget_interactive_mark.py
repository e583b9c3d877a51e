"""luma rate budget: when a person last asked, and the pace of bulk sends

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("luma_rate_state") as batch:
        batch.add_column(sa.Column("interactive_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paced_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("luma_rate_state") as batch:
        batch.drop_column("paced_until")
        batch.drop_column("interactive_at")
