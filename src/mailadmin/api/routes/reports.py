"""The reports (usage, licences, renewals) and the journal."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from mailadmin.api.deps import CallerDep, ServicesDep
from mailadmin.api.models import JournalRecord
from mailadmin.contract import errors
from mailadmin.reports.licences import LicenceRow
from mailadmin.reports.renewals import RenewalRow
from mailadmin.reports.usage import UsageRow
from mailadmin.rules.identities import IdentityKind, acting_scope

router = APIRouter(prefix="/v1", tags=["reports and journal"])


@router.get("/reports/usage", response_model=list[UsageRow], summary="Quota over-usage report")
async def usage(
    services: ServicesDep, caller: CallerDep, reseller: str | None = None
) -> list[UsageRow]:
    """Per customer and resource: allocated, utilised (live), remaining, over-use.

    Each identity sees the customers it reaches.
    """
    from mailadmin.reports import usage as report

    with acting_scope(caller.identity):
        return await report.build(services.orch, reseller=reseller)


@router.get("/reports/licences", response_model=list[LicenceRow], summary="Licences report")
async def licences(services: ServicesDep, caller: CallerDep) -> list[LicenceRow]:
    """Per instance: licensed, used and free seats, state, what to buy (the site admin's)."""
    from mailadmin.reports import licences as report

    with acting_scope(caller.identity):
        return await report.build(services.orch)


@router.get("/reports/renewals", response_model=list[RenewalRow], summary="Renewals report")
async def renewals(
    services: ServicesDep, caller: CallerDep, reseller: str | None = None
) -> list[RenewalRow]:
    """Renewals from today with the downgrade window and open orders."""
    from mailadmin.reports import renewals as report

    with acting_scope(caller.identity):
        return await report.build(services.orch, reseller=reseller)


@router.get("/journal", response_model=list[JournalRecord], summary="The journal of writes")
async def journal(
    services: ServicesDep,
    caller: CallerDep,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: Annotated[str | None, Query(max_length=512)] = None,
    operation: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JournalRecord]:
    """The newest writes and refused calls, newest first; each identity sees those about
    the customers (or the mailbox) it reaches."""
    orch = services.orch
    if orch.journal is None:
        raise errors.ConfigurationError("The journal is off in the configuration ([journal] url)")
    identity = caller.identity
    # Others' rows are filtered after reading: read more so the page is still full.
    wanted = limit if identity.kind is IdentityKind.SITE_ADMIN else min(limit * 10, 10000)
    entries = await asyncio.to_thread(
        orch.journal.entries,
        wanted,
        since=since,
        until=until,
        subject=subject,
        operation=operation,
        status=status,
        outcome=outcome,
    )
    with acting_scope(identity):
        visible = [
            e for e in entries if _visible(services, identity.kind, identity.name, e.subject)
        ]
    return [JournalRecord.model_validate(e, from_attributes=True) for e in visible[:limit]]


def _visible(services: ServicesDep, kind: IdentityKind, name: str | None, subject: str) -> bool:
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
