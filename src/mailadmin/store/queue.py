"""The job queue of distributed runs: procrastinate's tables beside mailadmin's.

procrastinate keeps its jobs in the PostgreSQL database that already holds the journal, so
a run's items and its jobs are committed together (:func:`enqueue_run`): no job exists
without its items and no item without its job. Its job ``lock`` serialises the lanes
across every worker (see :mod:`mailadmin.store.runs`). The worker loop and the task that
runs a chunk are the worker face's (:mod:`mailadmin.worker.engine`); this module only
writes and cancels jobs, and is loaded only when a run is enqueued or a worker starts, so
``import mailadmin`` never pulls procrastinate in.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from mailadmin.store import runs as store

if TYPE_CHECKING:
    import procrastinate
    import sqlalchemy as sa

__all__ = [
    "TASK_NAME",
    "cancel_waiting_jobs",
    "conninfo",
    "enqueue_run",
    "ensure_schema",
    "queue_app",
]

#: The task a worker runs for one chunk (``run_id``, ``chunk``).
TASK_NAME = "mailadmin.run_chunk"
#: Advisory lock held while procrastinate's schema is installed (two starts at once).
_SCHEMA_LOCK = 0x6D61696C70726F63


def conninfo(engine: sa.Engine) -> str:
    """The libpq connection string of the store (procrastinate speaks psycopg directly)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def queue_app(engine: sa.Engine) -> procrastinate.App:
    """A procrastinate app on the store's database, with no task: enough to write, list
    and cancel jobs (a worker registers the tasks it runs)."""
    import procrastinate

    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(engine), min_size=1)
    )


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


def enqueue_run(
    engine: sa.Engine,
    planned: store.PlannedRun,
    *,
    identity: str | None,
    trace: dict[str, str] | None = None,
) -> None:
    """Record a planned run's items and enqueue one job per chunk, in one transaction.
    ``trace``: the caller's trace context (W3C ``traceparent``), carried in each job."""
    from procrastinate.jobs import Job

    ensure_schema(engine)
    # A JSON object in the job's arguments (procrastinate types them loosely).
    extra: dict[str, Any] = {"trace": trace} if trace else {}
    jobs = [
        Job(
            id=None,
            queue=queue,
            lock=lock,
            queueing_lock=None,
            task_name=TASK_NAME,
            task_kwargs={
                "run_id": planned.run_id,
                "chunk": chunk,
                **extra,
            },
        )
        for chunk, (queue, lock) in planned.chunks.items()
    ]
    app = queue_app(engine)
    with engine.begin() as db:
        store.record_run(db, planned, identity=identity)
        if not jobs:
            store.finish_if_settled(db, planned.run_id)
        else:
            # The same psycopg connection, inside the same transaction: the jobs become
            # visible to workers only when the items are committed with them.
            raw = db.connection.driver_connection
            app.job_manager.batch_defer_jobs(jobs, connection=raw)


async def cancel_waiting_jobs(engine: sa.Engine, run_id: str) -> int:
    """Cancel the run's jobs no worker has taken yet and settle their items ``cancelled``;
    a job already running sees the run's flag between items."""
    app = queue_app(engine)
    cancelled: list[int] = []
    async with app.open_async():
        waiting = await app.job_manager.list_jobs_async(task=TASK_NAME, status="todo")
        for job in waiting:
            if job.task_kwargs.get("run_id") != run_id or job.id is None:
                continue
            if await app.job_manager.cancel_job_by_id_async(job.id):
                cancelled.append(int(str(job.task_kwargs["chunk"])))
    return await asyncio.to_thread(store.cancel_chunks, engine, run_id, cancelled)


def waiting_runs(engine: sa.Engine, run_ids: list[str]) -> set[str]:
    """Of ``run_ids``, the runs whose jobs no worker has taken yet (every job queued)."""
    import sqlalchemy as sa

    if not run_ids:
        return set()
    query = sa.text(
        "SELECT DISTINCT args->>'run_id' FROM procrastinate_jobs "
        "WHERE args->>'run_id' IN :ids AND status <> 'todo'"
    ).bindparams(sa.bindparam("ids", expanding=True))
    try:
        with engine.connect() as db:
            taken = {str(run_id) for (run_id,) in db.execute(query, {"ids": run_ids})}
    except sa.exc.SQLAlchemyError:
        return set()  # no job table to read: say nothing rather than guess
    return set(run_ids) - taken
