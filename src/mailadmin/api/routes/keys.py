"""API keys over HTTP, the site admin's (the rules of ``mailadmin keys``): create (the
secret is in that one answer), list (never a secret), revoke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import (
    ApiError,
    Caller,
    CallerDep,
    DryRun,
    ServicesDep,
    idempotent,
    json_response,
)
from mailadmin.api.keys import ApiKey, NewKey, check_identity
from mailadmin.api.models import KeyIn
from mailadmin.api.paging import PAGED, Cursor, Limit, page_of, paged_response
from mailadmin.api.problems import problem_responses
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, IdentityKind

router = APIRouter(prefix="/v1", tags=["API keys"])


@router.post(
    "/keys",
    response_model=NewKey,
    status_code=201,
    summary="Create an API key (its secret is shown this once)",
    responses=problem_responses(403, 422),
)
async def create_key(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: KeyIn,
    dry_run: DryRun = False,
) -> Response:
    """Make a key acting as ``identity``; ``key`` in the answer is the only copy of the
    secret (only its hash is stored). The identity must name something known (a reseller
    recorded, a configured tenant, an address of one), as for ``mailadmin keys create``.

    An ``Idempotency-Key`` is refused here (``400``): replaying the answer would mean
    keeping the secret. ``?dry_run=true`` checks everything and answers ``200`` with the
    key that would be made, without an id or a secret; nothing is stored.
    """
    if "Idempotency-Key" in request.headers:
        raise ApiError(
            400,
            "idempotency_key",
            "Creating an API key takes no Idempotency-Key: its answer holds the secret, "
            "which is never stored; list the keys to see whether a request went through",
        )
    _site_admin_only(caller, "create API keys")
    acting = Identity.parse(body.identity)
    orch = services.orch
    await asyncio.to_thread(check_identity, orch, acting)
    if dry_run:
        preview = ApiKey(
            id="", identity=str(acting), label=body.label.strip(), created=datetime.now(UTC)
        )
        return json_response(preview)
    made = await asyncio.to_thread(services.keys.create, acting, body.label.strip())
    return json_response(made, status=201, headers={"Cache-Control": "no-store"})


@router.get("/keys", response_model=list[ApiKey], summary="API keys", responses=PAGED)
async def keys(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every key, revoked ones too, oldest first (never a secret)."""
    _site_admin_only(caller, "list API keys")
    found = await asyncio.to_thread(services.keys.list)
    page = page_of(
        found, lambda k: (k.created.isoformat(), k.id), scope="keys", limit=limit, cursor=cursor
    )
    return paged_response(request, page)


@router.delete(
    "/keys/{key_id}",
    response_model=ApiKey,
    summary="Revoke an API key",
    responses=problem_responses(403, 404),
)
async def revoke_key(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    key_id: str,
    dry_run: DryRun = False,
) -> Response:
    """Refuse the key from its next request on (``401``); it stays listed, with the time it
    was revoked. Revoking a revoked key answers it unchanged. ``?dry_run=true`` answers
    the key as it is now and revokes nothing."""

    async def work() -> Response:
        _site_admin_only(caller, "revoke API keys")
        if dry_run:
            found = await asyncio.to_thread(services.keys.list)
            match = next((k for k in found if k.id == key_id.strip()), None)
            if match is None:
                raise errors.NotFoundError(f"No API key '{key_id.strip()}'")
            return json_response(match)
        revoked = await asyncio.to_thread(services.keys.revoke, key_id.strip())
        return json_response(revoked)

    return await idempotent(request, services, caller, work)


def _site_admin_only(caller: Caller, what: str) -> None:
    if caller.identity.kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(f"{caller.identity} may not {what}", reason="not_permitted")
