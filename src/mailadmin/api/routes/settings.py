"""A mailbox's settings after creation, and a sign-on link for its user.

Each write is one orchestrator call as the API key's identity (reach, journal, fence),
takes ``?dry_run=true``, honours ``Idempotency-Key`` and answers a change result; each
sets an absolute value, so a retry is harmless. The sign-on link is a credential: it is
answered once with ``Cache-Control: no-store`` and kept nowhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, idempotent, json_response
from mailadmin.api.models import DisplayName, Forwarding, Quota
from mailadmin.api.problems import problem_responses
from mailadmin.contract.models import ChangeResult, SignOn
from mailadmin.rules.identities import acting_scope

router = APIRouter(prefix="/v1", tags=["mailbox settings"])

_WRITE = problem_responses(403, 404, 409, 422)


@router.put(
    "/mailboxes/{address}/display-name",
    response_model=ChangeResult[str],
    summary="Set a mailbox's display name",
    responses=_WRITE,
)
async def set_display_name(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: DisplayName,
    dry_run: DryRun = False,
) -> Response:
    """Set the name shown for a mailbox; the name it has already is ``unchanged``."""

    async def work() -> Response:
        result = await services.orch.set_display_name(address, body.display_name, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.put(
    "/mailboxes/{address}/forwarding",
    response_model=ChangeResult[str],
    summary="Set or stop a mailbox's forwarding",
    responses=_WRITE,
)
async def set_forwarding(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: Forwarding,
    dry_run: DryRun = False,
) -> Response:
    """Forward a mailbox's mail to ``address`` (a copy stays); ``""`` stops forwarding."""

    async def work() -> Response:
        result = await services.orch.set_forwarding(address, body.address, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.put(
    "/mailboxes/{address}/quota",
    response_model=ChangeResult[int],
    summary="Set a mailbox's quota",
    responses=_WRITE,
)
async def set_quota(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: Quota,
    dry_run: DryRun = False,
) -> Response:
    """Set a mailbox's storage quota in MB."""

    async def work() -> Response:
        result = await services.orch.set_quota(address, body.quota_mb, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.get(
    "/mailboxes/{address}/aliases",
    response_model=list[str],
    summary="A mailbox's aliases",
    responses=problem_responses(403, 404, 422),
)
async def list_aliases(services: ServicesDep, caller: CallerDep, address: str) -> Response:
    """The other addresses a mailbox receives mail at, sorted."""
    with acting_scope(caller.identity):
        found = await services.orch.list_aliases(address)
    return json_response(found)


@router.put(
    "/mailboxes/{address}/aliases/{alias}",
    response_model=ChangeResult[list[str]],
    summary="Add an alias to a mailbox",
    responses=_WRITE,
)
async def add_alias(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    alias: str,
    dry_run: DryRun = False,
) -> Response:
    """Let a mailbox receive mail at ``alias`` too; one it has already is ``unchanged``."""

    async def work() -> Response:
        result = await services.orch.add_alias(address, alias, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.delete(
    "/mailboxes/{address}/aliases/{alias}",
    response_model=ChangeResult[list[str]],
    summary="Remove an alias of a mailbox",
    responses=_WRITE,
)
async def remove_alias(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    alias: str,
    dry_run: DryRun = False,
) -> Response:
    """Stop a mailbox receiving mail at ``alias``; one it lacks is ``unchanged``."""

    async def work() -> Response:
        result = await services.orch.remove_alias(address, alias, dry_run=dry_run)
        return json_response(result)

    return await idempotent(request, services, caller, work)


@router.get(
    "/mailboxes/{address}/sign-on",
    response_model=SignOn,
    summary="A sign-on link for a mailbox's user",
    responses=problem_responses(403, 404, 422),
)
async def single_sign_on(services: ServicesDep, caller: CallerDep, address: str) -> Response:
    """A link that signs the mailbox's user in without a password (where the platform
    has a documented way; else ``422`` unsupported). A credential: never stored."""
    with acting_scope(caller.identity):
        found = await services.orch.single_sign_on(address)
    return json_response(found, headers={"Cache-Control": "no-store"})
