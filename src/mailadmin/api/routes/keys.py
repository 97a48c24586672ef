"""API keys over HTTP (the rules of ``mailadmin keys``): create (the secret is in that one
answer), list (never a secret), revoke. The site admin manages every key, a reseller those
of itself, its customers and their mailboxes, a customer admin those of its own tenant and
its mailboxes (:func:`mailadmin.api.keys.reaches`); a key out of reach is refused exactly
as one that does not exist."""

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
    Services,
    ServicesDep,
    idempotent,
    json_response,
)
from mailadmin.api.keys import (
    ApiKey,
    NewKey,
    check_identity,
    check_manager,
    out_of_reach,
    reaches,
)
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
    recorded, a configured tenant, an address of one), as for ``mailadmin keys create``,
    and be within the caller's reach (a reseller: itself, its customers, their mailboxes;
    a customer admin: its tenant and its mailboxes), else ``403``. ``read_only``: the key
    may call ``GET`` and ``HEAD`` only.

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
    check_manager(caller.identity, "create API keys")
    acting = Identity.parse(body.identity)
    orch = services.orch
    if not await asyncio.to_thread(reaches, orch, caller.identity, acting):
        raise out_of_reach(caller.identity, f"create API keys for {acting}")
    await asyncio.to_thread(check_identity, orch, acting)
    label = body.label.strip()
    if dry_run:
        preview = ApiKey(
            id="",
            identity=str(acting),
            label=label,
            created=datetime.now(UTC),
            read_only=body.read_only,
        )
        return json_response(preview)
    made = await asyncio.to_thread(services.keys.create, acting, label, read_only=body.read_only)
    return json_response(made, status=201, headers={"Cache-Control": "no-store"})


@router.get("/keys", response_model=list[ApiKey], summary="API keys", responses=PAGED)
async def keys(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The keys the caller manages (every key for the site admin), revoked ones too,
    oldest first (never a secret)."""
    check_manager(caller.identity, "list API keys")
    found = await asyncio.to_thread(_reached, services, caller)
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
    the key as it is now and revokes nothing. Anyone but the site admin is answered
    ``403`` alike for a key out of its reach and for an id no key has."""

    async def work() -> Response:
        wanted = key_id.strip()
        check_manager(caller.identity, "revoke API keys")
        match = await asyncio.to_thread(_one_reached, services, caller, wanted)
        if dry_run:
            return json_response(match)
        revoked = await asyncio.to_thread(services.keys.revoke, wanted)
        return json_response(revoked)

    return await idempotent(request, services, caller, work)


def _reached(services: Services, caller: Caller) -> list[ApiKey]:
    every = services.keys.list()
    if caller.identity.kind is IdentityKind.SITE_ADMIN:
        return every
    return [k for k in every if _reaches(services, caller, k)]


def _one_reached(services: Services, caller: Caller, key_id: str) -> ApiKey:
    found = services.keys.get(key_id)
    if caller.identity.kind is IdentityKind.SITE_ADMIN:
        if found is None:
            raise errors.NotFoundError(f"No API key '{key_id}'")
        return found
    if found is None or not _reaches(services, caller, found):
        raise out_of_reach(caller.identity, f"revoke API key '{key_id}'")
    return found


def _reaches(services: Services, caller: Caller, key: ApiKey) -> bool:
    return reaches(services.orch, caller.identity, Identity.parse(key.identity))
