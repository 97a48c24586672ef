"""Read-only API keys: a key flagged so may only read (``GET``/``HEAD``); the keys made
before it may act, as they always did.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailadmin_api_keys") as batch:
        batch.add_column(
            sa.Column("read_only", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("mailadmin_api_keys") as batch:
        batch.drop_column("read_only")
