"""Deleting procrastinate's finished jobs once they are old enough.

procrastinate keeps every job row it ever ran; a run's items and results live in
mailadmin's own tables (``mailadmin_run_items``, the journal), so a finished job is only
bookkeeping. The workers delete them with procrastinate's ``delete_old_jobs`` from a
periodic task (``[worker] keep_jobs_hours``); ``mailadmin runs prune`` does it on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import procrastinate

    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["MAINTENANCE_QUEUE", "PRUNE_TASK", "delete_finished_jobs", "prune_jobs", "register"]

PRUNE_TASK = "mailadmin.prune_jobs"
#: Every worker listens to this queue besides its instances' queues.
MAINTENANCE_QUEUE = "mailadmin-maintenance"
#: Once an hour (at minute 7); procrastinate defers each tick once across all workers.
_CRON = "7 * * * *"


def register(app: procrastinate.App, keep_hours: int) -> None:
    """Add the periodic pruning task to ``app``."""

    @app.periodic(cron=_CRON, periodic_id="prune")
    @app.task(name=PRUNE_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)
    async def prune(context: procrastinate.JobContext, timestamp: int) -> int:
        del timestamp  # the tick it was deferred for: any tick prunes the same way
        return await delete_finished_jobs(context.app, keep_hours)


async def delete_finished_jobs(app: procrastinate.App, hours: int) -> int:
    """Delete every job that ended (succeeded, failed, cancelled, aborted) more than
    ``hours`` ago; returns how many job rows went."""
    manager = app.job_manager
    before = await _finished(app)
    await manager.delete_old_jobs(
        nb_hours=hours, include_failed=True, include_cancelled=True, include_aborted=True
    )
    return max(0, before - await _finished(app))


async def _finished(app: procrastinate.App) -> int:
    rows = await app.connector.execute_query_all_async(
        "SELECT count(*) AS n FROM procrastinate_jobs "
        "WHERE status IN ('succeeded', 'failed', 'cancelled', 'aborted')"
    )
    return int(rows[0]["n"])


async def prune_jobs(orch: Orchestrator, hours: int | None = None) -> int:
    """Delete the finished jobs older than ``hours`` (default: ``[worker]
    keep_jobs_hours``) now; returns how many. The runs and their results stay."""

    from mailadmin.worker import engine as worker_engine

    keep = orch.config.worker.keep_jobs_hours if hours is None else hours
    app = worker_engine.make_app(await orch.runs.job_queue(), keep_hours=keep)
    async with app.open_async():
        return await delete_finished_jobs(app, keep)
