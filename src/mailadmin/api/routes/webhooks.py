"""Webhook endpoints over HTTP, the site admin's (the rules of ``mailadmin webhooks``):
register (the signing secret is in that one answer), list, remove, their deliveries and
replaying one."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

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
from mailadmin.api.models import DeliveryOut, NewWebhook, WebhookIn, WebhookOut
from mailadmin.api.paging import PAGED, Cursor, Limit, page_of, paged_response
from mailadmin.api.problems import problem_responses
from mailadmin.contract import errors
from mailadmin.rules.identities import IdentityKind

if TYPE_CHECKING:
    from mailadmin.orchestration.events import Delivery, Webhook, Webhooks

router = APIRouter(prefix="/v1", tags=["Webhooks"])


def _hooks(services: ServicesDep) -> Webhooks:
    from mailadmin.orchestration.events import Webhooks

    return Webhooks(services.orch.rules.store)


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        events=list(hook.kinds),
        label=hook.label,
        created=hook.created,
        removed=hook.removed,
    )


def _delivery(found: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=found.id,
        webhook_id=found.webhook_id,
        event=found.event,
        type=found.kind,
        state=found.state,
        attempts=found.attempts,
        due=found.due,
        status=found.status,
        error=found.error,
        delivered=found.delivered,
    )


@router.post(
    "/webhooks",
    response_model=NewWebhook,
    status_code=201,
    summary="Register a webhook endpoint (its signing secret is shown this once)",
    responses=problem_responses(403, 422),
)
async def add_webhook(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: WebhookIn,
    dry_run: DryRun = False,
) -> Response:
    """Deliver the events recorded from now on (``events``: those kinds only) to ``url``,
    each signed with ``secret`` (docs/operations.md has the verification recipe).

    An ``Idempotency-Key`` is refused (``400``): replaying the answer would mean keeping
    the secret in the idempotency records. ``?dry_run=true`` checks the URL and the kinds
    and answers ``200`` with the endpoint that would be made, without an id or a secret."""
    if "Idempotency-Key" in request.headers:
        raise ApiError(
            400,
            "idempotency_key",
            "Registering a webhook takes no Idempotency-Key: its answer holds the secret; "
            "list the webhooks to see whether a request went through",
        )
    _site_admin_only(caller, "register webhooks")
    if dry_run:
        from datetime import UTC, datetime

        from mailadmin.orchestration.events import Webhooks

        Webhooks.check(body.url, tuple(body.events))
        preview = WebhookOut(
            id="",
            url=body.url.strip(),
            events=sorted(set(body.events)),
            label=body.label.strip(),
            created=datetime.now(UTC),
        )
        return json_response(preview)
    hook, secret = await asyncio.to_thread(
        _hooks(services).add, body.url, tuple(body.events), body.label
    )
    made = NewWebhook(**_out(hook).model_dump(), secret=secret)
    return json_response(made, status=201, headers={"Cache-Control": "no-store"})


@router.get("/webhooks", response_model=list[WebhookOut], summary="Webhooks", responses=PAGED)
async def webhooks(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The registered endpoints, oldest first (never a secret)."""
    _site_admin_only(caller, "list webhooks")
    found = [_out(h) for h in await asyncio.to_thread(_hooks(services).list)]
    page = page_of(
        found, lambda h: (h.created.isoformat(), h.id), scope="webhooks", limit=limit, cursor=cursor
    )
    return paged_response(request, page)


@router.delete(
    "/webhooks/{hook_id}",
    response_model=WebhookOut,
    summary="Remove a webhook endpoint",
    responses=problem_responses(403, 404),
)
async def remove_webhook(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    hook_id: str,
    dry_run: DryRun = False,
) -> Response:
    """Deliver nothing more to the endpoint; its pending deliveries end ``failed``.
    ``?dry_run=true`` answers the endpoint as it is and removes nothing."""

    async def work() -> Response:
        _site_admin_only(caller, "remove webhooks")
        hooks = _hooks(services)
        found = await asyncio.to_thread(hooks.get if dry_run else hooks.remove, hook_id)
        return json_response(_out(found))

    return await idempotent(request, services, caller, work)


@router.get(
    "/webhooks/{hook_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="Deliveries of a webhook endpoint",
    responses={**PAGED, **problem_responses(403, 404)},
)
async def deliveries(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    hook_id: str,
    state: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Each event handed to the endpoint, oldest first: its state, attempts and the last
    answer (``state``: only ``pending``, ``delivered`` or ``failed`` ones)."""
    _site_admin_only(caller, "list webhook deliveries")
    found = await asyncio.to_thread(_hooks(services).deliveries, hook_id, state=state)
    page = page_of(
        [_delivery(d) for d in found],
        lambda d: (d.id,),
        scope=f"deliveries:{hook_id}",
        limit=limit,
        cursor=cursor,
    )
    return paged_response(request, page)


@router.post(
    "/webhooks/{hook_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send a delivery again",
    responses=problem_responses(403, 404),
)
async def replay(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    hook_id: str,
    delivery_id: int,
    dry_run: DryRun = False,
) -> Response:
    """Make the delivery due now, its attempts counted afresh, whatever its state (a
    delivered one is sent again: the receiver's copy was lost). ``?dry_run=true``
    answers ``200`` with the delivery as it is, nothing sent again."""

    async def work() -> Response:
        _site_admin_only(caller, "replay webhook deliveries")
        hooks = _hooks(services)
        if dry_run:
            found = await asyncio.to_thread(hooks.deliveries, hook_id)
            match = next((d for d in found if d.id == delivery_id), None)
            if match is None:
                raise errors.NotFoundError(f"Webhook '{hook_id}' has no delivery {delivery_id}")
            return json_response(_delivery(match))
        replayed = await asyncio.to_thread(hooks.replay, delivery_id, hook_id)
        return json_response(_delivery(replayed), status=202)

    return await idempotent(request, services, caller, work)


def _site_admin_only(caller: Caller, what: str) -> None:
    if caller.identity.kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(f"{caller.identity} may not {what}", reason="not_permitted")
