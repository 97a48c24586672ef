"""Bulk add-on sales (seed 003): ``202 Accepted`` with a run whose items say sold, skipped
or failed, and why."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, bind_run, idempotent
from mailadmin.api.models import SaleRequest
from mailadmin.api.problems import problem_responses
from mailadmin.api.routes.runs import accepted
from mailadmin.api.runs import Run, RunKind

router = APIRouter(prefix="/v1", tags=["bulk runs"])


@router.post(
    "/sales",
    response_model=Run,
    status_code=202,
    summary="Sell an add-on to many resellers or customers (bulk run)",
    responses=problem_responses(403, 409, 422),
)
async def sell(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: SaleRequest,
    dry_run: DryRun = False,
) -> Response:
    """Sell ``addon`` to every target, one after another (each sale changes the totals the
    next is capped by); poll ``Location``. Each item of the run is ``sold``, ``skipped``
    (``result.reason`` says why) or ``failed`` (``error.message`` says why); ``summary``
    counts them. A sale to a customer also sets the platform's total of the resource.

    The key's identity is checked first: the site admin sells to anyone, a reseller only to
    its own customers (``to=customers``, ``owner`` itself or ``all``), nobody else sells.
    """
    from mailadmin.rules.sales import BulkSale, sale_targets

    sale = BulkSale(**body.model_dump())
    orch = services.orch

    async def work() -> Response:
        targets = await asyncio.to_thread(sale_targets, orch, sale)
        payload = sale.model_dump(mode="json")
        run = await services.runs.start(
            RunKind.SALES,
            caller.identity,
            [(name, {"name": name, "sale": payload}) for name in targets],
            dry_run=dry_run,
            # One after another: each sale changes the totals the next one is capped by.
            concurrency=1,
        )
        await bind_run(run.id)
        return accepted(run)

    return await idempotent(request, services, caller, work)
