"""Liveness and readiness: no API key needed (load balancers and orchestrators call them)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.responses import JSONResponse

from mailadmin.api.deps import ServicesDep
from mailadmin.api.models import Health, Readiness

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health, summary="The process answers")
async def healthz() -> Health:
    """Always ``200`` while the process runs."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready: store reachable, instances configured",
    responses={503: {"model": Readiness, "description": "Not ready; `checks` says why"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """``200`` when the store answers and at least one instance is configured, else ``503``."""
    checks: dict[str, str] = {}

    def ping() -> None:
        with services.orch.rules.store.connect() as db:
            db.execute(sa.text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(ping), timeout=5)
        checks["store"] = "ok"
    except Exception:
        # The driver's text may name the URL; the log has it, the answer does not.
        checks["store"] = "unreachable"
    checks["instances"] = "ok" if services.orch.instances else "none configured"
    ready = all(value == "ok" for value in checks.values())
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
