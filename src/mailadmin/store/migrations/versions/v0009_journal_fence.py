"""Journal: an index on ``subject_key``, so the write fence finds a subject's unsettled
rows without scanning the journal.

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mailadmin_journal_subject_key", "mailadmin_journal", ["subject_key"])


def downgrade() -> None:
    op.drop_index("ix_mailadmin_journal_subject_key", "mailadmin_journal")
