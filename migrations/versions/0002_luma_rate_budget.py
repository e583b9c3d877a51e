"""luma rate budget: shared per-calendar request log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "luma_rate_state",
        sa.Column("budget_key", sa.String(length=128), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("budget_key", name=op.f("pk_luma_rate_state")),
    )
    op.create_table(
        "luma_rate_sends",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("budget_key", sa.String(length=128), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_luma_rate_sends")),
    )
    with op.batch_alter_table("luma_rate_sends", schema=None) as batch_op:
        batch_op.create_index(
            "ix_luma_rate_sends_key_time", ["budget_key", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("luma_rate_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_luma_rate_sends_key_time")

    op.drop_table("luma_rate_sends")
    op.drop_table("luma_rate_state")
