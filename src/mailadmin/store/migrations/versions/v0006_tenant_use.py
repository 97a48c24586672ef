"""Tenant use: how many mailboxes of each resource a tenant uses, kept beside allocations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

One row per (instance, tenant, resource). A live count sets it; each mailbox created or
deleted through the orchestrator moves it by one, so a creation beyond an allocation is
refused from the store, before any request reaches the platform.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailadmin_tenant_use",
        sa.Column("instance", sa.String(255), primary_key=True),
        sa.Column("tenant", sa.String(255), primary_key=True),
        sa.Column("resource", sa.String(32), primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
        # When the platform was last counted; ``updated`` moves with every create/delete.
        sa.Column("counted", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    # The use is derived data (the next live count rebuilds it): dropping it loses nothing.
    op.drop_table("mailadmin_tenant_use")
