"""Durable journal: intent before sending, verified outcome after, resume.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Adds to each journal row the intent (idempotency key, acting identity, bulk run, subject
key, target, state read before) and the verified end (state after, parts applied and
missing, debug detail apart from the user-facing error, when it finished and when a
resume settled it); and the table of bulk runs with every item planned, so a run
cut short can be finished as a whole.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("idempotency_key", sa.String(64)),
    ("identity", sa.String(320)),
    ("run_id", sa.String(64)),
    ("subject_key", sa.String(600)),
    ("target", sa.Text),
    ("state_before", sa.Text),
    ("state_after", sa.Text),
    ("applied", sa.Text),
    ("missing", sa.Text),
    ("debug", sa.Text),
    ("finished", sa.DateTime(timezone=True)),
    ("resumed", sa.DateTime(timezone=True)),
    ("resumed_from", sa.String(16)),
)


def upgrade() -> None:
    with op.batch_alter_table("mailadmin_journal") as table:
        for name, kind in _COLUMNS:
            table.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "mailadmin_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("identity", sa.String(320)),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_mailadmin_journal_run_id", "mailadmin_journal", ["run_id"])
    op.create_index("ix_mailadmin_journal_status", "mailadmin_journal", ["status"])
    op.create_index("ix_mailadmin_journal_at", "mailadmin_journal", ["at"])
    op.create_index(
        "ix_mailadmin_journal_idempotency_key", "mailadmin_journal", ["idempotency_key"]
    )


def downgrade() -> None:
    op.drop_table("mailadmin_runs")
    for name in ("idempotency_key", "at", "status", "run_id"):
        op.drop_index(f"ix_mailadmin_journal_{name}", "mailadmin_journal")
    with op.batch_alter_table("mailadmin_journal") as table:
        for name, _kind in reversed(_COLUMNS):
            table.drop_column(name)
