"""The worker face: the procrastinate task that runs a chunk, and the worker loop.

A worker runs the chunks of distributed runs through the run service
(:meth:`mailadmin.orchestration.runs.RunService.work_chunk`), which settles each item from
the journal's intents after a crash instead of sending blindly; the runs' items and jobs
and the job queue live in the store, reached through the run service. A worker
killed mid-job leaves the job ``doing`` with a heartbeat that stops: every worker looks for
such stalled jobs and hands them back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.orchestration.runs import CHUNK_TASK

if TYPE_CHECKING:
    import procrastinate

    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["make_app", "run_worker"]

_log = logging.getLogger("mailadmin.worker")

#: The orchestrator the worker process runs chunks with (one per worker process).
_ORCHESTRATOR: Orchestrator | None = None


def make_app(app: procrastinate.App, *, keep_hours: int = 168) -> procrastinate.App:
    """Register the chunk task and the periodic pruning of jobs finished more than
    ``keep_hours`` ago on ``app`` (the run service's :meth:`job_queue`); returns it."""
    import procrastinate

    from mailadmin.worker import prune

    # An item's own failure is recorded on the item; what reaches procrastinate is the
    # store failing (a database restart): retry the chunk, which skips settled items.
    retry = procrastinate.RetryStrategy(max_attempts=10, exponential_wait=2)

    @app.task(name=CHUNK_TASK, pass_context=True, retry=retry)
    async def run_chunk(context: procrastinate.JobContext, run_id: str, chunk: int) -> int:
        if _ORCHESTRATOR is None:
            raise errors.ConfigurationError("This worker has no orchestrator")
        return await _ORCHESTRATOR.runs.work_chunk(run_id, chunk, attempt=context.job.attempts)

    prune.register(app, keep_hours)
    return app


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
    app = make_app(await orch.runs.job_queue(), keep_hours=orch.config.worker.keep_jobs_hours)
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
                for name in (CHUNK_TASK, PRUNE_TASK)
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
