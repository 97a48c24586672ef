"""Bulk runs: ``202 Accepted`` with a run to poll (state, progress, per-item results)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, DryRun, ServicesDep, bind_run, idempotent, json_response
from mailadmin.api.models import AddonRunRequest, PlanRunRequest
from mailadmin.api.paging import PAGED, Cursor, Page, decode_cursor, encode_cursor, paged_response
from mailadmin.api.problems import problem_responses
from mailadmin.api.runs import Run, RunKind, visible_to
from mailadmin.contract import errors
from mailadmin.rules.identities import IdentityKind

router = APIRouter(prefix="/v1", tags=["bulk runs"])

_ACCEPTED = problem_responses(403, 409, 422)


@router.post(
    "/runs/plan-changes",
    response_model=Run,
    status_code=202,
    summary="Change many plans (bulk run)",
    responses=_ACCEPTED,
)
async def plan_changes(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: PlanRunRequest,
    dry_run: DryRun = False,
) -> Response:
    """Accept plan changes and work them in the background; poll ``Location``.

    The whole batch is checked first: an unknown plan or tenant, a bad address or an
    address given twice refuses the request (``422``, naming every bad item) and nothing
    is sent. Each item runs as the key's identity: an item outside its reach fails alone,
    with ``policy_denied``, and nothing is sent for it.
    """

    async def work() -> Response:
        run = await services.runs.start(
            RunKind.PLAN_CHANGES,
            caller.identity,
            [(item.address, item.model_dump()) for item in body.items],
            dry_run=dry_run,
            concurrency=body.concurrency,
        )
        await bind_run(run.id)
        return accepted(run)

    return await idempotent(request, services, caller, work)


@router.post(
    "/runs/addons",
    response_model=Run,
    status_code=202,
    summary="Set many add-on totals (bulk run)",
    responses=_ACCEPTED,
)
async def addons(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    body: AddonRunRequest,
    dry_run: DryRun = False,
) -> Response:
    """Accept add-on totals and work them in the background; poll ``Location``.

    The whole batch is checked first: an unknown tenant or add-on, a bad quantity or one
    add-on of a tenant given twice refuses the request (``422``) and nothing is sent."""
    keys = [f"{item.tenant.strip().lower()}:{item.addon.strip().lower()}" for item in body.items]

    async def work() -> Response:
        run = await services.runs.start(
            RunKind.ADDONS,
            caller.identity,
            [(key, item.model_dump()) for key, item in zip(keys, body.items, strict=True)],
            dry_run=dry_run,
            concurrency=body.concurrency,
        )
        await bind_run(run.id)
        return accepted(run)

    return await idempotent(request, services, caller, work)


@router.get("/runs", response_model=list[Run], summary="Bulk runs", responses=PAGED)
async def runs(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Annotated[
        int, Query(ge=1, le=500, description="At most this many runs (1 to 500).")
    ] = 50,
    cursor: Cursor = None,
) -> Response:
    """The runs (without items), newest first: the caller's own; every run for the site
    admin."""
    mine = None if caller.identity.kind is IdentityKind.SITE_ADMIN else str(caller.identity)
    after: tuple[str, str] | None = None
    if cursor is not None:
        created, run_id = decode_cursor("runs", cursor)
        after = (str(created), str(run_id))
    found = await asyncio.to_thread(services.runs.list, mine, limit + 1, after=after)
    shown = found[:limit]
    last = shown[-1] if shown else None
    more = len(found) > limit and last is not None
    page = Page(
        items=shown,
        next_cursor=encode_cursor("runs", (last.created.isoformat(), last.id))
        if more and last is not None
        else None,
        total=await asyncio.to_thread(services.runs.count, mine),
    )
    return paged_response(request, page)


@router.get(
    "/runs/{run_id}",
    response_model=Run,
    summary="Poll a bulk run",
    responses={404: {"description": "No such run (or not the caller's)"}},
)
async def run(services: ServicesDep, caller: CallerDep, run_id: str) -> Response:
    """State, progress and per-item results. While it runs, ``Retry-After`` says when to
    poll again."""
    found = await asyncio.to_thread(services.runs.get, run_id)
    # Another identity's run is "not found", not "forbidden": its id says nothing.
    if found is None or not visible_to(caller.identity, found):
        raise errors.NotFoundError(f"No run '{run_id}'")
    headers = {"Retry-After": "1"} if found.state in ("accepted", "running") else None
    return json_response(found, headers=headers)


@router.post(
    "/runs/{run_id}/cancel",
    response_model=Run,
    summary="Cancel a bulk run",
    responses={**problem_responses(403), 404: {"description": "No such run (or not the caller's)"}},
)
async def cancel(
    request: Request, services: ServicesDep, caller: CallerDep, run_id: str, dry_run: DryRun = False
) -> Response:
    """Stop a run: no item starts from now on; the items on the wire finish and are
    recorded; the others end ``cancelled`` and ``mailadmin journal resume`` leaves them
    (``--run ID`` sends them on purpose). Cancelling a run that has ended answers it
    unchanged. ``?dry_run=true`` answers the run as it is and cancels nothing."""

    async def work() -> Response:
        found = await asyncio.to_thread(services.runs.get, run_id, items=False)
        if found is None or not visible_to(caller.identity, found):
            raise errors.NotFoundError(f"No run '{run_id}'")
        if not dry_run:
            await services.runs.cancel(run_id)
        ended = await asyncio.to_thread(services.runs.get, run_id)
        assert ended is not None
        return json_response(ended)

    return await idempotent(request, services, caller, work)


def accepted(run: Run) -> Response:
    """The `202 Accepted` answer of a run just started: poll `Location`."""
    location = f"/v1/runs/{run.id}"
    return json_response(run, status=202, headers={"Location": location, "Retry-After": "1"})
