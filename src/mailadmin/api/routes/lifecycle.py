"""A mailbox's password, and the suspension of a mailbox or a whole customer.

Each is one orchestrator call as the API key's identity (reach, journal, fence), takes
``?dry_run=true``, and answers a change result. Suspensions honour ``Idempotency-Key``;
the password route keeps nothing of its request (a repeat sets the same password again,
which is harmless), so no fingerprint of a password is ever stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import (
    CallerDep,
    DryRun,
    ServicesDep,
    idempotent,
    json_response,
    without_key,
)
from mailadmin.api.models import NewTenant, PasswordChange, Suspension, Termination
from mailadmin.api.problems import problem_responses
from mailadmin.contract import errors
from mailadmin.contract.models import ChangeResult
from mailadmin.orchestration.bulk import BulkResult

router = APIRouter(prefix="/v1", tags=["passwords and suspensions"])

_WRITE = problem_responses(403, 404, 409, 422)


@router.put(
    "/mailboxes/{address}/password",
    response_model=ChangeResult[str],
    summary="Set a mailbox's password",
    responses=_WRITE,
)
async def set_password(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: PasswordChange,
    dry_run: DryRun = False,
) -> Response:
    """Set the password of a mailbox; the platform's password rules apply (a refusal is
    ``422``). The password is never stored, logged or journalled."""

    async def work() -> Response:
        result = await services.orch.set_password(address, body.password, dry_run=dry_run)
        return json_response(result)

    return await without_key(request, caller, work)


@router.post(
    "/mailboxes/{address}/suspend",
    response_model=ChangeResult[str],
    summary="Suspend a mailbox",
    responses=_WRITE,
)
async def suspend_mailbox(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: Suspension | None = None,
    dry_run: DryRun = False,
) -> Response:
    """Stop all access to a mailbox (non-payment, abuse); nothing is deleted."""
    reason = body.reason if body else ""

    async def work() -> Response:
        result = await services.orch.suspend_mailbox(address, reason=reason, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.post(
    "/mailboxes/{address}/resume",
    response_model=ChangeResult[str],
    summary="Resume a suspended mailbox",
    responses=_WRITE,
)
async def resume_mailbox(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: Suspension | None = None,
    dry_run: DryRun = False,
) -> Response:
    """Give a suspended mailbox its access back."""
    reason = body.reason if body else ""

    async def work() -> Response:
        result = await services.orch.resume_mailbox(address, reason=reason, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.post(
    "/customers/{tenant}/suspend",
    response_model=ChangeResult[str],
    summary="Suspend a customer",
    responses=_WRITE,
)
async def suspend_tenant(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    body: Suspension | None = None,
    dry_run: DryRun = False,
) -> Response:
    """Stop all access to every mailbox of a customer on its platform; nothing is deleted."""
    reason = body.reason if body else ""

    async def work() -> Response:
        result = await services.orch.suspend_tenant(tenant, reason=reason, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.post(
    "/customers/{tenant}/resume",
    response_model=ChangeResult[str],
    summary="Resume a suspended customer",
    responses=_WRITE,
)
async def resume_tenant(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    body: Suspension | None = None,
    dry_run: DryRun = False,
) -> Response:
    """Give a suspended customer its access back on its platform."""
    reason = body.reason if body else ""

    async def work() -> Response:
        result = await services.orch.resume_tenant(tenant, reason=reason, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.post(
    "/tenants",
    response_model=ChangeResult[str],
    summary="Create a tenant on its platform and record its customer",
    responses=_WRITE,
)
async def create_tenant(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: NewTenant,
    dry_run: DryRun = False,
) -> Response:
    """Create a configured tenant on its platform (a domain, a context) with its default
    plan and mailbox limit where the platform keeps them, and record its customer, as one
    journalled call. A tenant already there is ``unchanged``."""

    async def work() -> Response:
        result = await services.orch.create_tenant(
            body.name,
            reseller=body.reseller,
            plan=body.plan,
            max_mailboxes=body.max_mailboxes,
            dry_run=dry_run,
        )
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.delete(
    "/tenants/{tenant}",
    response_model=ChangeResult[str],
    summary="Delete a tenant from its platform and forget its customer",
    responses=_WRITE,
)
async def delete_tenant(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    dry_run: DryRun = False,
) -> Response:
    """Delete a tenant from its platform and its customer record, as one journalled call;
    a platform that keeps a tenant with mailboxes refuses (``409``)."""

    async def work() -> Response:
        return json_response(await services.orch.delete_tenant(tenant, dry_run=dry_run))

    return await idempotent(request, services, caller, work)


@router.post(
    "/tenants/{tenant}/terminate",
    response_model=BulkResult[ChangeResult[Any]],
    summary="Remove a tenant and all its mailboxes",
    responses=_WRITE,
)
async def terminate(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    body: Termination,
    dry_run: DryRun = False,
) -> Response:
    """Remove a tenant and every mailbox of it from its platform and forget its
    customer, as one run journalled item by item (``journal resume`` finishes one cut
    short). ``confirm`` must repeat the tenant's name; try ``?dry_run=true`` first."""
    if body.confirm.strip().lower() != tenant.strip().lower():
        raise errors.ValidationError("confirm must repeat the tenant's name to terminate it")

    async def work() -> Response:
        return json_response(await services.orch.terminate(tenant, dry_run=dry_run))

    return await idempotent(request, services, caller, work)
