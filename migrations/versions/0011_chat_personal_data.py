"""membership as the one authority: a group's personal-data setting, removed members,
API token expiry

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Off for every group, linked ones included: an org admin turns it on knowingly.
    op.add_column(
        "chats",
        sa.Column("personal_data", sa.Boolean(), nullable=False, server_default=sa.false()),
    )

    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "removed_members",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_removed_members_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "user_id", name=op.f("pk_removed_members")),
    )


def downgrade() -> None:
    op.drop_table("removed_members")
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("chats", "personal_data")
