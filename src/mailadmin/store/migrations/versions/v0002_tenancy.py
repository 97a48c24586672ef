"""Tenancy and business rules: resellers, customers, add-on sales, oversells, orders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "mailadmin_resellers",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("instance", sa.String(255)),
        sa.Column("prepaid", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("may_oversell", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("package", sa.Text, nullable=False, server_default="{}"),
        sa.Column("renewal", sa.Date),
        *_stamps(),
    )
    op.create_table(
        "mailadmin_customers",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("reseller", sa.String(255), sa.ForeignKey("mailadmin_resellers.name")),
        sa.Column("package", sa.Text, nullable=False, server_default="{}"),
        sa.Column("renewal", sa.Date),
        *_stamps(),
    )
    op.create_index("ix_mailadmin_customers_reseller", "mailadmin_customers", ["reseller"])
    op.create_table(
        "mailadmin_addon_sales",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner_kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("addon", sa.String(128), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("copy_of", sa.String(128)),
        *_stamps(),
        sa.UniqueConstraint("owner_kind", "owner", "addon", name="uq_mailadmin_addon_sales"),
    )
    op.create_table(
        "mailadmin_oversells",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reseller", sa.String(255), nullable=False),
        sa.Column("customer", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("parent_allocation", sa.Integer, nullable=False),
        sa.Column("children_allocation", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mailadmin_mailbox_settings",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("allow_upgrade", sa.Boolean, nullable=False, server_default=sa.false()),
        *_stamps(),
    )
    op.create_table(
        "mailadmin_orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        *_stamps(),
    )
    op.create_index("ix_mailadmin_orders_subject", "mailadmin_orders", ["subject", "state"])


def downgrade() -> None:
    for table in (
        "mailadmin_orders",
        "mailadmin_mailbox_settings",
        "mailadmin_oversells",
        "mailadmin_addon_sales",
        "mailadmin_customers",
        "mailadmin_resellers",
    ):
        op.drop_table(table)
