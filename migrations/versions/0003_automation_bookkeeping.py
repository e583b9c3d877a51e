"""automation bookkeeping

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_job_items",
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("luma_guest_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status_at_resolve", sa.String(length=32), nullable=False),
        sa.Column("is_paid", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_bulk_job_items_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_bulk_job_items")),
        sa.UniqueConstraint("job_id", "luma_guest_id", name=op.f("uq_bulk_job_items_job_id")),
    )
    op.create_table(
        "event_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("luma_event_id", sa.String(length=64), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_event_summaries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_summaries")),
        sa.UniqueConstraint("org_id", "luma_event_id", name=op.f("uq_event_summaries_org_id")),
    )
    op.create_table(
        "usage_counters",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_usage_counters_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "day", "kind", name=op.f("pk_usage_counters")),
    )

    with op.batch_alter_table("automation_settings") as batch_op:
        batch_op.add_column(sa.Column("digest_last_fingerprint", sa.String(length=64)))


def downgrade() -> None:
    with op.batch_alter_table("automation_settings") as batch_op:
        batch_op.drop_column("digest_last_fingerprint")
    op.drop_table("usage_counters")
    op.drop_table("event_summaries")
    op.drop_table("bulk_job_items")
