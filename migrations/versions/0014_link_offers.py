"""organization keys: the calendars a key opens, offered for a press that picks one (the key
waits encrypted until then)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_offers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("calendars", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_offers")),
    )
    op.create_index(op.f("ix_link_offers_chat_id"), "link_offers", ["chat_id"], unique=False)
    op.create_index(op.f("ix_link_offers_expires_at"), "link_offers", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_link_offers_expires_at"), table_name="link_offers")
    op.drop_index(op.f("ix_link_offers_chat_id"), table_name="link_offers")
    op.drop_table("link_offers")
