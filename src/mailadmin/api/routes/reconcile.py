"""Reconcile over HTTP: the drift report, and the import of what it found (site admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, json_response
from mailadmin.api.problems import problem_responses
from mailadmin.orchestration.reconcile import ReconcileReport
from mailadmin.rules.identities import acting_scope

router = APIRouter(prefix="/v1", tags=["reconcile"])

Tenants = Annotated[
    list[str] | None, Query(description="Only these tenants (default: every one reached).")
]


@router.get(
    "/reconcile",
    response_model=ReconcileReport,
    summary="Compare the platforms with what mailadmin keeps",
    responses=problem_responses(403, 404, 422),
)
async def reconcile(services: ServicesDep, caller: CallerDep, tenant: Tenants = None) -> Response:
    """Drifts: tenants no customer maps to (site admin only), mailboxes the kept use does
    not count, limits that are not the allocation, plans outside the catalogue."""
    with acting_scope(caller.identity):
        report = await services.orch.reconcile(tenant or ())
    return json_response(report)


@router.post(
    "/reconcile/import",
    response_model=ReconcileReport,
    summary="Record what reconcile found",
    responses=problem_responses(403, 404, 422),
)
async def reconcile_import(
    services: ServicesDep,
    caller: CallerDep,
    tenant: Tenants = None,
    owner: Annotated[
        str | None, Query(description="Owner of adopted tenants: a reseller, or 'host'.")
    ] = None,
    dry_run: DryRun = False,
) -> Response:
    """Record the live use and adopt the tenants no customer maps to (under ``owner``);
    ``?dry_run=true`` says what would be recorded and records nothing."""
    with acting_scope(caller.identity):
        report = await services.orch.reconcile(
            tenant or (), adopt=True, owner=owner, dry_run=dry_run
        )
    return json_response(report)
