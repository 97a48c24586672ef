"""Alembic environment: mailadmin always hands over an open connection."""

from __future__ import annotations

from alembic import context

from mailadmin.store.database import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("mailadmin migrations run through mailadmin.store.Database")

context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things: batch mode rebuilds tables when a migration needs it.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
