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
import signal
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
    async def run_chunk(
        context: procrastinate.JobContext,
        run_id: str,
        chunk: int,
        trace: dict[str, str] | None = None,
    ) -> int:
        from mailadmin.orchestration.tracing import span

        if _ORCHESTRATOR is None:
            raise errors.ConfigurationError("This worker has no orchestrator")
        # A child of the trace of the request that submitted the run, when there was one.
        with span("job run_chunk", {"run_id": run_id, "chunk": chunk}, parent=trace):
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
    give_up_after: float = 300.0,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Run chunks until SIGINT or SIGTERM, or until cancelled (a graceful stop: running
    chunks finish).

    ``heartbeat``: how often this worker says it is alive; ``stalled_after``: a worker
    silent this long is taken for dead and its running jobs are handed back to the queue.

    When the store goes away (procrastinate's listener or heartbeat fails and its worker
    stops), this worker reconnects with backoff (1 s doubling to 30 s) as a new worker;
    the jobs it was running are handed back once its old registration is stalled. Past
    ``give_up_after`` seconds without the store it raises :class:`~errors.Unavailable`
    (``mailadmin worker`` exits non-zero, so its supervisor restarts it).

    ``metrics_port``: serve this worker's ``/metrics`` there (``metrics_host``, loopback
    by default). The worker also delivers webhook events, and traces its jobs when
    ``[telemetry] traces`` is set.
    """
    global _ORCHESTRATOR
    app = make_app(await orch.runs.job_queue(), keep_hours=orch.config.worker.keep_jobs_hours)
    telemetry = _Telemetry(orch, metrics_port, metrics_host)
    _ORCHESTRATOR = orch
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if install_signal_handlers else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "wait": True,
        "install_signal_handlers": False,
        "update_heartbeat_interval": heartbeat,
        "stalled_worker_timeout": stalled_after,
        "listen_notify": True,
        "fetch_job_polling_interval": 1.0,
        # A chunk stuck on a dead store must not hold the worker's stop for ever.
        "shutdown_graceful_timeout": max(stalled_after, 5.0),
    }
    if queues:
        # The maintenance queue too: pruning must not need a worker of its own.
        from mailadmin.worker.prune import MAINTENANCE_QUEUE

        options["queues"] = [*queues, MAINTENANCE_QUEUE]
    lost_since: float | None = None
    wait = 1.0
    try:
        while not stop.is_set():
            try:
                await _one_life(app, options, stop, stalled_after, heartbeat, ready)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if stop.is_set():
                    return
                now = loop.time()
                lost_since = now if lost_since is None else lost_since
                if now - lost_since > give_up_after:
                    raise errors.Unavailable(
                        f"The worker lost the store for more than {give_up_after:g} s "
                        f"({type(exc).__name__}); exiting so that its supervisor restarts it"
                    ) from None
                _log.warning(
                    "The worker lost the store (%s); reconnecting in %g s", type(exc).__name__, wait
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                wait = min(wait * 2, 30.0)
                ready = None  # said once
            else:
                lost_since, wait = None, 1.0
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        _ORCHESTRATOR = None
        await telemetry.aclose()


class _Telemetry:
    """What a worker runs beside its jobs: ``/metrics``, tracing, the webhook deliverer."""

    def __init__(self, orch: Orchestrator, port: int | None, host: str) -> None:
        from mailadmin.orchestration import tracing
        from mailadmin.orchestration.events import Deliverer

        settings = orch.config.telemetry
        if settings.json_logs:
            from mailadmin.orchestration.jsonlogs import use_json_logs

            use_json_logs("mailadmin", "")
        self._tracer = tracing.configure(settings)
        self._metrics: Any = None
        self._server: Any = None
        if port is not None:
            from mailadmin.orchestration.metrics import Metrics

            platforms = {name: orch.provider(name).platform or name for name in orch.instances}
            self._metrics = Metrics(platforms, orch.rules.store)
            try:
                self._server = _serve_metrics(self._metrics, host, port)
            except errors.ConfigurationError:
                if self._tracer is not None:
                    tracing.uninstall()
                    self._tracer.shutdown()
                raise
            self._metrics.install()
        observe = self._metrics.delivery if self._metrics is not None else None
        deliverer = Deliverer(orch.rules.store, orch.config.events, observe=observe)
        self._delivering = asyncio.ensure_future(deliverer.run())

    async def aclose(self) -> None:
        from mailadmin.orchestration import tracing

        self._delivering.cancel()
        await asyncio.gather(self._delivering, return_exceptions=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._metrics is not None:
            self._metrics.uninstall()
        if self._tracer is not None:
            tracing.uninstall()
            self._tracer.shutdown()


def _serve_metrics(metrics: Any, host: str, port: int) -> Any:
    """``/metrics`` of this worker on ``host:port`` in a thread; returns the server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mailadmin.orchestration.metrics import CONTENT_TYPE

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = metrics.render()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise errors.ConfigurationError(
            f"The worker cannot serve metrics on {host}:{port}: {exc.strerror}"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="mailadmin-metrics", daemon=True).start()
    _log.info("metrics on http://%s:%d/metrics", host, server.server_address[1])
    return server


class _Stopped(Exception):
    """procrastinate's worker stopped on its own (a side task failed: the store went away)."""


async def _one_life(
    app: procrastinate.App,
    options: dict[str, Any],
    stop: asyncio.Event,
    stalled_after: float,
    heartbeat: float,
    ready: Callable[[], None] | None,
) -> None:
    """One connection to the store: run procrastinate's worker until ``stop`` (returns)
    or until it stops by itself or fails (raises)."""
    async with app.open_async():
        rescuer = asyncio.ensure_future(_rescue_stalled(app, stalled_after, heartbeat))
        working = asyncio.ensure_future(app.run_worker_async(**options))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            if ready is not None:
                ready()
            await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                # A graceful stop: procrastinate finishes the running chunks.
                working.cancel()
                await asyncio.gather(working, return_exceptions=True)
                return
            failure = working.exception()
            if failure is not None:
                raise failure
            raise _Stopped("the worker stopped by itself")
        finally:
            for task in (rescuer, working, stopping):
                task.cancel()
            await asyncio.gather(rescuer, working, stopping, return_exceptions=True)


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
