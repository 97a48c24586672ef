"""The procrastinate side: the app, the chunk task, enqueueing, the worker loop.

procrastinate keeps its jobs in the PostgreSQL database that already holds the journal, so
a run's items and its jobs are committed together; its job ``lock`` serialises the lanes
across every worker (see :mod:`mailadmin.worker.runs`). A worker killed mid-job leaves the
job ``doing`` with a heartbeat that stops: every worker looks for such stalled jobs and
hands them back to the queue, and the retried chunk settles each item from the journal's
intents instead of sending blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.worker import runs as store

if TYPE_CHECKING:
    import procrastinate
    import sqlalchemy as sa

    from mailadmin.orchestration.bulk import Progress
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["TASK_NAME", "cancel_waiting_jobs", "follow", "run_worker", "submit"]

TASK_NAME = "mailadmin.run_chunk"
#: Advisory lock held while procrastinate's schema is installed (two starts at once).
_SCHEMA_LOCK = 0x6D61696C70726F63
_log = logging.getLogger("mailadmin.worker")

#: The orchestrator the worker process runs chunks with (one per worker process).
_ORCHESTRATOR: Orchestrator | None = None


def conninfo(engine: sa.Engine) -> str:
    """The libpq connection string of the store (procrastinate speaks psycopg directly)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(engine: sa.Engine, *, keep_hours: int = 168) -> procrastinate.App:
    """A procrastinate app on the store's database, with the chunk task and the periodic
    pruning of jobs finished more than ``keep_hours`` ago registered."""
    import procrastinate

    from mailadmin.worker import prune

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(engine), min_size=1)
    )

    # An item's own failure is recorded on the item; what reaches procrastinate is the
    # store failing (a database restart): retry the chunk, which skips settled items.
    retry = procrastinate.RetryStrategy(max_attempts=10, exponential_wait=2)

    @app.task(name=TASK_NAME, pass_context=True, retry=retry)
    async def run_chunk(context: procrastinate.JobContext, run_id: str, chunk: int) -> int:
        if _ORCHESTRATOR is None:
            raise errors.ConfigurationError("This worker has no orchestrator")
        job = context.job
        return await _run_chunk(_ORCHESTRATOR, run_id, chunk, attempt=job.attempts)

    prune.register(app, keep_hours)
    return app


def ensure_schema(engine: sa.Engine) -> None:
    """Install procrastinate's tables beside mailadmin's, once (idempotent, locked)."""
    import sqlalchemy as sa
    from procrastinate.schema import SchemaManager

    with engine.begin() as db:
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        present = db.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar()
        if present is None:
            raw = db.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor:
                cursor.execute(SchemaManager.get_schema())


# -- enqueueing ---------------------------------------------------------------------------


def submit(
    orch: Orchestrator, operation: str, items: Sequence[store.Item], *, identity: str | None
) -> str:
    """Record a run's items and enqueue its jobs in one transaction; returns the run id."""
    from procrastinate.jobs import Job

    engine = store.require_distributed(orch)
    ensure_schema(engine)
    run_id = uuid.uuid4().hex[:16]
    planned = store.plan_run(orch, run_id, operation, items)
    app = make_app(engine)
    jobs = [
        Job(
            id=None,
            queue=queue,
            lock=lock,
            queueing_lock=None,
            task_name=TASK_NAME,
            task_kwargs={"run_id": run_id, "chunk": chunk},
        )
        for chunk, (queue, lock) in planned.chunks.items()
    ]
    with engine.begin() as db:
        store.record_run(db, planned, identity=identity)
        if not jobs:
            store.finish_if_settled(db, run_id)
        else:
            # The same psycopg connection, inside the same transaction: the jobs become
            # visible to workers only when the items are committed with them.
            raw = db.connection.driver_connection
            app.job_manager.batch_defer_jobs(jobs, connection=raw)
    return run_id


async def follow(
    engine: sa.Engine,
    run_id: str,
    *,
    progress: Progress | None = None,
    interval: float = 0.5,
    timeout: float | None = None,
) -> store.RunStatus:
    """Wait until every item of a run has ended, reporting progress; returns its status."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    last = -1
    while True:
        status = await asyncio.to_thread(store.run_status, engine, run_id)
        if progress is not None and status.settled != last:
            last = status.settled
            progress(status.settled, status.total, run_id)
        if status.finished is not None:
            return status
        if deadline is not None and loop.time() > deadline:
            raise errors.Unavailable(f"Run {run_id} did not finish in {timeout} s")
        await asyncio.sleep(interval)


async def cancel_waiting_jobs(engine: sa.Engine, run_id: str) -> int:
    """Cancel the run's jobs no worker has taken yet and settle their items ``cancelled``;
    a job already running sees the run's flag between items."""
    app = make_app(engine)
    cancelled: list[int] = []
    async with app.open_async():
        waiting = await app.job_manager.list_jobs_async(task=TASK_NAME, status="todo")
        for job in waiting:
            if job.task_kwargs.get("run_id") != run_id or job.id is None:
                continue
            if await app.job_manager.cancel_job_by_id_async(job.id):
                cancelled.append(int(str(job.task_kwargs["chunk"])))
    return await asyncio.to_thread(store.cancel_chunks, engine, run_id, cancelled)


# -- running a chunk --------------------------------------------------------------------


async def _run_chunk(orch: Orchestrator, run_id: str, chunk: int, *, attempt: int) -> int:
    """Settle every pending item of one chunk, one after another; returns how many."""
    engine = store.require_distributed(orch)
    run, pending = await asyncio.to_thread(_load_chunk, engine, run_id, chunk)
    if not pending or run["cancelled"] is not None:
        # Cancelled before this chunk started: its items end 'cancelled', none is sent.
        await asyncio.to_thread(_close_chunk, engine, run_id, chunk)
        return 0
    # The journal rows this run already holds for these subjects: after a crash they say
    # which items were started (an open intent to settle) or even finished.
    rows: dict[str, list[Any]] = {}
    if run["operation"] in _JOURNALLED:
        rows = await asyncio.to_thread(
            _journal_rows, engine, run_id, [str(item["key"]) for item in pending]
        )
    acting = orch.acting_as(run["identity"]) if run["identity"] else None
    loop = asyncio.get_running_loop()
    settled = 0
    unrecorded: list[tuple[int, _Outcome]] = []
    last_flush = loop.time()
    for item in pending:
        outcome = await _settle_item(orch, acting, run_id, run["operation"], item, rows)
        unrecorded.append((int(item["seq"]), outcome))
        settled += 1
        # Item records are written in small batches: one lost to a crash is rebuilt from
        # the journal row the write completed, so batching costs no accuracy. The same
        # round trip tells whether the run was cancelled meanwhile.
        if len(unrecorded) >= _BATCH or loop.time() - last_flush >= _FLUSH_EVERY:
            cancelled = await asyncio.to_thread(_flush, engine, run_id, unrecorded, attempt)
            unrecorded, last_flush = [], loop.time()
            if cancelled:
                break
    await asyncio.to_thread(_flush, engine, run_id, unrecorded, attempt)
    await asyncio.to_thread(_close_chunk, engine, run_id, chunk)
    return settled


#: Operations whose items are journalled writes: a retry settles them from the journal.
_JOURNALLED = ("set_plan", "apply_addon")

#: Item records written per round trip, and the longest an item waits to be recorded.
_BATCH = 25
_FLUSH_EVERY = 1.0


def _load_chunk(engine: sa.Engine, run_id: str, chunk: int) -> tuple[Any, list[Any]]:
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
                    run_items.c.state == store.PENDING,
                )
                .order_by(run_items.c.seq)
            )
            .mappings()
            .all()
        )
    return run, list(pending)


def _journal_rows(engine: sa.Engine, run_id: str, keys: list[str]) -> dict[str, list[Any]]:
    from mailadmin.store.journal import _entry
    from mailadmin.store.schema import journal

    found: dict[str, list[Any]] = {}
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


_Outcome = tuple[str, str | None, Any, str | None, str | None]


async def _settle_item(
    orch: Orchestrator,
    acting: Any,
    run_id: str,
    operation: str,
    item: Any,
    rows: dict[str, list[Any]],
) -> _Outcome:
    """Apply one item, or settle it from what the journal already says about it."""
    from mailadmin.store.journal import run_scope

    data = json.loads(item["item"])
    # The run's journal rows of this subject (and add-on) are this item's: a run names each
    # once. The target column holds the provider's native form once sent: not compared.
    mine = [
        row
        for row in rows.get(str(item["key"]), [])
        if row.operation == operation and _same_addon(operation, row.arguments, data)
    ]
    try:
        still_open = [row for row in mine if row.open]
        if still_open:
            # The intent was recorded and then the worker died: read the platform and
            # apply only what is missing, completing that same journal row.
            result: Any = None
            for row in still_open:
                result = await orch.resume_entry(row)
            return _ok(result)
        if mine:
            # The write finished and was journalled; only its item record was lost.
            last = mine[-1]
            if last.status == "done":
                return (
                    "done",
                    last.outcome,
                    {"before": last.before, "after": last.after},
                    None,
                    None,
                )
            return ("failed", last.outcome, None, last.error_code, last.error_message)
        from mailadmin.worker.operations import execute

        # The run's identity for the whole item: a sale reads the tenancy as it, too.
        with acting if acting is not None else contextlib.nullcontext(), run_scope(run_id):
            result = await execute(orch, operation, data)
        if operation == "sell" and result.outcome.value == "failed":
            plain = result.model_dump(mode="json")
            return ("failed", "failed", plain, "sale_failed", result.reason)
        return _ok(result)
    except errors.MailadminError as exc:
        return ("failed", None, None, exc.code, exc.message)
    except Exception as exc:  # a bug must not stall the chunk: record it on the item
        from mailadmin.contract.provider import normalise

        error = normalise(exc)
        return ("failed", None, None, error.code, error.message)


def _same_addon(operation: str, arguments: dict[str, Any], data: dict[str, Any]) -> bool:
    if operation != "apply_addon":
        return True
    from mailadmin.contract.models import AddonRef

    recorded = arguments.get("addon")
    wanted = AddonRef.parse(str(data["addon"]))
    return isinstance(recorded, dict) and (recorded.get("name"), recorded.get("plan")) == (
        wanted.name,
        wanted.plan,
    )


def _ok(result: Any) -> _Outcome:
    from mailadmin.store.journal import _plain

    plain = _plain(result)
    outcome = plain.get("outcome") if isinstance(plain, dict) else None
    return ("done", outcome, plain, None, None)


def _flush(
    engine: sa.Engine, run_id: str, outcomes: list[tuple[int, _Outcome]], attempt: int
) -> bool:
    """Record settled items; returns True when the run has been cancelled."""
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
                    run_items.c.state == store.PENDING,
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


def _close_chunk(engine: sa.Engine, run_id: str, chunk: int) -> None:
    from mailadmin.store.schema import run_items

    with engine.begin() as db:
        if _cancelled_in(db, run_id):
            db.execute(
                run_items.update()
                .where(
                    run_items.c.run_id == run_id,
                    run_items.c.chunk == chunk,
                    run_items.c.state == store.PENDING,
                )
                .values(state=store.CANCELLED, finished=datetime.now(UTC))
            )
        store.finish_if_settled(db, run_id)


def _cancelled_in(db: sa.Connection, run_id: str) -> bool:
    from mailadmin.store.schema import runs

    stamp = db.execute(
        runs.select().with_only_columns(runs.c.cancelled).where(runs.c.id == run_id)
    ).scalar()
    return stamp is not None


# -- the worker -------------------------------------------------------------------------


async def run_worker(
    orch: Orchestrator,
    *,
    concurrency: int = 8,
    queues: Sequence[str] | None = None,
    heartbeat: float = 10.0,
    stalled_after: float = 30.0,
    ready: Callable[[], None] | None = None,
    install_signal_handlers: bool = True,
) -> None:
    """Run chunks until SIGINT or SIGTERM, or until cancelled (a graceful stop: running
    chunks finish).

    ``heartbeat``: how often this worker says it is alive; ``stalled_after``: a worker
    silent this long is taken for dead and its running jobs are handed back to the queue.
    """
    global _ORCHESTRATOR
    engine = store.require_distributed(orch)
    await asyncio.to_thread(ensure_schema, engine)
    app = make_app(engine, keep_hours=orch.config.worker.keep_jobs_hours)
    _ORCHESTRATOR = orch
    async with app.open_async():
        rescuer = asyncio.ensure_future(_rescue_stalled(app, stalled_after, heartbeat))
        try:
            if ready is not None:
                ready()
            options: dict[str, Any] = {}
            if queues:
                # The maintenance queue too: pruning must not need a worker of its own.
                from mailadmin.worker.prune import MAINTENANCE_QUEUE

                options["queues"] = [*queues, MAINTENANCE_QUEUE]
            await app.run_worker_async(
                **options,
                concurrency=concurrency,
                wait=True,
                install_signal_handlers=install_signal_handlers,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stalled_after,
                listen_notify=True,
                fetch_job_polling_interval=1.0,
            )
        finally:
            rescuer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rescuer
            _ORCHESTRATOR = None


async def _rescue_stalled(app: procrastinate.App, stalled_after: float, every: float) -> None:
    """Hand the jobs of dead workers back to the queue (procrastinate reports them by
    heartbeat; retrying is left to the application): chunks, and the pruning job too,
    or a dead worker's one would stay 'doing' for ever."""
    from procrastinate import exceptions, utils

    from mailadmin.worker.prune import PRUNE_TASK

    while True:
        await asyncio.sleep(every)
        try:
            stalled = [
                job
                for name in (TASK_NAME, PRUNE_TASK)
                for job in await app.job_manager.get_stalled_jobs(
                    seconds_since_heartbeat=stalled_after, task_name=name
                )
            ]
            for job in stalled:
                assert job.id is not None
                with contextlib.suppress(exceptions.ConnectorException):
                    # Another worker may have retried it a moment ago: then this fails.
                    await app.job_manager.retry_job_by_id_async(job.id, retry_at=utils.utcnow())
                    _log.warning("Job %s of a stalled worker handed back to the queue", job.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("Looking for stalled jobs failed; trying again")
