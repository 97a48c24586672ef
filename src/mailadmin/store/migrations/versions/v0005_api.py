"""HTTP API: API keys (hashed), idempotency records, bulk runs and their items.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Written beside the durable journal (0003) and the distributed runs (0004); its tables do not
overlap theirs, so it follows them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailadmin_api_keys",
        # The public part of the key (``mak_<id>_...``): found without scanning hashes.
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("identity", sa.String(400), nullable=False),
        sa.Column("label", sa.String(255), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True)),
        sa.Column("revoked", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "mailadmin_api_idempotency",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("body", sa.Text),
        sa.Column("headers", sa.Text),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_mailadmin_api_idempotency_created", "mailadmin_api_idempotency", ["created"]
    )
    op.create_table(
        "mailadmin_api_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("identity", sa.String(400), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mailadmin_api_runs_state", "mailadmin_api_runs", ["state"])
    op.create_table(
        "mailadmin_api_run_items",
        sa.Column(
            "run_id", sa.String(36), sa.ForeignKey("mailadmin_api_runs.id"), primary_key=True
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "mailadmin_api_run_items",
        "mailadmin_api_runs",
        "mailadmin_api_idempotency",
        "mailadmin_api_keys",
    ):
        op.drop_table(table)
