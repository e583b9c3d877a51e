"""conversation context: what the bot last answered each person in each chat, for follow-ups

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_chat_contexts_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_contexts")),
        sa.UniqueConstraint("org_id", "chat_id", "user_id", name="uq_chat_contexts_org_chat_user"),
    )
    op.create_index(
        op.f("ix_chat_contexts_updated_at"), "chat_contexts", ["updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_contexts_updated_at"), table_name="chat_contexts")
    op.drop_table("chat_contexts")
