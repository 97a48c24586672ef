"""Baseline: the journal and kept-allocations tables, adopted when they already exist.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

Before migrations existed, ``Journal`` and ``Allocations`` created their tables with
``create_all``. A database from then is adopted as it is (its rows kept); a new one gets
the same tables here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "mailadmin_journal" not in existing:
        op.create_table(
            "mailadmin_journal",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("call_id", sa.String(64), nullable=False),
            sa.Column("instance", sa.String(255), nullable=False),
            sa.Column("operation", sa.String(64), nullable=False),
            sa.Column("subject", sa.String(512), nullable=False),
            sa.Column("arguments", sa.Text, nullable=False),
            sa.Column("dry_run", sa.Boolean, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("outcome", sa.String(16)),
            sa.Column("before", sa.Text),
            sa.Column("after", sa.Text),
            sa.Column("error_code", sa.String(64)),
            sa.Column("error_message", sa.Text),
        )
        # The name create_all gives an index=True column, so both paths end alike.
        op.create_index("ix_mailadmin_journal_call_id", "mailadmin_journal", ["call_id"])
    if "mailadmin_allocations" not in existing:
        op.create_table(
            "mailadmin_allocations",
            sa.Column("instance", sa.String(255), primary_key=True),
            sa.Column("tenant", sa.String(255), primary_key=True),
            sa.Column("addon", sa.String(64), primary_key=True),
            sa.Column("quantity", sa.Integer, nullable=False),
            sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    # Never drop audit data: going below the baseline leaves the adopted tables in place.
    pass
