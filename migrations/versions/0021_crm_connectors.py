"""CRM and Airtable connectors per organization and their per-record sync state

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_org_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "org_crm_connectors",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("token_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("token_fingerprint", sa.String(length=8), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("field_map", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("luma_contact_tags", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        _org_fk("org_crm_connectors"),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_crm_connectors")),
    )
    op.create_table(
        "crm_record_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=16), nullable=False),
        sa.Column("normalized_email", sa.String(length=320), nullable=False),
        sa.Column("fields_hash", sa.String(length=64), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        _org_fk("crm_record_states"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_record_states")),
        sa.UniqueConstraint(
            "org_id", "connector", "normalized_email", name=op.f("uq_crm_record_states_org_id")
        ),
    )
    op.create_table(
        "crm_sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=255), nullable=False),
        sa.Column("connector", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        _org_fk("crm_sync_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sync_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_crm_sync_runs_run_key")),
    )
    op.create_index("ix_crm_sync_runs_org_started", "crm_sync_runs", ["org_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_crm_sync_runs_org_started", table_name="crm_sync_runs")
    op.drop_table("crm_sync_runs")
    op.drop_table("crm_record_states")
    op.drop_table("org_crm_connectors")
