"""The tables of the business rules, as the code queries them.

The migrations in ``migrations/versions`` create them; this module only describes them.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "addon_sales",
    "customers",
    "deliveries",
    "events",
    "journal",
    "mailbox_settings",
    "metadata",
    "orders",
    "oversells",
    "removed_records",
    "resellers",
    "run_items",
    "run_leases",
    "runs",
    "tenant_status",
    "tenant_use",
    "webhooks",
]

metadata = sa.MetaData()


def _stamps() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


resellers = sa.Table(
    "mailadmin_resellers",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("instance", sa.String(255)),
    sa.Column("prepaid", sa.Boolean, nullable=False),
    sa.Column("may_oversell", sa.Boolean, nullable=False),
    sa.Column("package", sa.Text, nullable=False),
    sa.Column("renewal", sa.Date),
    sa.Column("term_months", sa.Integer),
    *_stamps(),
)
customers = sa.Table(
    "mailadmin_customers",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("reseller", sa.String(255)),
    sa.Column("package", sa.Text, nullable=False),
    sa.Column("renewal", sa.Date),
    sa.Column("term_months", sa.Integer),
    *_stamps(),
)
addon_sales = sa.Table(
    "mailadmin_addon_sales",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner_kind", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("addon", sa.String(128), nullable=False),
    sa.Column("resource", sa.String(32), nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("copy_of", sa.String(128)),
    *_stamps(),
)
oversells = sa.Table(
    "mailadmin_oversells",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reseller", sa.String(255), nullable=False),
    sa.Column("customer", sa.String(255), nullable=False),
    sa.Column("resource", sa.String(32), nullable=False),
    sa.Column("parent_allocation", sa.Integer, nullable=False),
    sa.Column("children_allocation", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
mailbox_settings = sa.Table(
    "mailadmin_mailbox_settings",
    metadata,
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("allow_upgrade", sa.Boolean, nullable=False),
    *_stamps(),
)
orders = sa.Table(
    "mailadmin_orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    *_stamps(),
)
journal = sa.Table(
    "mailadmin_journal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("instance", sa.String(255), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("arguments", sa.Text, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16)),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("idempotency_key", sa.String(64)),
    sa.Column("identity", sa.String(320)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("subject_key", sa.String(600)),
    sa.Column("target", sa.Text),
    sa.Column("state_before", sa.Text),
    sa.Column("state_after", sa.Text),
    sa.Column("applied", sa.Text),
    sa.Column("missing", sa.Text),
    sa.Column("debug", sa.Text),
    sa.Column("finished", sa.DateTime(timezone=True)),
    sa.Column("resumed", sa.DateTime(timezone=True)),
    sa.Column("resumed_from", sa.String(16)),
    sa.Column("sent", sa.DateTime(timezone=True)),
)
runs = sa.Table(
    "mailadmin_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("identity", sa.String(320)),
    sa.Column("items", sa.Text, nullable=False),
    sa.Column("finished", sa.DateTime(timezone=True)),
    sa.Column("distributed", sa.Boolean),
    sa.Column("total", sa.Integer),
    sa.Column("cancelled", sa.DateTime(timezone=True)),
)
run_items = sa.Table(
    "mailadmin_run_items",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
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
)
run_leases = sa.Table(
    "mailadmin_run_leases",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("taken", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
)
tenant_use = sa.Table(
    "mailadmin_tenant_use",
    metadata,
    sa.Column("instance", sa.String(255), primary_key=True),
    sa.Column("tenant", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(32), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
    sa.Column("counted", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)
events = sa.Table(
    "mailadmin_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("once", sa.String(400), unique=True),
)
webhooks = sa.Table(
    "mailadmin_webhooks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(80), nullable=False),
    sa.Column("kinds", sa.Text, nullable=False),
    sa.Column("label", sa.String(255), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cursor", sa.Integer, nullable=False),
    sa.Column("removed", sa.DateTime(timezone=True)),
)
deliveries = sa.Table(
    "mailadmin_deliveries",
    metadata,
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
)
tenant_status = sa.Table(
    "mailadmin_tenant_status",
    metadata,
    sa.Column("tenant", sa.String(255), primary_key=True),
    sa.Column("instance", sa.String(255), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("identity", sa.String(255)),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)
removed_records = sa.Table(
    "mailadmin_removed_records",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("removed", sa.DateTime(timezone=True), nullable=False),
)
