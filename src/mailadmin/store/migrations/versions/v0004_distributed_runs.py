"""Distributed bulk runs: one row per item, and how a run was started and stopped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

A run split into procrastinate jobs records every item before the first job is enqueued
(in the same transaction): its chunk, its state (``pending``, ``done``, ``failed``,
``cancelled``) and, once settled, its outcome and result. A worker that retries a chunk
after a crash skips the items already settled, so each item ends exactly once.
``mailadmin_runs`` gains ``distributed`` (``journal resume`` leaves such runs to the
workers), ``total`` and ``cancelled``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailadmin_runs") as table:
        table.add_column(sa.Column("distributed", sa.Boolean, nullable=True))
        table.add_column(sa.Column("total", sa.Integer, nullable=True))
        table.add_column(sa.Column("cancelled", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "mailadmin_run_items",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("chunk", sa.Integer, nullable=False),
        sa.Column("key", sa.String(600), nullable=False),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("result", sa.Text),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("run_id", "seq"),
    )
    op.create_index(
        "ix_mailadmin_run_items_chunk", "mailadmin_run_items", ["run_id", "chunk", "state"]
    )


def downgrade() -> None:
    op.drop_index("ix_mailadmin_run_items_chunk", "mailadmin_run_items")
    op.drop_table("mailadmin_run_items")
    with op.batch_alter_table("mailadmin_runs") as table:
        table.drop_column("cancelled")
        table.drop_column("total")
        table.drop_column("distributed")
