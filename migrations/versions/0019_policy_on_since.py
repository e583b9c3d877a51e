"""approval policies: when the policy was last switched on (the sync's safety net decides
only registrations made since)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approval_policies") as batch:
        batch.add_column(sa.Column("on_since", sa.DateTime(timezone=True), nullable=True))
    # Policies already on: their last change is the latest moment they can have been switched
    # on, so the sync never reaches further back than the policy did.
    op.execute("UPDATE approval_policies SET on_since = updated_at WHERE mode <> 'off'")


def downgrade() -> None:
    with op.batch_alter_table("approval_policies") as batch:
        batch.drop_column("on_since")
