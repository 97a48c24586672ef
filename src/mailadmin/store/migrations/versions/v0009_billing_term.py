"""Billing term per customer and reseller: the months each renewal extends the service by
(seeds 001, 002); empty, the policy's ``renewal_term_months`` applies.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("mailadmin_resellers", "mailadmin_customers"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("term_months", sa.Integer, nullable=True))


def downgrade() -> None:
    for table in ("mailadmin_resellers", "mailadmin_customers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("term_months")
