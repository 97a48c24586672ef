"""The durable record of every write: SQLite by default, any SQLAlchemy URL otherwise.

Each write is one row. Its *intent* is committed before the platform is touched: the
operation, subject, target, an idempotency key, the acting identity and the bulk run it
belongs to (status ``started``); the state the provider read is added just before the
write is sent. Its *end* completes the same row: the outcome (``changed``, ``unchanged``,
``accepted``, ``partial`` with the parts applied and missing, ``failed`` or ``unknown``),
the state after, the user-facing error and, apart from it, the redacted debug detail.
A row still ``started``, or ended ``partial``/``unknown``, is *open*: ``mailadmin journal
resume`` settles it (:meth:`Orchestrator.resume`); one that a newer settled row of the same
subject supersedes is settled ``superseded`` without being sent again, and a resume never
overwrites the ``before`` a row recorded. Dry runs and refusals are recorded too.

Writes go through one writer thread that commits whatever is queued in one transaction
(a bulk run's rows are grouped; a lone write commits at once), so the event loop never
waits on the database and a busy run costs few commits. Within a batch, rows written by
the same statement go in one ``executemany`` and the write fence's look-ups of every
intent in one query, so a row costs the database's work, not a statement execution each.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from pydantic import SecretStr

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailadmin.contract.change import Change
    from mailadmin.contract.errors import MailadminError
    from mailadmin.contract.provider import CallInfo
    from mailadmin.store.database import Database

__all__ = ["OPEN_OUTCOMES", "Journal", "JournalEntry", "current_run", "run_scope"]

P = ParamSpec("P")
T = TypeVar("T")

#: Outcomes that leave a row open for ``journal resume``.
OPEN_OUTCOMES = ("partial", "unknown")
#: Outcomes of a newer row that settle its subject: an older open row gives way to it.
SETTLING_OUTCOMES = ("changed", "unchanged", "accepted")

_RUN: ContextVar[str | None] = ContextVar("mailadmin_run", default=None)


def current_run() -> str | None:
    """The bulk run the running call belongs to, if any."""
    return _RUN.get()


@contextmanager
def run_scope(run_id: str | None = None) -> Iterator[str]:
    """Journal the enclosed writes as one run (a new id unless given)."""
    run = run_id or uuid.uuid4().hex[:16]
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)


@dataclass(frozen=True)
class JournalEntry:
    """One recorded write. ``status``: ``started`` (intent recorded, no end yet),
    ``done``, ``failed`` or ``refused`` (nothing was sent). ``outcome``: ``changed``,
    ``unchanged``, ``accepted``, ``partial``, ``failed`` or ``unknown``."""

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
    idempotency_key: str | None = None
    identity: str | None = None
    run_id: str | None = None
    target: Any = None
    state_before: Any = None
    state_after: Any = None
    applied: list[str] | None = None
    missing: list[str] | None = None
    #: Developer detail, redacted, apart from the user-facing error (``journal show``).
    debug: Any = field(default=None, repr=False)
    finished: datetime | None = None
    resumed: datetime | None = None
    resumed_from: str | None = None
    #: When the write was about to be sent (``None``: it never was).
    sent: datetime | None = None

    @property
    def open(self) -> bool:
        """True while the platform's state for this write is not known to be settled."""
        if self.dry_run:
            return False
        return self.status == "started" or self.outcome in OPEN_OUTCOMES


_Op = Callable[["sa.Connection"], None]


class _Row:
    """A row insert or update the writer can send together with its neighbours: one
    ``executemany`` per statement shape in a batch instead of one execution per row
    (SQLAlchemy's per-execution cost was most of the writer's CPU in a bulk run).
    Calling it runs it alone, as any other op (the fallback when a batch fails)."""

    __slots__ = ("call_id", "look_up", "params", "shape", "statement")

    def __init__(
        self,
        statement: Any,
        params: dict[str, Any],
        *,
        call_id: str,
        look_up: _LookUp | None = None,
    ) -> None:
        self.statement = statement
        self.params = params
        self.call_id = call_id
        self.look_up = look_up
        # Rows share one executemany only with the same statement and the same columns.
        self.shape = (id(statement), tuple(params))

    def __call__(self, db: sa.Connection) -> None:
        db.execute(self.statement, self.params)
        if self.look_up is not None:
            self.look_up.run_alone(db, self.call_id)


class _LookUp:
    """The write fence's look-up folded into an intent's commit (see ``Journal.intent``):
    the subject's older rows that were sent and may still land, into ``found``."""

    __slots__ = ("found", "key", "query")

    def __init__(self, query: Any, key: str, found: list[JournalEntry]) -> None:
        self.query = query
        self.key = key
        self.found = found

    def run_alone(self, db: sa.Connection, call_id: str) -> None:
        rows = db.execute(self.query, {"_call_id": call_id, "_key": self.key})
        self.found.extend(_entry(r) for r in rows.mappings().all())


def _stop(db: sa.Connection) -> None:
    """Queued by :meth:`Journal.close`: the writer ends after what came before it."""


_STOP: _Op = _stop


class Journal:
    """Records writes in the table ``mailadmin_journal`` of the mailadmin database.

    ``Journal("sqlite:///journal.sqlite")``; ``Journal("sqlite://")`` keeps it in memory.
    The schema is migrated (Alembic) on opening.
    """

    def __init__(self, url: str) -> None:
        from mailadmin.store.database import Database
        from mailadmin.store.schema import journal as table

        self.url = url
        self._lock = threading.Lock()
        self._db: Database = Database(url, lock=self._lock)
        self._engine = self._db.engine  # migrates now: fail early on a bad URL
        self._table = table
        self._queue: queue.SimpleQueue[tuple[_Op, Callable[[BaseException | None], None]]] = (
            queue.SimpleQueue()
        )
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._insert = table.insert()
        self._updates = _updates(table)
        self._resumed_success = _resumed_success(table)
        self._unsettled = _unsettled(table)
        self._many = _unsettled_many(table)

    @classmethod
    def deferred(cls, url: str) -> Journal:
        """A journal whose store is opened (and migrated) on its first use, not now: a
        process that never writes never loads the database layer."""
        return _Deferred(url)

    @property
    def engine(self) -> sa.Engine:
        """The database engine (other mailadmin tables, such as allocations, share it)."""
        return self._engine

    @property
    def database(self) -> Database:
        """The versioned store this journal lives in."""
        return self._db

    @property
    def lock(self) -> threading.Lock:
        """Held around every use of the engine; tables sharing the engine take it too
        (an in-memory database is one connection for every thread)."""
        return self._lock

    async def run(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one of the blocking methods in a worker thread:
        ``await journal.run(journal.entries, limit=10)``."""
        return await asyncio.to_thread(method, *args, **kwargs)

    # -- writing -------------------------------------------------------------------------

    async def write(self, op: _Op) -> None:
        """Commit ``op`` through the writer thread, grouped with whatever else is queued;
        returns once it is durable."""
        settle = _Waiter(asyncio.get_running_loop())
        self._enqueue(op, settle)
        done = settle.done
        # The row is committed even when the caller is cancelled meanwhile.
        await asyncio.shield(done)

    def write_now(self, op: _Op) -> None:
        """Commit ``op`` from blocking code (through the same writer, so order holds)."""
        finished = threading.Event()
        failure: list[BaseException] = []

        def settle(error: BaseException | None) -> None:
            if error is not None:
                failure.append(error)
            finished.set()

        self._enqueue(op, settle)
        finished.wait()
        if failure:
            raise failure[0]

    def _enqueue(self, op: _Op, settle: Callable[[BaseException | None], None]) -> None:
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="mailadmin-journal", daemon=True
                )
                self._writer.start()
        self._queue.put((op, settle))

    def _write_loop(self) -> None:
        # The writer keeps one connection for its life: checking one out of the pool and
        # returning it (a rollback) per batch was a fifth of its time.
        connection: sa.Connection | None = None
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < 500:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(op is _STOP for op, _ in batch)
                batch = [item for item in batch if item[0] is not _STOP]
                if stop and not batch:
                    return
                try:
                    if connection is None:
                        connection = self._engine.connect()
                    with self._db.transaction(connection) as db:
                        self._commit_batch(db, [op for op, _ in batch])
                except Exception:
                    if connection is not None:
                        connection.close()  # a broken connection is not used again
                        connection = None
                    # One bad row must not lose its neighbours: commit them one by one.
                    for op, settle in batch:
                        try:
                            with self._db.begin() as db:
                                op(db)
                        except Exception as exc:
                            settle(exc)
                        else:
                            settle(None)
                    if stop:
                        return
                    continue
                _settle_all([settle for _, settle in batch])
                if stop:
                    return
        finally:
            if connection is not None:
                with self._lock:  # an in-memory database's one connection is shared
                    connection.close()

    def _commit_batch(self, db: sa.Connection, ops: list[_Op]) -> None:
        """Run ``ops`` in order, each stretch of row writes as one ``executemany`` per
        statement shape (inserts first, then the fence's look-ups, then updates)."""
        rows: list[_Row] = []
        calls: set[str] = set()
        for op in ops:
            if isinstance(op, _Row) and op.call_id not in calls:
                rows.append(op)
                calls.add(op.call_id)
                continue
            self._send_rows(db, rows)
            rows, calls = [], set()
            if isinstance(op, _Row):  # a second write of one row: keep their order
                rows, calls = [op], {op.call_id}
            else:
                op(db)
        self._send_rows(db, rows)

    def _send_rows(self, db: sa.Connection, rows: list[_Row]) -> None:
        if not rows:
            return
        if len(rows) == 1:
            rows[0](db)
            return
        inserts = [r for r in rows if r.statement is self._insert]
        if inserts:
            db.execute(self._insert, [r.params for r in inserts])
        look_ups = [r for r in inserts if r.look_up is not None]
        if look_ups:
            self._look_up_all(db, look_ups)
        shapes: dict[tuple[int, tuple[str, ...]], list[_Row]] = {}
        for r in rows:
            if r.statement is not self._insert:
                shapes.setdefault(r.shape, []).append(r)
        for same in shapes.values():
            db.execute(same[0].statement, [r.params for r in same])

    def _look_up_all(self, db: sa.Connection, rows: list[_Row]) -> None:
        """The fence's look-ups of a batch of intents: one query for every open, sent row
        of their subjects and, only when there are some, one for the intents' own ids; a
        row counts for an intent when it came before it (a lower id), as in
        :meth:`unsettled_before`."""
        keys = sorted({r.look_up.key for r in rows if r.look_up is not None})
        own_ids, unsettled = self._many
        older: dict[str, list[Any]] = {}
        for record in db.execute(unsettled, {"_keys": keys}).mappings().all():
            older.setdefault(record["subject_key"], []).append(record)
        if not older:
            return  # almost always: nothing of these subjects may still land
        calls = [r.call_id for r in rows if r.look_up is not None and r.look_up.key in older]
        own: dict[str, int] = {
            call_id: row_id for call_id, row_id in db.execute(own_ids, {"_calls": calls})
        }
        for r in rows:
            look_up = r.look_up
            assert look_up is not None
            mine = own.get(r.call_id)
            look_up.found.extend(
                _entry(record)
                for record in older.get(look_up.key, ())
                if mine is not None and record["id"] < mine
            )

    # -- the statements ---------------------------------------------------------------------

    def intent(
        self,
        call: CallInfo,
        *,
        identity: str | None = None,
        unsettled: list[JournalEntry] | None = None,
    ) -> _Op:
        """The row of a write about to start (status ``started``). With ``unsettled``,
        the same commit also looks up the subject's older rows that may still land (what
        :meth:`unsettled_before` finds) into that list: the write fence then costs no
        query of its own when, as almost always, there are none."""
        arguments = {k: _argument(k, v) for k, v in call.arguments.items()}
        values = self._row(call, arguments, identity)
        values["status"] = "started"
        key = values["subject_key"]
        look_up = (
            _LookUp(self._unsettled, key, unsettled)
            if unsettled is not None and key is not None
            else None
        )
        return _Row(self._insert, values, call_id=call.call_id, look_up=look_up)

    def refusal(self, call: CallInfo, error: MailadminError, *, identity: str | None = None) -> _Op:
        """The row of a write a policy refused before the platform was touched."""
        arguments = {k: _argument(k, v) for k, v in call.arguments.items()}
        values = self._row(call, arguments, identity)
        values.update(
            status="refused",
            outcome="failed",
            error_code=error.code,
            error_message=error.message,
            finished=datetime.now(UTC),
        )
        row = _Row(self._insert, values, call_id=call.call_id)
        if values.get("run_id") is None or call.dry_run:
            return row
        failed = {"run_id": values["run_id"], "call_id": call.call_id, "outcome": "failed"}
        failed |= {"error_code": error.code, "error_message": error.message}
        return _with_item_failed(row, failed, self._table)

    def sending(self, call_id: str, change: Change[Any]) -> _Op:
        """Add the state the provider read to an intent, just before the write is sent."""
        values = {
            "state_before": _dump(change.before),
            "target": _dump(change.after),
            "sent": datetime.now(UTC),
        }
        return self._update(call_id, values, only_open=True)

    def success(self, call_id: str, result: object, *, resumed: str | None = None) -> _Op:
        """Complete a row with the result of a write that ended well."""
        data = _plain(result)
        values: dict[str, Any] = {"status": "done", "finished": datetime.now(UTC)}
        if isinstance(data, dict):
            values.update(
                outcome=data.get("outcome"),
                before=_dump(data.get("before")),
                after=_dump(data.get("after")),
                state_after=_dump(data.get("after")),
                applied=None,
                missing=None,
            )
            if data.get("note"):
                values["debug"] = _dump({"note": data["note"]})
        values |= _resumed(resumed)
        if resumed is not None and "before" in values:
            # A resume reads the state its own retry starts from; the row keeps the state
            # before the original write (what it recorded, else what it read before sending).
            before = values.pop("before")
            params = {**values, "_before": before, "_call_id": call_id}
            return _Row(self._resumed_success, params, call_id=call_id)
        return self._update(call_id, values)

    def superseded(self, entry: JournalEntry, newer: JournalEntry, note: str) -> _Op:
        """Settle an open row that the newer settled row ``newer`` of the same subject
        supersedes: outcome ``superseded``, nothing sent. Its recorded ``before`` is kept
        (else the state read before it was sent); its error moves to the debug detail."""
        import sqlalchemy as sa

        t = self._table
        debug = dict(entry.debug) if isinstance(entry.debug, dict) else {}
        if entry.error_message:
            debug["error"] = entry.error_message
        debug |= {"note": note, "superseded_by": newer.id}
        values: dict[str, Any] = {
            "status": "done",
            "outcome": "superseded",
            "finished": datetime.now(UTC),
            "error_code": None,
            "error_message": None,
            "debug": _dump(debug),
            "before": sa.func.coalesce(t.c.before, t.c.state_before),
        } | _resumed(entry.outcome or entry.status)

        def op(db: sa.Connection) -> None:
            # Only a row still open: a resume run twice, or its own process, settles once.
            still_open = sa.or_(t.c.status == "started", t.c.outcome.in_(OPEN_OUTCOMES))
            query = t.update().where(t.c.call_id == entry.call_id, t.c.dry_run == sa.false())
            db.execute(query.where(still_open).values(**values))

        return op

    def superseding(self, entry: JournalEntry) -> JournalEntry | None:
        """The newest row recorded after ``entry`` of the same subject (one mailbox; for
        an add-on, the same add-on of the tenant) that settled it (``changed``,
        ``unchanged``, ``accepted``), or ``None``. Its write set the subject after
        ``entry``'s, so repeating ``entry`` would undo it."""
        import sqlalchemy as sa

        from mailadmin.contract.calls import subject_key

        key = subject_key(entry.instance, entry.operation, entry.arguments)
        if key is None:
            return None
        t = self._table
        query = t.select().where(
            t.c.subject_key == key,
            t.c.id > entry.id,
            t.c.dry_run == sa.false(),
            t.c.status == "done",
            t.c.outcome.in_(SETTLING_OUTCOMES),
        )
        if entry.operation == "apply_addon":
            # A tenant's add-ons share one key; another add-on's change settles only its own.
            query = query.where(
                t.c.operation == "apply_addon",
                sa.func.lower(t.c.subject) == entry.subject.lower(),
            )
        with self._db.connect() as db:
            row = db.execute(query.order_by(t.c.id.desc()).limit(1)).mappings().first()
        return None if row is None else _entry(row)

    def failure(self, call_id: str, error: MailadminError, *, resumed: str | None = None) -> _Op:
        """Complete a row with the error of a write; the outcome says what the platform
        holds: ``partial``, ``unknown`` or ``failed`` (nothing applied)."""
        from mailadmin.contract.errors import OutcomeUnknown, PartialChange

        values: dict[str, Any] = {
            "status": "failed",
            "finished": datetime.now(UTC),
            "error_code": error.code,
            "error_message": error.message,
            "debug": _dump(_redacted(error.debug)) if error.debug else None,
        }
        if isinstance(error, PartialChange):
            values |= {
                "outcome": "partial",
                "applied": _dump(list(error.applied)),
                "missing": _dump(list(error.missing)),
                "state_after": _dump(error.state),
            }
        elif isinstance(error, OutcomeUnknown):
            values["outcome"] = "unknown"
        else:
            verified = error.debug.get("verified")
            if isinstance(verified, dict):
                values["outcome"] = "failed"  # read back: nothing applied
                values["state_after"] = _dump(verified.get("state"))
            else:
                values["outcome"] = "unknown" if _maybe_applied(error) else "failed"
        values |= _resumed(resumed)
        row = self._update(call_id, values)
        run_id = _RUN.get()
        if run_id is None:
            return row
        failed = {"run_id": run_id, "call_id": call_id, "outcome": values.get("outcome")}
        failed |= {"error_code": error.code, "error_message": error.message}
        return _with_item_failed(row, failed, self._table)

    def fenced(
        self, entry: JournalEntry, outcome: str, state: Any, note: str, *, landed: bool
    ) -> _Op:
        """Settle an open row from a read-back made by the write fence: ``landed`` (the
        platform holds its target; ``outcome`` is ``changed`` or ``unchanged``) or, once
        it can no longer land, ``failed`` (nothing applied, verified)."""
        values: dict[str, Any] = {
            "status": "done" if landed else "failed",
            "outcome": outcome,
            "finished": datetime.now(UTC),
            "state_after": _dump(state),
            "debug": _dump(
                {**(entry.debug if isinstance(entry.debug, dict) else {}), "note": note}
            ),
        }
        if landed:
            values |= {"after": _dump(entry.target), "error_code": None, "error_message": None}
        values |= _resumed(entry.outcome or entry.status)
        t = self._table

        def op(db: sa.Connection) -> None:
            # Only a row still open: its own process may have settled it meanwhile.
            query = t.update().where(t.c.call_id == entry.call_id)
            query = query.where(sa_open(t))
            db.execute(query.values(**values))

        return op

    def with_event(self, row: _Op, kind: str, data: dict[str, Any]) -> _Op:
        """``row`` and the event it causes, committed in one transaction."""

        def op(db: sa.Connection) -> None:
            from mailadmin.store.events import emit

            row(db)
            emit(db, kind, data)

        return op

    def unsettled_before(self, call_id: str, key: str) -> list[JournalEntry]:
        """Rows of subject ``key`` recorded before the row ``call_id`` whose write was sent
        and may still land: ``started`` (no end recorded) or ended ``unknown``; oldest
        first."""
        # Run before every write: the statement is built once, only its values bound here.
        with self._db.connect() as db:
            rows = db.execute(self._unsettled, {"_call_id": call_id, "_key": key}).mappings()
            return [_entry(r) for r in rows.all()]

    def run_planned(
        self, run_id: str, operation: str, items: list[Any], *, identity: str | None = None
    ) -> _Op:
        """The plan of a bulk run: every item, recorded before the first is sent."""
        from mailadmin.store.schema import runs

        values = {
            "id": run_id,
            "created": datetime.now(UTC),
            "operation": operation,
            "identity": identity,
            "items": json.dumps(items),
        }

        def op(db: sa.Connection) -> None:
            db.execute(runs.insert().values(**values))

        return op

    def run_finished(self, run_id: str) -> _Op:
        """Mark a bulk run as having seen every item through."""
        from mailadmin.store.schema import runs

        def op(db: sa.Connection) -> None:
            done = db.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.finished.is_(None))
                .values(finished=datetime.now(UTC))
            )
            if done.rowcount:
                # In the transaction that finishes the run: the event is never lost or twice.
                _run_finished_event(db, run_id)

        return op

    def unfinished_runs(self, run: str | None = None) -> list[tuple[str, str, list[Any]]]:
        """Bulk runs cut short: ``(id, operation, items)``, oldest first."""
        import sqlalchemy as sa

        from mailadmin.store.schema import runs

        # A distributed run belongs to the workers: they retry its chunks themselves.
        query = runs.select().where(
            runs.c.finished.is_(None), sa.or_(runs.c.distributed.is_(None), ~runs.c.distributed)
        )
        if run is not None:
            query = runs.select().where(runs.c.id == run)
        with self._db.connect() as db:
            rows = db.execute(query.order_by(runs.c.created)).mappings().all()
        return [(r["id"], r["operation"], json.loads(r["items"])) for r in rows]

    def run_subjects(self, run_id: str) -> set[str]:
        """The subjects of the run that have a journal row (an item started)."""
        t = self._table
        with self._db.connect() as db:
            found = db.execute(
                t.select().with_only_columns(t.c.subject).where(t.c.run_id == run_id)
            )
            return {str(subject).lower() for subject in found.scalars()}

    # Blocking forms, for callers that cannot await (the blocking hooks, the gate).
    def started(self, call: CallInfo, *, identity: str | None = None) -> None:
        """Record the intent of a write about to be sent."""
        self.write_now(self.intent(call, identity=identity))

    def refused(
        self, call: CallInfo, error: MailadminError, *, identity: str | None = None
    ) -> None:
        """Record a write that a policy refused before the platform was touched."""
        self.write_now(self.refusal(call, error, identity=identity))

    def succeeded(self, call: CallInfo, result: object) -> None:
        """Complete the record of a write with its outcome."""
        self.write_now(self.success(call.call_id, result))

    def failed(self, call: CallInfo, error: MailadminError) -> None:
        """Complete the record of a write with its (user-safe) error."""
        self.write_now(self.failure(call.call_id, error))

    def _row(
        self, call: CallInfo, arguments: dict[str, Any], identity: str | None
    ) -> dict[str, Any]:
        from mailadmin.contract.calls import subject_key

        return {
            "at": datetime.now(UTC),
            "call_id": call.call_id,
            "instance": call.provider,
            "operation": call.operation,
            "subject": _subject(arguments),
            "arguments": json.dumps(arguments, sort_keys=True),
            "dry_run": call.dry_run,
            "idempotency_key": call.call_id,
            "identity": identity,
            "run_id": current_run(),
            "subject_key": subject_key(call.provider, call.operation, arguments),
            "target": _dump(_target(arguments)),
        }

    def _update(self, call_id: str, values: dict[str, Any], *, only_open: bool = False) -> _Op:
        # One statement per shape, parameters bound at execution: SQLAlchemy compiles it
        # once instead of building and hashing a new statement per write.
        return _Row(self._updates[only_open], {**values, "_call_id": call_id}, call_id=call_id)

    # -- reading ---------------------------------------------------------------------------

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
        run: str | None = None,
        identity: str | None = None,
        open_only: bool = False,
        oldest_first: bool = False,
        before_id: int | None = None,
    ) -> list[JournalEntry]:
        """The most recent records, newest first, optionally filtered.

        ``since``/``until``: time range (``until`` excluded); ``subject``: text the subject
        contains; ``operation``, ``status``, ``outcome``, ``instance``, ``run`` (bulk run
        id), ``identity`` (``reseller:acme``): exact values; ``open_only``: rows a resume
        would settle; ``before_id``: only records older than that one (the next page of a
        newest-first list: ids only grow, so rows written meanwhile never shift it).
        """
        query = self._filtered(
            self._table.select(),
            since=since,
            until=until,
            subject=subject,
            operation=operation,
            status=status,
            outcome=outcome,
            instance=instance,
            run=run,
            identity=identity,
            open_only=open_only,
        )
        t = self._table
        if before_id is not None:
            query = query.where(t.c.id < before_id)
        order = t.c.id.asc() if oldest_first else t.c.id.desc()
        with self._db.connect() as db:
            rows = db.execute(query.order_by(order).limit(limit)).mappings().all()
        return [_entry(r) for r in rows]

    def count(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        subject: str | None = None,
        operation: str | None = None,
        status: str | None = None,
        outcome: str | None = None,
        instance: str | None = None,
        run: str | None = None,
        identity: str | None = None,
        open_only: bool = False,
    ) -> int:
        """How many records the same filters as :meth:`entries` match, without a limit."""
        import sqlalchemy as sa

        query = self._filtered(
            sa.select(sa.func.count()).select_from(self._table),
            since=since,
            until=until,
            subject=subject,
            operation=operation,
            status=status,
            outcome=outcome,
            instance=instance,
            run=run,
            identity=identity,
            open_only=open_only,
        )
        with self._db.connect() as db:
            return int(db.execute(query).scalar_one())

    def _filtered(
        self,
        query: Any,
        *,
        since: datetime | None,
        until: datetime | None,
        subject: str | None,
        operation: str | None,
        status: str | None,
        outcome: str | None,
        instance: str | None,
        run: str | None,
        identity: str | None,
        open_only: bool,
    ) -> Any:
        import sqlalchemy as sa

        t = self._table
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
            (t.c.run_id, run),
            (t.c.identity, identity),
        ):
            if value is not None:
                query = query.where(column == value)
        if open_only:
            query = query.where(
                t.c.dry_run == sa.false(),
                sa.or_(t.c.status == "started", t.c.outcome.in_(OPEN_OUTCOMES)),
            )
        return query

    def get(self, entry_id: int) -> JournalEntry | None:
        """One record by its id."""
        t = self._table
        with self._db.connect() as db:
            row = db.execute(t.select().where(t.c.id == entry_id)).mappings().first()
        return None if row is None else _entry(row)

    def prune(self, before: datetime) -> int:
        """Delete the records made before ``before``, except open ones (they still need a
        resume); returns how many were deleted."""
        import sqlalchemy as sa

        t = self._table
        settled = sa.or_(
            t.c.dry_run == sa.true(),
            sa.and_(
                t.c.status != "started",
                sa.or_(t.c.outcome.is_(None), t.c.outcome.not_in(OPEN_OUTCOMES)),
            ),
        )
        with self._db.begin() as db:
            result = db.execute(t.delete().where(t.c.at < before, settled))
        return int(result.rowcount or 0)

    def close(self) -> None:
        """Finish the queued writes, stop the writer and release the connections."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None and writer.is_alive():
            self._queue.put((_STOP, lambda error: None))
            writer.join()
        self._db.close()


class _Deferred(Journal):
    """A :class:`Journal` not opened yet: the first attribute only an open journal has
    opens it, and from then on it is a plain :class:`Journal`."""

    def __init__(self, url: str) -> None:  # no super().__init__(): that opens the store
        self.url = url

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            Journal.__init__(self, self.url)
        except Exception as exc:
            if type(exc).__module__.startswith("sqlalchemy"):
                from mailadmin.errors import ConfigurationError

                raise ConfigurationError(
                    "The journal database cannot be opened; check [journal] url"
                ) from None
            raise
        self.__class__ = Journal  # type: ignore[assignment]
        return getattr(self, name)

    def close(self) -> None:
        """Nothing to close: the store was never opened."""


class _Waiter:
    """Settles an awaited write's future on its event loop."""

    __slots__ = ("done", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()

    def resolve(self, error: BaseException | None) -> None:
        """On the loop's thread: hand the outcome to the waiting write."""
        if self.done.cancelled():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)

    def __call__(self, error: BaseException | None) -> None:
        with suppress(RuntimeError):  # the loop closed while we wrote
            self.loop.call_soon_threadsafe(self.resolve, error)


def _settle_all(settles: list[Callable[[BaseException | None], None]]) -> None:
    """Report a committed batch: one wake-up per event loop, not one per row (each
    wake-up is a system call, and a bulk run commits hundreds of rows at once)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Waiter]] = {}
    for settle in settles:
        if isinstance(settle, _Waiter):
            by_loop.setdefault(settle.loop, []).append(settle)
        else:
            settle(None)
    for loop, waiters in by_loop.items():

        def resolve(waiters: list[_Waiter] = waiters) -> None:
            for waiter in waiters:
                waiter.resolve(None)

        with suppress(RuntimeError):
            loop.call_soon_threadsafe(resolve)


def _updates(t: sa.Table) -> dict[bool, sa.Update]:
    """The row updates by call id (``True``: only while the row is still ``started``)."""
    import sqlalchemy as sa

    by_call = t.update().where(t.c.call_id == sa.bindparam("_call_id"))
    return {False: by_call, True: by_call.where(t.c.status == "started")}


def _resumed_success(t: sa.Table) -> sa.Update:
    """The update of a resumed row's success: ``before`` only where none was recorded
    (``_before`` is the resume's own reading, the last resort)."""
    import sqlalchemy as sa

    by_call = t.update().where(t.c.call_id == sa.bindparam("_call_id"))
    return by_call.values(
        before=sa.func.coalesce(t.c.before, t.c.state_before, sa.bindparam("_before"))
    )


def _may_land(t: sa.Table) -> Any:
    """The SQL condition of a row whose write was sent and may still land."""
    import sqlalchemy as sa

    return sa.and_(
        t.c.dry_run == sa.false(),
        t.c.sent.is_not(None),  # a write never sent cannot land
        sa_open(t),
    )


def _unsettled(t: sa.Table) -> sa.Select[Any]:
    """Rows of a subject (``_key``) recorded before a row (``_call_id``) whose write was
    sent and may still land, oldest first (see :meth:`Journal.unsettled_before`)."""
    import sqlalchemy as sa

    own = sa.select(t.c.id).where(t.c.call_id == sa.bindparam("_call_id")).scalar_subquery()
    return (
        t.select()
        .where(t.c.subject_key == sa.bindparam("_key"), t.c.id < own, _may_land(t))
        .order_by(t.c.id)
    )


def _unsettled_many(t: sa.Table) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """For a batch of intents: their ids by call id (``_calls``), and the open, sent rows
    of their subjects (``_keys``), oldest first."""
    import sqlalchemy as sa

    own = sa.select(t.c.call_id, t.c.id).where(
        t.c.call_id.in_(sa.bindparam("_calls", expanding=True))
    )
    unsettled = (
        t.select()
        .where(t.c.subject_key.in_(sa.bindparam("_keys", expanding=True)), _may_land(t))
        .order_by(t.c.id)
    )
    return own, unsettled


def _entry(r: Any) -> JournalEntry:
    return JournalEntry(
        id=r["id"],
        at=_aware(r["at"]),
        call_id=r["call_id"],
        instance=r["instance"],
        operation=r["operation"],
        subject=r["subject"],
        arguments=json.loads(r["arguments"]),
        dry_run=bool(r["dry_run"]),
        status=r["status"],
        outcome=r["outcome"],
        before=_load(r["before"]),
        after=_load(r["after"]),
        error_code=r["error_code"],
        error_message=r["error_message"],
        idempotency_key=r["idempotency_key"],
        identity=r["identity"],
        run_id=r["run_id"],
        target=_load(r["target"]),
        state_before=_load(r["state_before"]),
        state_after=_load(r["state_after"]),
        applied=_load(r["applied"]),
        missing=_load(r["missing"]),
        debug=_load(r["debug"]),
        finished=_aware(r["finished"]) if r["finished"] is not None else None,
        resumed=_aware(r["resumed"]) if r["resumed"] is not None else None,
        resumed_from=r["resumed_from"],
        sent=_aware(r["sent"]) if r["sent"] is not None else None,
    )


def _with_item_failed(row: _Op, failed: dict[str, Any], table: sa.Table) -> _Op:
    """``row`` and, in its transaction, the ``run.item_failed`` event of a run's item
    (a plain op, so the writer runs the two together rather than batching the row)."""

    def op(db: sa.Connection) -> None:
        from mailadmin.store.events import emit

        row(db)
        found = db.execute(
            table.select()
            .with_only_columns(
                table.c.instance, table.c.operation, table.c.subject, table.c.dry_run
            )
            .where(table.c.call_id == failed["call_id"])
        ).first()
        if found is not None and found.dry_run:
            return
        if found is not None:
            failed.update(instance=found.instance, operation=found.operation)
            failed["subject"] = found.subject
        emit(db, "run.item_failed", failed)

    return op


def _run_finished_event(db: sa.Connection, run_id: str) -> None:
    """The ``run.finished`` event of an in-process run, with its journal's counts."""
    import sqlalchemy as sa

    from mailadmin.store.events import emit
    from mailadmin.store.schema import journal, runs

    run = db.execute(runs.select().where(runs.c.id == run_id)).mappings().first()
    counts = db.execute(
        sa.select(journal.c.status, sa.func.count())
        .where(journal.c.run_id == run_id, journal.c.dry_run == sa.false())
        .group_by(journal.c.status)
    ).all()
    data: dict[str, Any] = {"run_id": run_id, "distributed": False}
    if run is not None:
        data |= {"operation": run["operation"], "identity": run["identity"]}
    data["counts"] = {str(status): int(n) for status, n in counts}
    emit(db, "run.finished", data)


def sa_open(t: sa.Table) -> Any:
    """The SQL condition of a row a write may still change: ``started`` or ``unknown``."""
    import sqlalchemy as sa

    return sa.or_(t.c.status == "started", t.c.outcome == "unknown")


def _maybe_applied(error: MailadminError) -> bool:
    """True when an unverified error leaves open whether the platform applied the write:
    no answer, a server fault or an answer that could not be read. A refusal the platform
    stated (not found, conflict, credentials, rate limit, policy) applied nothing."""
    from mailadmin.contract import errors

    if isinstance(error, errors.Unavailable | errors.ProtocolError):
        return not isinstance(error, errors.RateLimited)
    return type(error) is errors.ProviderError


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stamp is written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _resumed(previous: str | None) -> dict[str, Any]:
    if previous is None:
        return {}
    return {"resumed": datetime.now(UTC), "resumed_from": previous}


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(_plain(value), default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _redacted(debug: dict[str, Any]) -> Any:
    from mailadmin.wire.redaction import Redactor

    # Errors carry transport-redacted detail already; mask what looks secret once more.
    text = json.dumps(debug, default=str)
    return json.loads(Redactor().redact(text)) if text else debug


def _argument(name: str, value: Any) -> Any:
    """An argument as the journal keeps it: a secret one masked, whatever its type."""
    return _MASKED if name in _SECRET_ARGUMENTS else _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return _MASKED  # a password is never stored, so resume cannot repeat it
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return value


#: What the journal holds in place of a secret argument (as pydantic shows a SecretStr).
_MASKED = "**********"
#: Arguments never stored as given (a value of another type than SecretStr included).
_SECRET_ARGUMENTS = frozenset({"password"})


def _target(arguments: dict[str, Any]) -> Any:
    for name in ("plan", "quantity", "value"):
        if name in arguments:
            return arguments[name]
    return None


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
    # A customer's or reseller's record names itself.
    return name or str(arguments.get("name", ""))
