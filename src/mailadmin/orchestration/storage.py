"""The store as the faces see it: the journal's record types and the schema's state.

The faces (shell, HTTP API) reach the database through orchestration; what they read of
it directly comes through this module, so ``store/`` stays theirs to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailadmin.store.database import Database
from mailadmin.store.events import emit as emit_event
from mailadmin.store.journal import Journal, JournalEntry
from mailadmin.store.runs import JournalPlan, RunStatus

__all__ = [
    "Database",
    "Journal",
    "JournalEntry",
    "JournalPlan",
    "RunStatus",
    "SchemaStatus",
    "emit_event",
    "schema_status",
]


@dataclass(frozen=True)
class SchemaStatus:
    """The database's schema version against the newest one this mailadmin knows.

    ``url``: the database, password hidden; ``current``: ``"0008"`` (``None``: never
    migrated); ``head``: the newest version.
    """

    url: str
    current: str | None
    head: str


def schema_status(journal: Journal | None) -> SchemaStatus:
    """Where the journal's database stands, read without migrating it."""
    database = Database(journal.engine if journal else "sqlite://", upgrade=False)
    return SchemaStatus(url=database.url, current=database.current(), head=Database.head())
