"""``/metrics``: this process's metrics in Prometheus' text format, for the site admin's
key (a scraper sends it as a bearer token)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, ServicesDep
from mailadmin.api.problems import problem_responses
from mailadmin.contract import errors
from mailadmin.rules.identities import IdentityKind

router = APIRouter(tags=["service"])


@router.get(
    "/metrics",
    summary="Metrics (Prometheus text format)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"},
        **problem_responses(403, 503),
    },
)
async def metrics(services: ServicesDep, caller: CallerDep) -> Response:
    """Platform requests by platform, operation and outcome, their latency, retries and
    429 answers, run items, open journal rows and webhook deliveries (docs/operations.md)."""
    if caller.identity.kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(f"{caller.identity} may not read metrics", reason="not_permitted")
    found = services.metrics
    if found is None:
        raise errors.Unavailable("Metrics need prometheus-client: pip install 'mailadmin[metrics]'")
    from mailadmin.orchestration.metrics import CONTENT_TYPE

    body = await asyncio.to_thread(found.render)
    return Response(body, media_type=CONTENT_TYPE)
