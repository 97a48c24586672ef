"""Distributed runs in the store: their items, chunks, progress and cancellation.

A run is split by subject into *lanes*: ``crc32(subject key) % lanes`` of the item's
provider instance. Every job of one lane carries the same procrastinate ``lock``, so

- two writes to one subject (one mailbox, one tenant's limits) never run at once on any
  worker of any machine, because one subject always falls in one lane, in every run;
- an instance never has more calls in flight than it has lanes, because a job runs its
  items one after another ([worker] shards, or [worker] limits per instance).

A lane's items are cut into chunks of ``[worker] chunk_size``; each chunk is one job. The
items (``mailadmin_run_items``) and the jobs are written in one transaction on one
connection (:mod:`mailadmin.store.queue`), so no job exists without its items and no item
without its job.

Every run a process works (in process, in the HTTP service, after a restart) is *leased*
(``mailadmin_run_leases``): one row per run names its holder and when the lease expires;
the holder's heartbeat pushes that on. :func:`take_lease` gives a run to a process only
when nobody holds it, the process holds it already, or the holder's lease has expired.

This module is plain storage: what an item means, and the order in which
a run is planned, sent and finished, belong to the run service
(:mod:`mailadmin.orchestration.runs`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailadmin.store.database import Database
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = [
    "CANCELLED",
    "DONE",
    "FAILED",
    "PENDING",
    "Item",
    "JournalPlan",
    "Lease",
    "PlannedRun",
    "RunStatus",
    "cancel_chunks",
    "close_chunk",
    "cut_run",
    "finish_if_settled",
    "item_states",
    "journal_plan",
    "journal_rows",
    "list_runs",
    "load_chunk",
    "mark_cancelled",
    "record_items",
    "record_run",
    "release_lease",
    "renew_lease",
    "require_postgres",
    "run_status",
    "take_lease",
]

#: Item states; ``pending`` is the only one a worker still acts on.
PENDING, DONE, FAILED, CANCELLED = "pending", "done", "failed", "cancelled"

Item = dict[str, Any]


@dataclass(frozen=True)
class PlannedRun:
    """A run cut into chunks: the rows of its items and, per chunk, its queue and lock."""

    run_id: str
    operation: str
    rows: list[dict[str, Any]]
    chunks: dict[int, tuple[str, str]]


@dataclass
class RunStatus:
    """A run's progress: counts per item state and whether it is over."""

    run_id: str
    operation: str
    created: datetime
    identity: str | None
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    finished: datetime | None = None
    cancelled: datetime | None = None

    @property
    def settled(self) -> int:
        """Items that ended (done, failed or cancelled)."""
        return self.total - self.counts.get(PENDING, 0)

    @property
    def state(self) -> str:
        """``running``, ``cancelling``, ``cancelled``, ``finished``."""
        if self.finished is not None:
            return "cancelled" if self.cancelled is not None else "finished"
        return "cancelling" if self.cancelled is not None else "running"


def require_postgres(journal: Journal | None) -> sa.Engine:
    """The PostgreSQL engine distributed work runs on, or a ConfigurationError naming what
    is missing (a journal, a PostgreSQL URL, the procrastinate package)."""
    if journal is None:
        raise errors.ConfigurationError(
            "Distributed bulk work needs the PostgreSQL store: no journal is configured; "
            'set [journal] url = "postgresql+psycopg://USER@HOST/DB" (shared by every worker)'
        )
    engine = journal.engine
    if engine.dialect.name != "postgresql":
        raise errors.ConfigurationError(
            "Distributed bulk work needs the PostgreSQL store shared by every worker; "
            f"[journal] url is a {engine.dialect.name} database ({journal.database.url}). "
            'Set [journal] url = "postgresql+psycopg://USER@HOST/DB", or run in-process '
            "(without --distributed)"
        )
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        raise errors.ConfigurationError(
            "Distributed bulk work needs procrastinate: pip install 'mailadmin[distributed]'"
        ) from None
    return engine


def cut_run(
    run_id: str,
    operation: str,
    routed: Sequence[tuple[str, str, Item]],
    *,
    lanes: Callable[[str], int],
    chunk_size: int,
) -> PlannedRun:
    """Cut routed items (``(instance, lane key, item)``, in input order) into lanes and
    the lanes into chunks of ``chunk_size``; ``lanes(instance)`` says how many lanes an
    instance has."""
    by_lane: dict[tuple[str, int], list[tuple[int, str, Item]]] = {}
    for seq, (instance, key, item) in enumerate(routed):
        lane = zlib.crc32(key.encode()) % lanes(instance)
        by_lane.setdefault((instance, lane), []).append((seq, key, item))
    rows: list[dict[str, Any]] = []
    chunks: dict[int, tuple[str, str]] = {}
    for (instance, lane), members in by_lane.items():
        for start in range(0, len(members), chunk_size):
            chunk = len(chunks)
            chunks[chunk] = (instance, f"mailadmin/{instance}/lane-{lane}")
            for seq, key, item in members[start : start + chunk_size]:
                rows.append(
                    {
                        "run_id": run_id,
                        "seq": seq,
                        "chunk": chunk,
                        "key": key,
                        "item": json.dumps(item),
                        "state": PENDING,
                        "attempts": 0,
                    }
                )
    rows.sort(key=lambda row: int(row["seq"]))
    return PlannedRun(run_id, operation, rows, chunks)


@dataclass(frozen=True)
class JournalPlan:
    """The plan of a run as journalled before its first item was sent."""

    operation: str
    items: list[list[Any]]
    finished: bool


def journal_plan(engine: sa.Engine, run_id: str) -> JournalPlan | None:
    """A run's journalled plan (``[address, plan]`` or ``[tenant, add-on, quantity]``
    items), or None when there is no such run."""
    from mailadmin.store.schema import runs

    with engine.connect() as db:
        row = db.execute(runs.select().where(runs.c.id == run_id)).mappings().first()
    if row is None:
        return None
    return JournalPlan(row["operation"], json.loads(row["items"]), row["finished"] is not None)


def record_run(db: sa.Connection, planned: PlannedRun, *, identity: str | None) -> None:
    """Write the run and its items on ``db`` (the caller's transaction)."""
    from mailadmin.store.schema import run_items, runs

    db.execute(
        runs.insert().values(
            id=planned.run_id,
            created=datetime.now(UTC),
            operation=planned.operation,
            identity=identity,
            # The items live in mailadmin_run_items, one row each; not again in one blob.
            items="[]",
            distributed=True,
            total=len(planned.rows),
        )
    )
    if planned.rows:
        db.execute(run_items.insert(), planned.rows)


def run_status(engine: sa.Engine, run_id: str) -> RunStatus:
    """The progress of one run; NotFoundError when there is no such distributed run."""
    import sqlalchemy as sa

    from mailadmin.store.schema import run_items, runs

    with engine.connect() as db:
        row = (
            db.execute(runs.select().where(runs.c.id == run_id, runs.c.distributed))
            .mappings()
            .first()
        )
        if row is None:
            raise errors.NotFoundError(f"There is no distributed run '{run_id}'")
        counts = db.execute(
            sa.select(run_items.c.state, sa.func.count())
            .where(run_items.c.run_id == run_id)
            .group_by(run_items.c.state)
        ).all()
    return _status(row, {str(state): int(n) for state, n in counts})


def _status(row: Any, counts: dict[str, int]) -> RunStatus:
    return RunStatus(
        run_id=row["id"],
        operation=row["operation"],
        created=_aware(row["created"]),
        identity=row["identity"],
        total=int(row["total"] or 0),
        counts=counts,
        finished=_aware(row["finished"]) if row["finished"] is not None else None,
        cancelled=_aware(row["cancelled"]) if row["cancelled"] is not None else None,
    )


def count_runs(engine: sa.Engine) -> int:
    """How many distributed runs there are."""
    import sqlalchemy as sa

    from mailadmin.store.schema import runs

    with engine.connect() as db:
        query = sa.select(sa.func.count()).select_from(runs).where(runs.c.distributed)
        return int(db.execute(query).scalar_one())


def list_runs(engine: sa.Engine, limit: int = 50) -> list[RunStatus]:
    """The most recent distributed runs, newest first, with their progress."""
    import sqlalchemy as sa

    from mailadmin.store.schema import run_items, runs

    with engine.connect() as db:
        rows = (
            db.execute(
                runs.select().where(runs.c.distributed).order_by(runs.c.created.desc()).limit(limit)
            )
            .mappings()
            .all()
        )
        ids = [r["id"] for r in rows]
        counts: dict[str, dict[str, int]] = {}
        if ids:
            found = db.execute(
                sa.select(run_items.c.run_id, run_items.c.state, sa.func.count())
                .where(run_items.c.run_id.in_(ids))
                .group_by(run_items.c.run_id, run_items.c.state)
            ).all()
            for run_id, state, n in found:
                counts.setdefault(str(run_id), {})[str(state)] = int(n)
    return [_status(r, counts.get(r["id"], {})) for r in rows]


def item_states(engine: sa.Engine, run_id: str, states: Iterable[str] | None = None) -> list[Any]:
    """Every item of a run in input order: seq, key, item, state, outcome, result, error."""
    from mailadmin.store.schema import run_items

    query = run_items.select().where(run_items.c.run_id == run_id)
    if states is not None:
        query = query.where(run_items.c.state.in_(list(states)))
    with engine.connect() as db:
        rows = db.execute(query.order_by(run_items.c.seq)).mappings().all()
    return [
        {
            "seq": r["seq"],
            "key": r["key"],
            "item": json.loads(r["item"]),
            "state": r["state"],
            "outcome": r["outcome"],
            "result": json.loads(r["result"]) if r["result"] else None,
            "error_code": r["error_code"],
            "error_message": r["error_message"],
            "attempts": r["attempts"],
            "chunk": r["chunk"],
            "finished": r["finished"],
        }
        for r in rows
    ]


def mark_cancelled(engine: sa.Engine, run_id: str) -> bool:
    """Flag a run as cancelled (workers stop between items); False when it already was."""
    from mailadmin.store.schema import runs

    with engine.begin() as db:
        exists = db.execute(runs.select().where(runs.c.id == run_id, runs.c.distributed)).first()
        if exists is None:
            raise errors.NotFoundError(f"There is no distributed run '{run_id}'")
        done = db.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.cancelled.is_(None))
            .values(cancelled=datetime.now(UTC))
        )
    return bool(done.rowcount)


def cancel_chunks(engine: sa.Engine, run_id: str, chunks: Iterable[int]) -> int:
    """Settle the pending items of chunks whose jobs will never run as ``cancelled``."""
    from mailadmin.store.schema import run_items

    chosen = list(chunks)
    if not chosen:
        return 0
    with engine.begin() as db:
        done = db.execute(
            run_items.update()
            .where(
                run_items.c.run_id == run_id,
                run_items.c.chunk.in_(chosen),
                run_items.c.state == PENDING,
            )
            .values(state=CANCELLED, finished=datetime.now(UTC))
        )
        finish_if_settled(db, run_id)
    return int(done.rowcount or 0)


def finish_if_settled(db: sa.Connection, run_id: str) -> None:
    """Mark the run finished once no item is pending."""
    import sqlalchemy as sa

    from mailadmin.store.schema import run_items, runs

    pending = (
        sa.select(run_items.c.seq)
        .where(run_items.c.run_id == run_id, run_items.c.state == PENDING)
        .exists()
    )
    done = db.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.finished.is_(None), ~pending)
        .values(finished=datetime.now(UTC))
    )
    if done.rowcount:
        from mailadmin.store.events import emit

        # In the transaction that finishes the run: one event, never lost, never twice.
        run = db.execute(runs.select().where(runs.c.id == run_id)).mappings().one()
        counts = db.execute(
            sa.select(run_items.c.state, sa.func.count())
            .where(run_items.c.run_id == run_id)
            .group_by(run_items.c.state)
        ).all()
        data = {"run_id": run_id, "distributed": True, "operation": run["operation"]}
        data |= {"identity": run["identity"], "cancelled": run["cancelled"] is not None}
        data["counts"] = {str(state): int(n) for state, n in counts}
        emit(db, "run.finished", data)


def load_chunk(engine: sa.Engine, run_id: str, chunk: int) -> tuple[Any, list[Any]]:
    """A run's row and the pending items of one of its chunks, in input order."""
    from mailadmin.store.schema import run_items, runs

    with engine.connect() as db:
        run = db.execute(runs.select().where(runs.c.id == run_id)).mappings().first()
        if run is None:
            raise errors.NotFoundError(f"There is no distributed run '{run_id}'")
        pending = (
            db.execute(
                run_items.select()
                .where(
                    run_items.c.run_id == run_id,
                    run_items.c.chunk == chunk,
                    run_items.c.state == PENDING,
                )
                .order_by(run_items.c.seq)
            )
            .mappings()
            .all()
        )
    return run, list(pending)


def journal_rows(engine: sa.Engine, run_id: str, keys: list[str]) -> dict[str, list[JournalEntry]]:
    """The journal's rows of a run for these subject keys (no dry runs), oldest first."""
    from mailadmin.store.journal import _entry
    from mailadmin.store.schema import journal

    found: dict[str, list[JournalEntry]] = {}
    with engine.connect() as db:
        for start in range(0, len(keys), 500):
            query = (
                journal.select()
                .where(
                    journal.c.run_id == run_id,
                    journal.c.subject_key.in_(keys[start : start + 500]),
                    ~journal.c.dry_run,
                )
                .order_by(journal.c.id)
            )
            for row in db.execute(query).mappings():
                found.setdefault(str(row["subject_key"]), []).append(_entry(row))
    return found


#: How one item ended: state, outcome, result, error code, error message.
Settled = tuple[str, str | None, Any, str | None, str | None]


def record_items(
    engine: sa.Engine, run_id: str, outcomes: list[tuple[int, Settled]], attempt: int
) -> bool:
    """Record settled items (``(seq, settled)``); returns True when the run has been
    cancelled meanwhile."""
    import sqlalchemy as sa

    from mailadmin.store.schema import run_items

    rows = [
        (
            seq,
            state,
            kind,
            json.dumps(result, default=str) if result is not None else None,
            code,
            message,
        )
        for seq, (state, kind, result, code, message) in outcomes
    ]
    with engine.begin() as db:
        if rows:
            # One statement for the batch (UPDATE ... FROM VALUES): a statement per item
            # was a tenth of a worker's CPU. Only a pending item moves: a chunk retried
            # after a crash cannot settle an item twice.
            settled = sa.values(
                sa.column("seq", sa.Integer),
                sa.column("state", sa.String),
                sa.column("outcome", sa.String),
                sa.column("result", sa.Text),
                sa.column("error_code", sa.String),
                sa.column("error_message", sa.Text),
                name="settled",
            ).data(rows)
            db.execute(
                run_items.update()
                .where(
                    run_items.c.run_id == run_id,
                    run_items.c.seq == settled.c.seq,
                    run_items.c.state == PENDING,
                )
                .values(
                    state=settled.c.state,
                    outcome=settled.c.outcome,
                    result=settled.c.result,
                    error_code=settled.c.error_code,
                    error_message=settled.c.error_message,
                    attempts=attempt + 1,
                    finished=datetime.now(UTC),
                )
            )
        return _cancelled_in(db, run_id)


def close_chunk(engine: sa.Engine, run_id: str, chunk: int) -> None:
    """End a chunk: its items still pending in a cancelled run end ``cancelled``; the run
    is finished once no item is pending."""
    from mailadmin.store.schema import run_items

    with engine.begin() as db:
        if _cancelled_in(db, run_id):
            db.execute(
                run_items.update()
                .where(
                    run_items.c.run_id == run_id,
                    run_items.c.chunk == chunk,
                    run_items.c.state == PENDING,
                )
                .values(state=CANCELLED, finished=datetime.now(UTC))
            )
        finish_if_settled(db, run_id)


def _cancelled_in(db: sa.Connection, run_id: str) -> bool:
    from mailadmin.store.schema import runs

    stamp = db.execute(
        runs.select().with_only_columns(runs.c.cancelled).where(runs.c.id == run_id)
    ).scalar()
    return stamp is not None


# -- leases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    """Who holds a run and until when (``expires``, UTC)."""

    run_id: str
    holder: str
    expires: datetime


def take_lease(
    database: Database,
    run_id: str,
    holder: str,
    seconds: float,
    gone: Callable[[str], bool] = lambda _holder: False,
) -> Lease | None:
    """Give ``run_id`` to ``holder`` for ``seconds``: when nobody holds it, ``holder``
    does already, the lease has expired, or ``gone(other holder)`` knows that holder is
    dead. Returns the lease that stands in the way (``holder`` differs) when another
    process holds it; the new lease otherwise."""
    import sqlalchemy as sa

    from mailadmin.store.schema import run_leases

    now = datetime.now(UTC)
    expires = now + timedelta(seconds=seconds)
    mine = Lease(run_id, holder, expires)
    with database.begin() as db:
        # One statement decides a take-over: PostgreSQL re-reads the row after a
        # concurrent update, so two processes never both take an expired lease.
        taken = db.execute(
            run_leases.update()
            .where(
                run_leases.c.run_id == run_id,
                sa.or_(run_leases.c.holder == holder, run_leases.c.expires < now),
            )
            .values(holder=holder, taken=now, expires=expires)
        )
        if taken.rowcount:
            return mine
        held = db.execute(run_leases.select().where(run_leases.c.run_id == run_id)).first()
        if held is not None and gone(str(held.holder)):
            # Only if that dead holder still has it (another process may be quicker).
            taken = db.execute(
                run_leases.update()
                .where(run_leases.c.run_id == run_id, run_leases.c.holder == held.holder)
                .values(holder=holder, taken=now, expires=expires)
            )
            if taken.rowcount:
                return mine
            held = db.execute(run_leases.select().where(run_leases.c.run_id == run_id)).first()
        if held is not None:
            return Lease(run_id, str(held.holder), _aware(held.expires))
    try:
        with database.begin() as db:
            db.execute(
                run_leases.insert().values(run_id=run_id, holder=holder, taken=now, expires=expires)
            )
    except sa.exc.IntegrityError:
        # Another process inserted it first: it holds the run.
        with database.connect() as db:
            held = db.execute(run_leases.select().where(run_leases.c.run_id == run_id)).first()
        if held is None:
            return None
        return Lease(run_id, str(held.holder), _aware(held.expires))
    return mine


def renew_lease(
    database: Database, run_ids: Sequence[str], holder: str, seconds: float
) -> set[str]:
    """Push on the leases ``holder`` still holds among ``run_ids``; returns those it lost
    (another process took them over after they expired)."""
    from mailadmin.store.schema import run_leases

    if not run_ids:
        return set()
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    with database.begin() as db:
        db.execute(
            run_leases.update()
            .where(run_leases.c.run_id.in_(list(run_ids)), run_leases.c.holder == holder)
            .values(expires=expires)
        )
        kept = db.execute(
            run_leases.select()
            .with_only_columns(run_leases.c.run_id)
            .where(run_leases.c.run_id.in_(list(run_ids)), run_leases.c.holder == holder)
        ).scalars()
        return set(run_ids) - {str(found) for found in kept}


def release_lease(database: Database, run_id: str, holder: str) -> None:
    """Give a run up (its work ended or stopped): another process may take it at once."""
    from mailadmin.store.schema import run_leases

    with database.begin() as db:
        db.execute(
            run_leases.delete().where(run_leases.c.run_id == run_id, run_leases.c.holder == holder)
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
