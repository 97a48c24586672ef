"""The reports (usage, licences, renewals) and the journal."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, ServicesDep
from mailadmin.api.models import JournalRecord
from mailadmin.api.paging import (
    PAGED,
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    page_of,
    paged_response,
)
from mailadmin.contract import errors
from mailadmin.reports.licences import LicenceRow
from mailadmin.reports.renewals import RenewalRow
from mailadmin.reports.usage import UsageRow
from mailadmin.rules.identities import IdentityKind, acting_scope

router = APIRouter(prefix="/v1", tags=["reports and journal"])


@router.get(
    "/reports/usage",
    response_model=list[UsageRow],
    summary="Quota over-usage report",
    responses=PAGED,
)
async def usage(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    reseller: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Per customer and resource: allocated, utilised (live), remaining, over-use; by
    subscription and resource.

    Each identity sees the customers it reaches.
    """
    from mailadmin.reports import usage as report

    with acting_scope(caller.identity):
        rows = await report.build(services.orch, reseller=reseller)
    page = page_of(
        rows,
        lambda r: (r.subscription, r.id, r.instance, str(r.resource)),
        scope="usage",
        limit=limit,
        cursor=cursor,
    )
    return paged_response(request, page)


@router.get(
    "/reports/licences",
    response_model=list[LicenceRow],
    summary="Licences report",
    responses=PAGED,
)
async def licences(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Per instance: licensed, used and free seats, state, what to buy (the site admin's)."""
    from mailadmin.reports import licences as report

    with acting_scope(caller.identity):
        rows = await report.build(services.orch)
    page = page_of(rows, lambda r: (r.instance,), scope="licences", limit=limit, cursor=cursor)
    return paged_response(request, page)


@router.get(
    "/reports/renewals",
    response_model=list[RenewalRow],
    summary="Renewals report",
    responses=PAGED,
)
async def renewals(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    reseller: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Renewals from today with the downgrade window and open orders, soonest first."""
    from mailadmin.reports import renewals as report

    with acting_scope(caller.identity):
        rows = await report.build(services.orch, reseller=reseller)
    page = page_of(
        rows,
        lambda r: (r.renewal.isoformat(), r.kind, r.subject),
        scope="renewals",
        limit=limit,
        cursor=cursor,
    )
    return paged_response(request, page)


@router.get(
    "/journal",
    response_model=list[JournalRecord],
    summary="The journal of writes",
    responses=PAGED,
)
async def journal(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: Annotated[str | None, Query(max_length=512)] = None,
    operation: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The writes and refused calls, newest first (by record id); each identity sees those
    about the customers (or the mailbox) it reaches. ``X-Total-Count`` is the site admin's
    only (counting another identity's rows would read the whole journal)."""
    orch = services.orch
    if orch.journal is None:
        raise errors.ConfigurationError("The journal is off in the configuration ([journal] url)")
    journal = orch.journal
    identity = caller.identity
    filters: dict[str, Any] = {
        "since": since,
        "until": until,
        "subject": subject,
        "operation": operation,
        "status": status,
        "outcome": outcome,
    }
    before = int(decode_cursor("journal", cursor)[0]) if cursor is not None else None
    admin = identity.kind is IdentityKind.SITE_ADMIN
    # Others' rows are filtered after reading: read in batches until the page (and one
    # more, to know whether another page follows) is full or the journal is read out.
    batch = limit + 1 if admin else min((limit + 1) * 10, 10000)
    visible: list[JournalRecord] = []
    while len(visible) <= limit:
        entries = await asyncio.to_thread(journal.entries, batch, before_id=before, **filters)
        with acting_scope(identity):
            visible.extend(
                JournalRecord.model_validate(e, from_attributes=True)
                for e in entries
                if sees_subject(services, identity.kind, identity.name, e.subject)
            )
        if len(entries) < batch:
            break
        before = entries[-1].id
    shown = visible[:limit]
    more = len(visible) > limit
    total = await asyncio.to_thread(journal.count, **filters) if admin else None
    page = Page(
        items=shown,
        next_cursor=encode_cursor("journal", (shown[-1].id,)) if more else None,
        total=total,
    )
    return paged_response(request, page)


def sees_subject(services: ServicesDep, kind: IdentityKind, name: str | None, subject: str) -> bool:
    """Whether an identity of ``kind`` and ``name`` sees a journal row about ``subject``."""
    if kind is IdentityKind.SITE_ADMIN:
        return True
    head = subject.split(" ", 1)[0].strip().lower()
    if kind is IdentityKind.MAILBOX_USER:
        return head == name
    config = services.orch.config
    try:
        tenant = config.tenant_of_address(head) if "@" in head else config.tenant_ref(head)
    except errors.MailadminError:
        return False
    return services.orch.rules.reachable(tenant.name)
