"""guest intelligence tags notes vip

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guest_profiles") as batch_op:
        batch_op.add_column(sa.Column("company_source", sa.String(length=16), nullable=True))
    with op.batch_alter_table("guest_tags") as batch_op:
        batch_op.create_index("ix_guest_tags_org_tag", ["org_id", "tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guest_tags") as batch_op:
        batch_op.drop_index("ix_guest_tags_org_tag")
    with op.batch_alter_table("guest_profiles") as batch_op:
        batch_op.drop_column("company_source")
