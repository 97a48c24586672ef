"""Events and webhooks: the outbox of events (written in the transaction of the change
that caused each), the registered webhook endpoints and each delivery of an event to one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailadmin_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(40), nullable=False, unique=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        # A finding seen again (the same over-use in the next report) is one event.
        sa.Column("once", sa.String(400), unique=True),
    )
    op.create_table(
        "mailadmin_webhooks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(80), nullable=False),
        sa.Column("kinds", sa.Text, nullable=False),
        sa.Column("label", sa.String(255), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        # The newest event already handed to this endpoint's deliveries.
        sa.Column("cursor", sa.Integer, nullable=False),
        sa.Column("removed", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "mailadmin_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("delivered", sa.DateTime(timezone=True)),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_mailadmin_deliveries_once"),
    )
    op.create_index("ix_mailadmin_deliveries_due", "mailadmin_deliveries", ["state", "due"])


def downgrade() -> None:
    op.drop_index("ix_mailadmin_deliveries_due", "mailadmin_deliveries")
    op.drop_table("mailadmin_deliveries")
    op.drop_table("mailadmin_webhooks")
    op.drop_table("mailadmin_events")
