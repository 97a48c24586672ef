"""Journal: when each write was sent (``sent``: the write fence counts a write's landing
horizon from it, and ignores a write never sent), and an index on ``subject_key``, so the
fence finds a subject's unsettled rows without scanning the journal.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailadmin_journal") as table:
        table.add_column(sa.Column("sent", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_mailadmin_journal_subject_key", "mailadmin_journal", ["subject_key"])


def downgrade() -> None:
    op.drop_index("ix_mailadmin_journal_subject_key", "mailadmin_journal")
    with op.batch_alter_table("mailadmin_journal") as table:
        table.drop_column("sent")
