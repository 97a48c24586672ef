"""The HTTP API's tables (created by the Alembic revision ``0005``).

``RUNS`` indexes every run the API started (owner, kind, concurrency, dry run); the plan
and the writes of a plan-change or add-on run are the journal's (``mailadmin_runs``,
``mailadmin_journal``), so ``RUN_ITEMS`` holds only their caller-facing errors, and the
whole items of dry runs and sales, which the journal does not hold as runs.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["API_KEYS", "IDEMPOTENCY", "RUNS", "RUN_ITEMS"]

_META = sa.MetaData()
_WHEN = sa.DateTime(timezone=True)

API_KEYS = sa.Table(
    "mailadmin_api_keys",
    _META,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("identity", sa.String(400), nullable=False),
    sa.Column("label", sa.String(255), nullable=False),
    sa.Column("created", _WHEN, nullable=False),
    sa.Column("last_used", _WHEN),
    sa.Column("revoked", _WHEN),
    sa.Column("read_only", sa.Boolean, nullable=False, server_default=sa.false()),
)

IDEMPOTENCY = sa.Table(
    "mailadmin_api_idempotency",
    _META,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("status", sa.Integer),
    sa.Column("body", sa.Text),
    sa.Column("headers", sa.Text),
    sa.Column("created", _WHEN, nullable=False),
)

RUNS = sa.Table(
    "mailadmin_api_runs",
    _META,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("identity", sa.String(400), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("created", _WHEN, nullable=False),
    sa.Column("updated", _WHEN, nullable=False),
)

RUN_ITEMS = sa.Table(
    "mailadmin_api_run_items",
    _META,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("result", sa.Text),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("updated", _WHEN, nullable=False),
)
