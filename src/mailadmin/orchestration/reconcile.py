"""Reconcile: what each platform holds, compared with what mailadmin keeps.

Four kinds of drift, one :class:`Drift` each:

- ``unmapped_tenant``: a tenant the platform holds that no configured customer maps to
  (by name, mail domain or platform id); looked for only when no tenant is named;
- ``use``: a mailbox resource whose live count differs from the use mailadmin keeps (or a
  tenant never counted): mailboxes made or removed outside mailadmin;
- ``limit``: a platform's mailbox limit that differs from the customer's allocation;
- ``plan``: mailboxes on a plan outside the catalogue (or on none mailadmin can tell).

Tenants are read one at a time through the providers' streamed counts, so memory stays
bounded by one tenant's summary, never its mailboxes. ``adopt`` records what was found:
the live use (absolute) and, under a named owner, the unmapped tenants as customers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from mailadmin.contract import errors
from mailadmin.rules.identities import IdentityKind
from mailadmin.rules.tenancy import Resource
from mailadmin.rules.use import MAILBOX_RESOURCES, use_of

if TYPE_CHECKING:
    from mailadmin.contract.models import MailboxCount, TenantRef
    from mailadmin.contract.provider import Provider
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["Drift", "DriftKind", "ReconcileReport", "drifts", "reconcile"]

DriftKind = Literal["unmapped_tenant", "use", "limit", "plan"]
#: Plan words of a count that name no plan ("unmapped": a native plan no mapping knows).
_NO_PLAN = frozenset({"unmapped", "unclassified"})


class Drift(BaseModel):
    """One difference: ``store`` is what mailadmin keeps, ``platform`` what it holds
    (``None``: nothing kept, or not read)."""

    model_config = ConfigDict(frozen=True)

    kind: DriftKind
    instance: str
    tenant: str
    subject: str = ""
    store: int | str | None = None
    platform: int | str | None = None
    detail: str = ""


class ReconcileReport(BaseModel):
    """Every drift found, the tenants read, and what an import recorded."""

    drifts: list[Drift]
    tenants_checked: int
    adopted: list[str] = []
    dry_run: bool = False


async def reconcile(
    orch: Orchestrator,
    tenants: Iterable[str] = (),
    *,
    adopt: bool = False,
    owner: str | None = None,
    dry_run: bool = False,
) -> ReconcileReport:
    """Compare every reachable tenant (or those named) with its platform; with ``adopt``,
    record the live use and the unmapped tenants (under ``owner``); ``dry_run`` reports
    what an import would record and records nothing."""
    if adopt and orch.rules.acting().kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(
            "Only the site admin imports what reconcile found", reason="not_permitted"
        )
    found: list[Drift] = []
    checked = 0
    adopted: list[str] = []
    named = list(tenants)
    async for drift in drifts(orch, named):
        if drift.kind == "use" and not drift.subject:
            checked += 1  # the mark of a tenant read whole
            continue
        found.append(drift)
    if adopt:
        adopted = await _journalled_adopt(orch, found, owner, dry_run)
    return ReconcileReport(drifts=found, tenants_checked=checked, adopted=adopted, dry_run=dry_run)


async def drifts(orch: Orchestrator, tenants: list[str]) -> AsyncIterator[Drift]:
    """Every drift, tenant by tenant (then the unmapped tenants when none is named)."""
    names = [orch.provider_for(t)[1].name for t in tenants] or orch.reachable_tenants()
    for name in names:
        provider, ref = orch.provider_for(name)
        async for drift in _tenant_drifts(orch, provider, ref):
            yield drift
        yield Drift(kind="use", instance=provider.instance, tenant=ref.name)  # read marker
    # Which tenants a platform holds beyond the customers is the host's to know.
    if not tenants and orch.rules.acting().kind is IdentityKind.SITE_ADMIN:
        for instance in orch.instances:
            async for drift in _unmapped(orch, instance):
                yield drift


async def _tenant_drifts(
    orch: Orchestrator, provider: Provider, ref: TenantRef
) -> AsyncIterator[Drift]:
    instance = provider.instance
    kept = await orch.rules.use.recorded(instance, ref.name)
    counts = await provider.count_mailboxes(ref)  # streamed by the provider; not recorded
    live = use_of(counts)
    for resource in MAILBOX_RESOURCES:
        held = None if kept is None else kept.get(resource, 0)
        if held != live[resource]:
            yield Drift(
                kind="use",
                instance=instance,
                tenant=ref.name,
                subject=resource.value,
                store=held,
                platform=live[resource],
                detail="never counted" if kept is None else "changed outside mailadmin",
            )
    for drift in _plans(orch, instance, counts):
        yield drift
    limit = await _limit(orch, provider, ref)
    if limit is not None:
        yield limit


def _plans(orch: Orchestrator, instance: str, counts: MailboxCount) -> list[Drift]:
    catalogue = set(orch.config.plans) or set(orch.provider(instance).settings.plans)
    found = [
        Drift(
            kind="plan",
            instance=instance,
            tenant=counts.tenant,
            subject=plan,
            platform=number,
            detail="no plan mailadmin can tell" if plan in _NO_PLAN else "not in the catalogue",
        )
        for plan, number in sorted(counts.by_plan.items())
        if number and plan not in catalogue
    ]
    if counts.unclassified:
        found.append(
            Drift(
                kind="plan",
                instance=instance,
                tenant=counts.tenant,
                subject="unclassified",
                platform=counts.unclassified,
                detail="mailboxes of no kind mailadmin can tell",
            )
        )
    return found


async def _limit(orch: Orchestrator, provider: Provider, ref: TenantRef) -> Drift | None:
    """The platform's mailbox limit against the customer's allocation, read through a dry
    run of the add-on (its ``before``), which sends nothing."""
    if not provider.instance_capabilities.supports("addon:mailboxes"):
        return None
    allocation = await asyncio.to_thread(orch.rules.tenancy.allocation, "customer", ref.name)
    allocated = allocation.get(Resource.USER_MAILBOXES)
    if allocated is None:
        return None
    preview = await provider.apply_addon(ref, "mailboxes", allocated, dry_run=True)
    if preview.before == allocated:
        return None
    return Drift(
        kind="limit",
        instance=provider.instance,
        tenant=ref.name,
        subject="mailboxes",
        store=allocated,
        platform=preview.before,
        detail="the platform's limit is not the allocation",
    )


async def _unmapped(orch: Orchestrator, instance: str) -> AsyncIterator[Drift]:
    provider = orch.provider(instance)
    if not provider.instance_capabilities.supports("list_tenants"):
        return
    keys: set[str] = set()
    for name, spec in orch.config.tenants.items():
        if spec.instance == instance:
            keys |= {name.lower(), *(d.lower() for d in spec.domains)}
            if spec.native_id:
                keys.add(str(spec.native_id).lower())
    for tenant in await provider.list_tenants():
        native = (tenant.native_id or "").lower()
        if tenant.name.lower() not in keys and native not in keys:
            yield Drift(
                kind="unmapped_tenant",
                instance=instance,
                tenant=tenant.name,
                platform=tenant.native_id or tenant.name,
                detail="no customer maps to it",
            )


async def _journalled_adopt(
    orch: Orchestrator, found: list[Drift], owner: str | None, dry_run: bool
) -> list[str]:
    """:func:`_adopt` as one journal row (``reconcile_import``, subject ``reconcile``)
    with the acting identity: what it recorded is the row's ``after``."""
    from mailadmin.contract.provider import CallInfo

    _check_owner(found, owner)  # a refusal is no journalled write
    journal = orch.journal
    if dry_run or journal is None:
        return await _adopt(orch, found, owner, dry_run)
    drifted = sorted({f"{d.kind}:{d.tenant}:{d.subject}".rstrip(":") for d in found})
    call = CallInfo(
        "mailadmin",
        "mailadmin",
        "reconcile_import",
        {"tenant": {"name": "reconcile"}, "owner": owner, "drifts": drifted},
    )
    identity = str(orch.rules.acting())
    await asyncio.to_thread(journal.started, call, identity=identity)
    try:
        adopted = await _adopt(orch, found, owner, dry_run)
    except errors.MailadminError as exc:
        await asyncio.to_thread(journal.failed, call, exc)
        raise
    result = {"outcome": "changed" if adopted else "unchanged", "before": None, "after": adopted}
    await asyncio.to_thread(journal.succeeded, call, result)
    return adopted


def _check_owner(found: list[Drift], owner: str | None) -> list[Drift]:
    """The unmapped tenants found, refused (before anything is recorded) without an
    owner to adopt them."""
    unmapped = [d for d in found if d.kind == "unmapped_tenant"]
    if unmapped and owner is None:
        raise errors.ValidationError(
            f"Name the owner of the tenants found (--owner): {unmapped[0].tenant} has none"
        )
    return unmapped


async def _adopt(
    orch: Orchestrator, found: list[Drift], owner: str | None, dry_run: bool
) -> list[str]:
    """Record the live use of every tenant whose use drifted, and add the unmapped
    tenants as customers of ``owner``; the names of what was (or would be) recorded."""
    from mailadmin.rules.tenancy import CustomerSpec

    unmapped = _check_owner(found, owner)
    adopted: list[str] = []
    uses: dict[tuple[str, str], dict[str, int]] = {}
    for drift in found:
        if drift.kind == "use" and isinstance(drift.platform, int):
            uses.setdefault((drift.instance, drift.tenant), {})[drift.subject] = drift.platform
    for (instance, tenant), used in sorted(uses.items()):
        adopted.append(f"use of {tenant}")
        if not dry_run:
            kept = await orch.rules.use.recorded(instance, tenant) or {}
            whole = {r.value: kept.get(r, 0) for r in MAILBOX_RESOURCES} | used
            await orch.rules.use.record(instance, tenant, whole)
    for drift in unmapped:
        if not dry_run:
            spec = CustomerSpec(reseller=None if owner == "host" else owner)
            try:
                await asyncio.to_thread(orch.rules.add_customer, drift.tenant, spec)
            except errors.ValidationError as exc:
                # A customer is a configured tenant: one the configuration lacks is told,
                # not guessed into it.
                adopted.append(f"not customer {drift.tenant}: {exc.message}")
                continue
        adopted.append(f"customer {drift.tenant}")
    return adopted
