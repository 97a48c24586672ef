"""Resellers and customers (tenants): who sells to whom."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, idempotent, json_response
from mailadmin.api.models import BillingIn, CustomerIn, ResellerIn
from mailadmin.api.paging import PAGED, Cursor, Limit, page_of, paged_response
from mailadmin.api.problems import problem_responses
from mailadmin.contract import errors
from mailadmin.contract.models import MailboxCount
from mailadmin.rules.identities import IdentityKind, acting_scope
from mailadmin.rules.tenancy import Customer, CustomerSpec, Reseller, ResellerSpec

router = APIRouter(prefix="/v1", tags=["resellers and customers"])

_WRITE = problem_responses(403, 409, 422)


@router.get("/resellers", response_model=list[Reseller], summary="Resellers", responses=PAGED)
async def resellers(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every reseller (site admin), by name; a reseller sees itself."""
    identity = caller.identity
    if identity.kind not in (IdentityKind.SITE_ADMIN, IdentityKind.RESELLER):
        raise errors.PolicyDenied(f"{identity} may not list resellers", reason="not_permitted")
    found = await asyncio.to_thread(services.orch.rules.tenancy.resellers)
    if identity.kind is IdentityKind.RESELLER:
        found = [r for r in found if r.name == identity.name]
    page = page_of(found, lambda r: (r.name,), scope="resellers", limit=limit, cursor=cursor)
    return paged_response(request, page)


@router.post(
    "/resellers",
    response_model=Reseller,
    status_code=201,
    summary="Record a reseller",
    responses=_WRITE,
)
async def add_reseller(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: ResellerIn,
    dry_run: DryRun = False,
) -> Response:
    """Record (or update) a reseller: the site admin's."""

    async def work() -> Response:
        if caller.identity.kind is not IdentityKind.SITE_ADMIN:
            raise errors.PolicyDenied(
                f"{caller.identity} may not add resellers", reason="not_permitted"
            )
        if body.instance is not None and body.instance not in services.orch.instances:
            raise errors.ValidationError(f"Unknown instance '{body.instance}'")
        spec = ResellerSpec(**body.model_dump(exclude={"name"}))
        if dry_run:
            return json_response(Reseller(name=body.name.strip().lower(), **spec.model_dump()))
        tenancy = services.orch.rules.tenancy
        return json_response(
            await asyncio.to_thread(tenancy.add_reseller, body.name, spec), status=201
        )

    return await idempotent(request, services, caller, work)


@router.get("/resellers/{name}", response_model=Reseller, summary="One reseller")
async def reseller(services: ServicesDep, caller: CallerDep, name: str) -> Reseller:
    """One reseller: the site admin's, or the reseller's own."""
    identity = caller.identity
    wanted = name.strip().lower()
    allowed = identity.kind is IdentityKind.SITE_ADMIN or (
        identity.kind is IdentityKind.RESELLER and identity.name == wanted
    )
    if not allowed:
        raise errors.PolicyDenied(
            f"{identity} may not reach reseller '{name}'", reason="cross_boundary"
        )
    found = await asyncio.to_thread(services.orch.rules.tenancy.reseller, wanted)
    if found is None:
        raise errors.NotFoundError(f"No reseller '{name}'")
    return found


@router.get("/customers", response_model=list[Customer], summary="Customers", responses=PAGED)
async def customers(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    reseller: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The customers the caller reaches, by name (``?reseller=`` keeps one reseller's)."""
    orch = services.orch
    with acting_scope(caller.identity):
        if caller.identity.kind is IdentityKind.MAILBOX_USER:
            raise errors.PolicyDenied(
                f"{caller.identity} may not list customers", reason="not_permitted"
            )
        rows = []
        for name in orch.tenants:
            if not orch.rules.reachable(name):
                continue
            record = _record(services, name)
            if reseller is not None and record.reseller != reseller.strip().lower():
                continue
            rows.append(record)
    page = page_of(rows, lambda c: (c.name,), scope="customers", limit=limit, cursor=cursor)
    return paged_response(request, page)


@router.post(
    "/customers",
    response_model=Customer,
    status_code=201,
    summary="Record a customer",
    responses=_WRITE,
)
async def add_customer(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: CustomerIn,
    dry_run: DryRun = False,
) -> Response:
    """Record a customer (a configured tenant) under a reseller or the host.

    Only the site admin assigns a platform tenant to a reseller: a reseller's request for
    any tenant it does not own already is ``403 not_permitted`` (the same answer for the
    host's own customers, another reseller's and unknown names).
    """

    async def work() -> Response:
        orch = services.orch
        spec = CustomerSpec(**body.model_dump(exclude={"name"}))
        if dry_run:
            identity = caller.identity
            if identity.kind is IdentityKind.RESELLER:
                if spec.reseller not in (None, identity.name):
                    raise errors.PolicyDenied(
                        f"{identity} may not add customers for reseller '{spec.reseller}'",
                        reason="cross_boundary",
                    )
                spec = spec.model_copy(update={"reseller": identity.name})
                tenancy = orch.rules.tenancy
                await asyncio.to_thread(tenancy.check_reseller_records, identity.name, body.name)
            elif identity.kind is not IdentityKind.SITE_ADMIN:
                raise errors.PolicyDenied(
                    f"{identity} may not add customers", reason="not_permitted"
                )
            name = orch.config.tenant_ref(body.name).name
            return json_response(Customer(name=name, **spec.model_dump()))
        added = await asyncio.to_thread(orch.rules.add_customer, body.name, spec)
        return json_response(added, status=201)

    return await idempotent(request, services, caller, work)


@router.get("/customers/{tenant}", response_model=Customer, summary="One customer")
async def customer(services: ServicesDep, caller: CallerDep, tenant: str) -> Customer:
    """One customer the caller reaches."""
    with acting_scope(caller.identity):
        name = _reach(services, tenant)
        return _record(services, name)


@router.put(
    "/customers/{tenant}/billing",
    response_model=Customer,
    summary="Set a customer's billing cycle",
    responses=problem_responses(403, 404, 422),
)
async def set_billing(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    tenant: str,
    body: BillingIn,
    dry_run: DryRun = False,
) -> Response:
    """Set the customer's next renewal date and its own billing term in months (seeds 001,
    002): downgrade windows and the renewals report follow them. What the body leaves out
    is kept. The seller's: the site admin, or the reseller that owns the customer."""

    async def work() -> Response:
        rules = services.orch.rules

        def run() -> Customer:
            with acting_scope(caller.identity):
                return rules.set_billing(
                    tenant, renewal=body.renewal, term_months=body.term_months, dry_run=dry_run
                )

        return json_response(await asyncio.to_thread(run))

    return await idempotent(request, services, caller, work)


@router.get(
    "/customers/{tenant}/mailbox-count",
    response_model=MailboxCount,
    summary="Mailboxes by kind and plan",
)
async def count(services: ServicesDep, caller: CallerDep, tenant: str) -> MailboxCount:
    """How many mailboxes the tenant has, by kind and by plan (read live)."""
    with acting_scope(caller.identity):
        return await services.orch.count_mailboxes(tenant)


def _reach(services: ServicesDep, tenant: str) -> str:
    """The tenant's configured name, refused outside the caller's reach (nothing sent)."""
    orch = services.orch
    # Through the orchestrator's routing: an unknown name is refused as one out of reach.
    name = orch.provider_for(tenant)[1].name
    if not orch.rules.reachable(name):
        identity = orch.rules.acting()
        raise errors.PolicyDenied(
            f"{identity} may not reach customer '{name}'", reason="cross_boundary"
        )
    return name


def _record(services: ServicesDep, name: str) -> Customer:
    found = services.orch.rules.tenancy.customer(name)
    # A configured tenant without a record is the host's own customer.
    return found if found is not None else Customer(name=name)
