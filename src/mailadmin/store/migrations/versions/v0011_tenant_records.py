"""Tenant status and removed records.

``mailadmin_tenant_status``: the tenants suspended through mailadmin (non-payment,
abuse), so the policy step refuses their plan changes, add-ons and sales before anything
is sent, and reports show them. ``mailadmin_removed_records``: the customers and
resellers removed through mailadmin, so a record the configuration file still declares
does not come back on the next load (adding it again lifts this).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

One row per suspended tenant; resuming it deletes the row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailadmin_tenant_status",
        sa.Column("tenant", sa.String(255), primary_key=True),
        sa.Column("instance", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("identity", sa.String(255)),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mailadmin_removed_records",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("removed", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mailadmin_removed_records")
    op.drop_table("mailadmin_tenant_status")
