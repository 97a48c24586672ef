"""Changing and removing customer and reseller records.

Each is one orchestrator call as the API key's identity, journalled with it; ``PATCH``
changes only the fields it names (``null`` clears a reseller or a renewal), ``DELETE``
forgets the record (a customer with mailboxes on its platform, or a reseller with
customers, is refused with ``403``). Both take ``?dry_run=true`` and honour
``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, idempotent, json_response
from mailadmin.api.models import CustomerPatch, ResellerPatch
from mailadmin.api.problems import problem_responses
from mailadmin.contract.models import ChangeResult
from mailadmin.orchestration.records import UNSET

router = APIRouter(prefix="/v1", tags=["resellers and customers"])

_WRITE = problem_responses(403, 409, 422)


@router.patch(
    "/customers/{tenant}",
    response_model=ChangeResult[dict[str, Any]],
    summary="Change a customer record",
    responses=_WRITE,
)
async def update_customer(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    body: CustomerPatch,
    dry_run: DryRun = False,
) -> Response:
    """Change a customer's reseller (the site admin's), package (replaced whole) or
    renewal; the fields not named stay as they are."""
    given = body.model_fields_set

    async def work() -> Response:
        result = await services.orch.update_customer(
            tenant,
            reseller=body.reseller if "reseller" in given else UNSET,
            package=body.package,
            renewal=body.renewal if "renewal" in given else UNSET,
            dry_run=dry_run,
        )
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.delete(
    "/customers/{tenant}",
    response_model=ChangeResult[dict[str, Any]],
    summary="Remove a customer record",
    responses=_WRITE,
)
async def remove_customer(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    dry_run: DryRun = False,
) -> Response:
    """Forget a customer record (its add-on sales and suspension with it); ``403
    has_mailboxes`` while its platform still holds mailboxes of it."""

    async def work() -> Response:
        return json_response(await services.orch.remove_customer(tenant, dry_run=dry_run))

    return await idempotent(request, services, caller, work)


@router.patch(
    "/resellers/{name}",
    response_model=ChangeResult[dict[str, Any]],
    summary="Change a reseller record",
    responses=_WRITE,
)
async def update_reseller(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    name: str,
    body: ResellerPatch,
    dry_run: DryRun = False,
) -> Response:
    """Change a reseller's instance, terms, package (replaced whole) or renewal (the
    site admin's); the fields not named stay as they are."""
    given = body.model_fields_set

    async def work() -> Response:
        result = await services.orch.update_reseller(
            name,
            instance=body.instance if "instance" in given else UNSET,
            prepaid=body.prepaid,
            may_oversell=body.may_oversell,
            package=body.package,
            renewal=body.renewal if "renewal" in given else UNSET,
            dry_run=dry_run,
        )
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.delete(
    "/resellers/{name}",
    response_model=ChangeResult[dict[str, Any]],
    summary="Remove a reseller record",
    responses=_WRITE,
)
async def remove_reseller(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    name: str,
    dry_run: DryRun = False,
) -> Response:
    """Forget a reseller record (the site admin's); ``403 has_customers`` while it still
    has customers."""

    async def work() -> Response:
        return json_response(await services.orch.remove_reseller(name, dry_run=dry_run))

    return await idempotent(request, services, caller, work)
