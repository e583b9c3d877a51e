"""webhooks registered with Luma: the org's webhook id, encrypted secret and status, and the
deliveries already accepted (replays are refused)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("luma_webhook_id", sa.String(length=64)))
    op.add_column("organizations", sa.Column("webhook_secret_ciphertext", sa.LargeBinary()))
    op.add_column("organizations", sa.Column("webhook_status", sa.String(length=16)))
    op.create_table(
        "luma_webhook_deliveries",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_luma_webhook_deliveries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "delivery_id", name=op.f("pk_luma_webhook_deliveries")),
    )
    op.create_index(
        op.f("ix_luma_webhook_deliveries_received_at"),
        "luma_webhook_deliveries",
        ["received_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_luma_webhook_deliveries_received_at"), table_name="luma_webhook_deliveries"
    )
    op.drop_table("luma_webhook_deliveries")
    op.drop_column("organizations", "webhook_status")
    op.drop_column("organizations", "webhook_secret_ciphertext")
    op.drop_column("organizations", "luma_webhook_id")
