"""The durable record of every write: SQLite by default, any SQLAlchemy URL otherwise.

A write is recorded as ``started`` before the platform is touched and completed with its
outcome or error afterwards, so a crash between the two leaves a visible trace instead of
a silent gap. Dry runs are recorded too, flagged as such, and so are calls a policy
refused (status ``refused``, with the reason).

The methods are blocking (SQLAlchemy); async code runs them in a worker thread
(:meth:`Journal.run`), so a slow database never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailadmin.contract.errors import MailadminError
    from mailadmin.contract.provider import CallInfo

__all__ = ["Journal", "JournalEntry"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class JournalEntry:
    """One recorded write. ``status``: ``started`` (sent, no answer recorded yet),
    ``done``, ``failed`` or ``refused`` (a policy hook said no; nothing was sent)."""

    id: int
    at: datetime
    call_id: str
    instance: str
    operation: str
    subject: str
    arguments: dict[str, Any]
    dry_run: bool
    status: str
    outcome: str | None
    before: Any
    after: Any
    error_code: str | None
    error_message: str | None


class Journal:
    """Records writes in a database table ``mailadmin_journal``.

    ``Journal("sqlite:///journal.sqlite")``; ``Journal("sqlite://")`` keeps it in memory.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url = url
        if url in ("sqlite://", "sqlite:///:memory:"):
            # One shared connection, or every thread (the blocking facade's loop runs in
            # its own) would see a different empty database.
            self._engine = sa.create_engine(
                url, poolclass=sa.StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            self._engine = sa.create_engine(url)
        self._meta = sa.MetaData()
        self._table = sa.Table(
            "mailadmin_journal",
            self._meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("call_id", sa.String(64), nullable=False, index=True),
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
        )
        self._meta.create_all(self._engine)
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        """The database engine (other mailadmin tables, such as allocations, share it)."""
        return self._engine

    @property
    def lock(self) -> threading.Lock:
        """Held around every use of the engine; tables sharing the engine take it too
        (an in-memory database is one connection for every thread)."""
        return self._lock

    async def run(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one of the blocking methods in a worker thread:
        ``await journal.run(journal.started, call)``."""
        return await asyncio.to_thread(method, *args, **kwargs)

    def started(self, call: CallInfo) -> None:
        """Record that a write is about to be sent."""
        self._insert(call, status="started")

    def refused(self, call: CallInfo, error: MailadminError) -> None:
        """Record a write that a policy refused before the platform was touched."""
        self._insert(call, status="refused", error_code=error.code, error_message=error.message)

    def _insert(self, call: CallInfo, **values: Any) -> None:
        arguments = {k: _plain(v) for k, v in call.arguments.items()}
        with self._lock, self._engine.begin() as db:
            db.execute(
                self._table.insert().values(
                    at=datetime.now(UTC),
                    call_id=call.call_id,
                    instance=call.provider,
                    operation=call.operation,
                    subject=_subject(arguments),
                    arguments=json.dumps(arguments, sort_keys=True),
                    dry_run=call.dry_run,
                    **values,
                )
            )

    def succeeded(self, call: CallInfo, result: object) -> None:
        """Complete the record of a write with its outcome."""
        data = _plain(result)
        values: dict[str, Any] = {"status": "done"}
        if isinstance(data, dict):
            values.update(
                outcome=data.get("outcome"),
                before=json.dumps(data.get("before")),
                after=json.dumps(data.get("after")),
            )
        self._finish(call, values)

    def failed(self, call: CallInfo, error: MailadminError) -> None:
        """Complete the record of a write with its (user-safe) error."""
        self._finish(
            call, {"status": "failed", "error_code": error.code, "error_message": error.message}
        )

    def entries(
        self,
        limit: int = 100,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        subject: str | None = None,
        operation: str | None = None,
        status: str | None = None,
        outcome: str | None = None,
        instance: str | None = None,
    ) -> list[JournalEntry]:
        """The most recent records, newest first, optionally filtered.

        ``since``/``until``: time range (``until`` excluded); ``subject``: text the subject
        contains; ``operation``, ``status`` (started, done, failed), ``outcome`` (changed,
        unchanged, accepted), ``instance``: exact values.
        """
        t = self._table
        query = t.select()
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        if subject:
            query = query.where(t.c.subject.contains(subject, autoescape=True))
        for column, value in (
            (t.c.operation, operation),
            (t.c.status, status),
            (t.c.outcome, outcome),
            (t.c.instance, instance),
        ):
            if value is not None:
                query = query.where(column == value)
        # Under the lock: an in-memory database is one connection shared by every thread.
        with self._lock, self._engine.connect() as db:
            rows = db.execute(query.order_by(t.c.id.desc()).limit(limit)).mappings().all()
        return [
            JournalEntry(
                id=r["id"],
                at=r["at"],
                call_id=r["call_id"],
                instance=r["instance"],
                operation=r["operation"],
                subject=r["subject"],
                arguments=json.loads(r["arguments"]),
                dry_run=bool(r["dry_run"]),
                status=r["status"],
                outcome=r["outcome"],
                before=json.loads(r["before"]) if r["before"] is not None else None,
                after=json.loads(r["after"]) if r["after"] is not None else None,
                error_code=r["error_code"],
                error_message=r["error_message"],
            )
            for r in rows
        ]

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def _finish(self, call: CallInfo, values: dict[str, Any]) -> None:
        t: sa.Table = self._table
        with self._lock, self._engine.begin() as db:
            db.execute(t.update().where(t.c.call_id == call.call_id).values(**values))


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return value


def _subject(arguments: dict[str, Any]) -> str:
    mailbox = arguments.get("mailbox")
    if isinstance(mailbox, dict) and "address" in mailbox:
        return str(mailbox["address"])
    tenant = arguments.get("tenant")
    name = str(tenant.get("name", "")) if isinstance(tenant, dict) else ""
    addon = arguments.get("addon")
    if isinstance(addon, dict) and addon.get("name"):
        plan = f":{addon['plan']}" if addon.get("plan") else ""
        return f"{name} {addon['name']}{plan}"
    return name
