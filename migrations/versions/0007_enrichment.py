"""enrichment providers and cache

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILE_COLUMNS = (
    ("enriched_company", sa.String(length=255)),
    ("enriched_title", sa.String(length=255)),
    ("seniority", sa.String(length=64)),
    ("enriched_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "org_enrichment",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_enrichment_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_enrichment")),
    )
    op.create_table(
        "enrichment_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("normalized_email", sa.String(length=320), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("seniority", sa.String(length=64), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_enrichment_cache_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichment_cache")),
        sa.UniqueConstraint(
            "org_id", "provider", "normalized_email", name=op.f("uq_enrichment_cache_org_id")
        ),
    )
    with op.batch_alter_table("guest_profiles") as batch_op:
        for name, type_ in PROFILE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guest_profiles") as batch_op:
        for name, _ in reversed(PROFILE_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table("enrichment_cache")
    op.drop_table("org_enrichment")
