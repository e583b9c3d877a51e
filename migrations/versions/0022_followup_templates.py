"""saved follow-up email templates per organization

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULLs never collide in a unique constraint, so (org, default_for) allows any number of
    # templates that are nobody's default and at most one default per audience.
    op.create_table(
        "followup_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("default_for", sa.String(length=16), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_followup_templates_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_templates")),
        sa.UniqueConstraint("org_id", "name", name="uq_followup_templates_org_id_name"),
        sa.UniqueConstraint(
            "org_id", "default_for", name="uq_followup_templates_org_id_default_for"
        ),
    )


def downgrade() -> None:
    op.drop_table("followup_templates")
