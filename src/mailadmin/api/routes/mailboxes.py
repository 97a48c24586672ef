"""Mailboxes (list, create, delete), plan changes and add-on totals.

Every write takes ``?dry_run=true`` and ``Idempotency-Key``; every call runs as the API
key's identity, so the business rules refuse anything outside its reach before a request
reaches the platform.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, idempotent, json_response
from mailadmin.api.models import AddonTotal, PlanChange
from mailadmin.api.paging import PAGED, Cursor, Limit, page_of, paged_response
from mailadmin.api.problems import problem_responses
from mailadmin.contract.models import ChangeResult, Mailbox, NewMailbox
from mailadmin.rules.identities import acting_scope

router = APIRouter(prefix="/v1", tags=["mailboxes, plans and add-ons"])

_WRITE = problem_responses(403, 409, 422)


@router.get(
    "/customers/{tenant}/mailboxes",
    response_model=list[Mailbox],
    summary="Mailboxes of a tenant",
    responses=PAGED,
)
async def mailboxes(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The mailboxes of a tenant, read live from its platform, by address."""
    with acting_scope(caller.identity):
        found = await services.orch.list_mailboxes(tenant)
    page = page_of(
        found,
        lambda m: (str(m.address).lower(),),
        scope=f"mailboxes:{tenant.strip().lower()}",
        limit=limit,
        cursor=cursor,
    )
    return paged_response(request, page)


@router.post(
    "/customers/{tenant}/mailboxes",
    response_model=ChangeResult[Mailbox],
    status_code=201,
    summary="Create a mailbox",
    responses=_WRITE,
)
async def create_mailbox(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    body: NewMailbox,
    dry_run: DryRun = False,
) -> Response:
    """Create a user, shared, room or equipment mailbox (within the tenant's allocation)."""

    async def work() -> Response:
        result = await services.orch.create_mailbox(tenant, body, dry_run=dry_run)
        return json_response(result, status=200 if dry_run else 201)

    return await idempotent(request, services, caller, work)


@router.delete(
    "/mailboxes/{address}",
    response_model=ChangeResult[Mailbox],
    summary="Delete a mailbox",
    responses=_WRITE,
)
async def delete_mailbox(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    dry_run: DryRun = False,
) -> Response:
    """Delete a mailbox."""

    async def work() -> Response:
        return json_response(await services.orch.delete_mailbox(address, dry_run=dry_run))

    return await idempotent(request, services, caller, work)


@router.put(
    "/mailboxes/{address}/plan",
    response_model=ChangeResult[str],
    summary="Change a mailbox's plan",
    responses=_WRITE,
)
async def set_plan(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: PlanChange,
    dry_run: DryRun = False,
) -> Response:
    """Put one mailbox on a neutral plan (upgrade or downgrade); ``outcome`` says
    ``changed``, ``unchanged`` or ``accepted`` (the platform finishes it later)."""

    async def work() -> Response:
        return json_response(await services.orch.set_plan(address, body.plan, dry_run=dry_run))

    return await idempotent(request, services, caller, work)


@router.put(
    "/customers/{tenant}/addons/{addon}",
    response_model=ChangeResult[int],
    summary="Set an add-on total",
    responses=_WRITE,
)
async def set_addon(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    addon: str,
    body: AddonTotal,
    dry_run: DryRun = False,
) -> Response:
    """Set the **total** quantity of an add-on for a tenant (``mailboxes``,
    ``shared_mailbox``, ``mailboxes:sync``...); the site admin or the tenant's reseller.

    Add-ons kept by mailadmin (shared and resource mailboxes on platforms without such a
    limit) are enforced when mailboxes are created.
    """

    async def work() -> Response:
        result = await services.orch.apply_addon(tenant, addon, body.quantity, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)
