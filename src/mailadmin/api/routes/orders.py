"""Self-service and orders (seeds 000 to 002): a mailbox's "allow upgrade" switch, and
plan, seat, licence and edition orders (``pending`` -> ``paid`` -> ``applied``).

The same rules as the CLI and Python: the switch is set by the mailbox's admins; an order
is placed by the customer's admins (the site admin, its reseller, the customer admin);
listing, confirming, applying and cancelling are the site admin's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, idempotent, json_response
from mailadmin.api.models import AllowUpgrade, OrderIn
from mailadmin.api.problems import problem_responses
from mailadmin.contract import errors
from mailadmin.rules.identities import IdentityKind, acting_scope
from mailadmin.rules.orders import Order, OrderState

router = APIRouter(prefix="/v1", tags=["self-service and orders"])

_WRITE = problem_responses(403, 409, 422)


class AllowUpgradeState(BaseModel):
    """A mailbox's switch: ``null`` when never set (the policy's default applies)."""

    address: str
    allow_upgrade: bool | None


@router.get(
    "/mailboxes/{address}/allow-upgrade",
    response_model=AllowUpgradeState,
    summary="A mailbox's allow-upgrade switch",
)
async def allow_upgrade(services: ServicesDep, caller: CallerDep, address: str) -> Any:
    """Whether the mailbox's user may change its own plan (seed 000)."""
    rules = services.orch.rules
    with acting_scope(caller.identity):
        identity = rules.acting()
        own = identity.kind is IdentityKind.MAILBOX_USER and identity.name == address.lower()
        if not own:
            tenant = services.orch.provider_for(address.rsplit("@", 1)[-1])[1].name
            if not rules.reachable(tenant):
                raise errors.PolicyDenied(
                    f"{identity} may not reach mailbox '{address}'", reason="cross_boundary"
                )
        found = await asyncio.to_thread(rules.tenancy.allow_upgrade, address)
    return AllowUpgradeState(address=address.lower(), allow_upgrade=found)


@router.put(
    "/mailboxes/{address}/allow-upgrade",
    response_model=AllowUpgradeState,
    summary="Set a mailbox's allow-upgrade switch",
    responses=_WRITE,
)
async def set_allow_upgrade(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    address: str,
    body: AllowUpgrade,
    dry_run: DryRun = False,
) -> Response:
    """Let the mailbox's user upgrade and downgrade its own plan, or not: the site admin,
    the tenant's reseller or its customer admin."""

    async def work() -> Response:
        rules = services.orch.rules
        if dry_run:
            await asyncio.to_thread(rules.check_allow_upgrade, address)
        else:
            await asyncio.to_thread(rules.set_allow_upgrade, address, body.allow_upgrade)
        state = AllowUpgradeState(address=address.lower(), allow_upgrade=body.allow_upgrade)
        return json_response(state)

    return await idempotent(request, services, caller, work)


@router.get("/orders", response_model=list[Order], summary="Orders")
async def orders(services: ServicesDep, caller: CallerDep, subject: str | None = None) -> Any:
    """Every order, oldest first, or those of one subject (the site admin's)."""
    _site_admin(caller, "list orders")
    return await asyncio.to_thread(services.orch.rules.orders.all, subject)


@router.get("/orders/{order_id}", response_model=Order, summary="One order")
async def order(services: ServicesDep, caller: CallerDep, order_id: int) -> Any:
    """One order (the site admin's)."""
    _site_admin(caller, "read orders")
    return await asyncio.to_thread(services.orch.rules.orders.get, order_id)


@router.post(
    "/orders", response_model=Order, status_code=201, summary="Place an order", responses=_WRITE
)
async def place(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: OrderIn,
    dry_run: DryRun = False,
) -> Response:
    """Open a ``pending`` order. ``seat_upgrade`` and ``licence_upgrade`` take ``add``, the
    number to add, and state the resulting total (``detail.sum``: ``10 + 5 = 15``)."""

    async def work() -> Response:
        rules = services.orch.rules
        if body.kind in ("seat_upgrade", "licence_upgrade") and body.add is None:
            raise errors.ValidationError(f"A {body.kind} needs add, the number to add")
        if body.kind == "maintenance":
            placed = await rules.order_maintenance(body.subject, body.years or 1, dry_run=dry_run)
        elif body.kind == "licence_renewal":
            if body.until is None:
                raise errors.ValidationError("A licence_renewal needs until, the new expiry")
            placed = await rules.order_licence_renewal(body.subject, body.until, dry_run=dry_run)
        elif body.kind == "seat_upgrade":
            assert body.add is not None
            placed = await rules.order_seat_upgrade(body.subject, body.add, dry_run=dry_run)
        elif body.kind == "licence_upgrade":
            assert body.add is not None
            placed = await rules.order_licence_upgrade(body.subject, body.add, dry_run=dry_run)
        else:
            detail: dict[str, Any] = {}
            if body.package:
                detail["package"] = {str(k): v for k, v in body.package.items()}
            if body.add is not None:
                detail["add"] = body.add
            if body.edition is not None:
                detail["edition"] = body.edition
            if body.current is not None:
                detail["from"] = body.current
            if body.mailboxes is not None:
                detail["mailboxes"] = body.mailboxes
            placed = await asyncio.to_thread(
                lambda: rules.place_order(body.subject, body.kind, detail, dry_run=dry_run)
            )
        return json_response(placed, status=200 if dry_run else 201)

    return await idempotent(request, services, caller, work)


@router.post(
    "/orders/{order_id}/confirm", response_model=Order, summary="Mark paid", responses=_WRITE
)
async def confirm(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    order_id: int,
    dry_run: DryRun = False,
) -> Response:
    """Mark a pending order paid (its invoice settled): the site admin's."""

    async def work() -> Response:
        _site_admin(caller, "confirm orders")
        orders = services.orch.rules.orders
        if dry_run:
            found = await asyncio.to_thread(orders.check_move, order_id, OrderState.PAID)
            return json_response(found)
        return json_response(await asyncio.to_thread(orders.confirm, order_id))

    return await idempotent(request, services, caller, work)


@router.post(
    "/orders/{order_id}/apply", response_model=Order, summary="Carry out", responses=_WRITE
)
async def apply(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    order_id: int,
    dry_run: DryRun = False,
) -> Response:
    """Carry out a paid order (a seat upgrade sets the platform's total): the site admin's."""

    async def work() -> Response:
        _site_admin(caller, "apply orders")
        return json_response(await services.orch.rules.apply_order(order_id, dry_run=dry_run))

    return await idempotent(request, services, caller, work)


@router.post("/orders/{order_id}/cancel", response_model=Order, summary="Cancel", responses=_WRITE)
async def cancel(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    order_id: int,
    dry_run: DryRun = False,
) -> Response:
    """Cancel an order not applied yet: the site admin's."""

    async def work() -> Response:
        _site_admin(caller, "cancel orders")
        orders = services.orch.rules.orders
        if dry_run:
            found = await asyncio.to_thread(orders.check_move, order_id, OrderState.CANCELLED)
            return json_response(found)
        return json_response(await asyncio.to_thread(orders.cancel, order_id))

    return await idempotent(request, services, caller, work)


def _site_admin(caller: Any, what: str) -> None:
    if caller.identity.kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(f"Only the site admin may {what}", reason="not_permitted")
