"""The application factory: ``create_app(config_path)`` returns the ASGI app.

FastAPI (on Starlette) generates the OpenAPI document from the pydantic models the core
already has; uvicorn serves it. Everything long-lived (the orchestrator, the stores, the
runs) is built in the lifespan, so importing this module touches no database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mailadmin.api.deps import ApiError, Services, api_error_response
from mailadmin.api.problems import field_problems, from_error, problem_response, problem_responses
from mailadmin.api.requestid import REQUEST_ID
from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["API_VERSION", "REQUEST_ID", "create_app"]

API_VERSION = "1.0.0"
_log = logging.getLogger("mailadmin.api")

#: Default time an Idempotency-Key's answer is kept.
DEFAULT_RETENTION = timedelta(hours=24)

_DESCRIPTION = """\
mailadmin over HTTP, for control panels in any language. Every request but `/healthz` and
`/readyz` sends an API key (`Authorization: Bearer mak_...`, made by `mailadmin keys
create --identity IDENTITY`) and runs as the key's identity: site admin, reseller,
customer admin or mailbox user. Every write takes `?dry_run=true` and an `Idempotency-Key`
header. Errors are `application/problem+json` (RFC 9457) with mailadmin's `code`. Lists
answer one page (`limit`, `cursor`): follow `Link: rel="next"` while `X-Has-More` is `true`.
See docs/http-api.md.
"""


def create_app(
    config: str | Path | None = None,
    *,
    orchestrator: Callable[[], Orchestrator] | None = None,
    retention: timedelta = DEFAULT_RETENTION,
) -> FastAPI:
    """The HTTP API over the orchestrator of ``config`` (a TOML file), or of the factory
    ``orchestrator``. ``retention``: how long answers of an Idempotency-Key are kept."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        from mailadmin.api.idempotency import IdempotencyStore
        from mailadmin.api.keys import ApiKeys
        from mailadmin.api.runs import RunManager
        from mailadmin.orchestration.leases import holder_gone, process_holder
        from mailadmin.orchestration.orchestrator import Orchestrator

        if orchestrator is not None:
            orch = orchestrator()
        elif config is not None:
            orch = Orchestrator.from_config(config)
        else:
            raise errors.ConfigurationError("The HTTP API needs a configuration")
        store = orch.rules.store
        services = Services(
            orch=orch,
            keys=ApiKeys(store),
            idempotency=IdempotencyStore(store, retention, holder=process_holder()),
            runs=RunManager(orch, store),
        )
        app.state.services = services
        telemetry = orch.config.telemetry
        if telemetry.json_logs:
            from mailadmin.orchestration.jsonlogs import use_json_logs

            use_json_logs("mailadmin.api", "")
        from mailadmin.orchestration import tracing

        tracer = tracing.configure(telemetry)
        services.metrics = _metrics(orch)
        if services.metrics is not None:
            services.metrics.install()
        delivering = _deliver(orch, services.metrics)
        resumed = await services.runs.resume()
        await _settle_run_keys(services, resumed)
        # A single write cut short by a kill: its key is released, so a repeat goes ahead
        # (the journal's fence settles what the dead request sent) instead of a 409.
        released = await asyncio.to_thread(services.idempotency.release_orphans, holder_gone)
        if released:
            _log.info("released %d Idempotency-Key(s) of requests whose service died", released)
        # Runs of another process that dies later are taken over once their lease expires.
        services.runs.watch(lambda taken: _settle_run_keys(services, taken))
        try:
            yield
        finally:
            if delivering is not None:
                delivering.cancel()
                await asyncio.gather(delivering, return_exceptions=True)
            await services.runs.aclose()
            if services.metrics is not None:
                services.metrics.uninstall()
            if tracer is not None:
                tracing.uninstall()
                tracer.shutdown()
            await orch.aclose()

    app = FastAPI(
        title="mailadmin HTTP API",
        version=API_VERSION,
        description=_DESCRIPTION,
        lifespan=lifespan,
        responses=problem_responses(400, 401, "default"),
        # Served by mailadmin.api.docs_ui from packaged assets (FastAPI's use a CDN).
        docs_url=None,
        redoc_url=None,
    )
    _install_handlers(app)
    from mailadmin.api.admission import Admission
    from mailadmin.api.requestid import RequestIds

    # Request ids and the request log inside the admission layer (which answers its
    # refusals with their own request id), as the decorator-made middleware was.
    app.add_middleware(RequestIds)
    # Outside every other layer: the key is checked, and the body capped, before any of
    # the body is read (FastAPI reads a body before a route's dependencies run).
    app.add_middleware(Admission)
    from mailadmin.api import docs_ui
    from mailadmin.api.routes import (
        catalogue,
        keys,
        lifecycle,
        mailboxes,
        metrics,
        orders,
        reconcile,
        records,
        reports,
        runs,
        sales,
        service,
        settings,
        tenancy,
        webhooks,
    )

    for module in (
        service,
        metrics,
        catalogue,
        tenancy,
        records,
        mailboxes,
        lifecycle,
        settings,
        orders,
        runs,
        sales,
        reports,
        reconcile,
        keys,
        webhooks,
    ):
        app.include_router(module.router)
    app.include_router(docs_ui.router)
    from mailadmin.api import console

    console.mount(app)
    return app


def _metrics(orch: Orchestrator) -> Any:
    """This process's metrics, or None without prometheus-client (``/metrics`` says so)."""
    try:
        from mailadmin.orchestration.metrics import Metrics
    except ImportError:  # pragma: no cover - the metrics extra is not installed
        return None
    try:
        import prometheus_client  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    platforms = {name: orch.provider(name).platform or name for name in orch.instances}
    return Metrics(platforms, orch.rules.store)


def _deliver(orch: Orchestrator, metrics: Any) -> asyncio.Task[None] | None:
    """The webhook deliverer, a background task of the API ([events] deliver)."""
    if not orch.config.events.deliver:
        return None
    from mailadmin.orchestration.events import Deliverer

    observe = metrics.delivery if metrics is not None else None
    deliverer = Deliverer(orch.rules.store, orch.config.events, observe=observe)
    return asyncio.create_task(deliverer.run(), name="mailadmin-webhooks")


async def _settle_run_keys(services: Services, resumed: list[str]) -> None:
    """Keep, for the Idempotency-Keys of requests that started the runs this start-up took
    up, the answer those requests would have had (``202`` with the run): a repeat of such
    a request gets its run, not ``409 idempotency_in_progress`` until the claim is stale."""
    import asyncio

    from fastapi.encoders import jsonable_encoder

    from mailadmin.api.idempotency import Stored

    answers: dict[str, Stored] = {}
    for run_id in resumed:
        run = await asyncio.to_thread(services.runs.get, run_id)
        if run is None:
            continue
        body = json.dumps(jsonable_encoder(run), separators=(",", ":")).encode("utf-8")
        headers = {"content-type": "application/json", "location": f"/v1/runs/{run_id}"}
        answers[run_id] = Stored(status=202, body=body, headers=headers)
    if answers:
        settled = await asyncio.to_thread(services.idempotency.settle_runs, answers)
        if settled:
            _log.info("settled %d Idempotency-Key(s) of resumed runs", settled)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.MailadminError)
    async def typed(request: Request, exc: errors.MailadminError) -> Response:
        return from_error(exc, instance=request.url.path, request_id=_rid(request))

    @app.exception_handler(ApiError)
    async def api(request: Request, exc: ApiError) -> Response:
        return api_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = field_problems(exc.errors())
        first = problems[0] if problems else None
        detail = f"{first.field}: {first.message}" if first else "The request is not valid"
        return problem_response(
            422,
            "validation",
            detail,
            instance=request.url.path,
            request_id=_rid(request),
            field_errors=problems,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        detail = exc.detail if isinstance(exc.detail, str) else "The request was refused"
        return problem_response(
            exc.status_code,
            code,
            detail,
            instance=request.url.path,
            request_id=_rid(request),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        _log.error("request %s failed", _rid(request), exc_info=exc)
        return _internal(request)


def _internal(request: Request) -> Response:
    return problem_response(
        500,
        "internal",
        "The service failed to answer; the request id names it in the service's log",
        instance=request.url.path,
        request_id=_rid(request),
    )


def _rid(request: Request) -> Any:
    return getattr(request.state, "request_id", None)
