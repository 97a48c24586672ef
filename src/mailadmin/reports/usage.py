"""The usage report (seed 003 "Quota Over Usage"): per subscription and resource, allocated,
utilised (live counts from the platforms), remaining and over-use; then per reseller and
resource, what it holds against what it sold its customers, with the amount a prepaid
reseller oversold (seed 003: "The resources oversold are then reported in the Quota Over
Usage report")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, computed_field

from mailadmin.rules.tenancy import Resource, resource_of_addon, used_of

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["COLUMNS", "UsageRow", "build"]

COLUMNS = [
    "level",
    "subscription",
    "id",
    "reseller",
    "instance",
    "status",
    "resource",
    "allocated",
    "utilised",
    "remaining",
    "over_use",
    "error",
]


class UsageRow(BaseModel):
    """One resource of one subscription (a customer). ``None``: unlimited or unknown.

    A ``level="reseller"`` row is a reseller's: ``allocated`` is what it holds,
    ``utilised`` what it sold (its customers' allocations together), ``over_use`` what it
    oversold; its ``subscription`` reads ``reseller:NAME``.
    """

    model_config = ConfigDict(frozen=True)

    level: str = "customer"
    subscription: str
    id: str
    reseller: str | None
    instance: str
    #: ``suspended`` while the customer is suspended through mailadmin (non-payment,
    #: abuse); its sales and plan changes are refused until it is resumed.
    status: str = "active"
    resource: Resource
    allocated: int | None
    utilised: int | None
    error: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def remaining(self) -> int | None:
        """Allocated minus utilised; negative when over-used."""
        if self.allocated is None or self.utilised is None:
            return None
        return self.allocated - self.utilised

    @computed_field  # type: ignore[prop-decorator]
    @property
    def over_use(self) -> int:
        """How many more are used than allocated (0 when within)."""
        remaining = self.remaining
        return -remaining if remaining is not None and remaining < 0 else 0


async def build(orch: Orchestrator, *, reseller: str | None = None) -> list[UsageRow]:
    """Every configured tenant (or one reseller's customers), every resource it has or uses."""
    from mailadmin.rules.identities import IdentityKind

    if orch.rules.acting().kind is IdentityKind.MAILBOX_USER:
        orch.rules.require_site_admin("usage reports")
    tenancy = orch.rules.tenancy
    # Each identity sees its own subscriptions only; the counts pass the gate as it.
    names = [
        name
        for name in orch.tenants
        if orch.rules.reachable(name)
        and (reseller is None or tenancy.owner_of(name) == reseller.strip().lower())
    ]
    counts = await orch.count_all(names)
    suspended = tenancy.suspensions.all()
    rows: list[UsageRow] = []
    for item in counts.items:
        name = item.key
        instance = orch.config.instance_of(name)
        allocated: dict[Resource, int] = tenancy.allocation("customer", name)
        # Allocations kept by the orchestrator for platforms without such a limit count too.
        for addon in ("shared_mailbox", "resource_mailbox"):
            kept = orch.allocations.get(instance, name, addon)
            resource = resource_of_addon(addon)
            if kept is not None and resource is not None:
                allocated.setdefault(resource, kept)
        for resource in Resource:
            used = used_of(resource, item.value) if item.value is not None else None
            # A tenant whose count failed still gets a row, so its error is seen.
            first_of_failed = item.error is not None and resource is Resource.USER_MAILBOXES
            if resource not in allocated and not used and not first_of_failed:
                continue
            rows.append(
                UsageRow(
                    subscription=name,
                    id=orch.config.tenants[name].native_id or name,
                    reseller=tenancy.owner_of(name),
                    instance=instance,
                    status="suspended" if name.lower() in suspended else "active",
                    resource=resource,
                    allocated=allocated.get(resource),
                    utilised=used,
                    error=item.error.message if item.error is not None else "",
                )
            )
    rows += _resellers(orch, reseller)
    await _note_over_use(orch, rows)
    return rows


async def _note_over_use(orch: Orchestrator, rows: list[UsageRow]) -> None:
    """Record each over-use found as a ``usage.over_use`` event (once per figure)."""
    import asyncio

    from mailadmin.orchestration.events import Finding, record_findings

    findings: list[Finding] = []
    for row in rows:
        if row.over_use <= 0:
            continue
        once = f"usage:{row.level}:{row.subscription}:{row.resource.value}:"
        once += f"{row.allocated}:{row.utilised}"
        data = row.model_dump(mode="json")
        findings.append(("usage.over_use", once, data))
    if findings:
        await asyncio.to_thread(record_findings, orch.rules.store, findings)


def _resellers(orch: Orchestrator, only: str | None) -> list[UsageRow]:
    """Held against sold, per reseller the caller reaches and resource it holds."""
    from mailadmin.rules.identities import IdentityKind

    identity = orch.rules.acting()
    if identity.kind not in (IdentityKind.SITE_ADMIN, IdentityKind.RESELLER):
        return []
    tenancy = orch.rules.tenancy
    rows = []
    for record in tenancy.resellers():
        if only is not None and record.name != only.strip().lower():
            continue
        if identity.kind is IdentityKind.RESELLER and record.name != identity.name:
            continue
        held = tenancy.allocation("reseller", record.name)
        sold: dict[Resource, int] = {}
        for customer in tenancy.customers(record.name):
            for resource, amount in tenancy.allocation("customer", customer.name).items():
                sold[resource] = sold.get(resource, 0) + amount
        for resource in Resource:
            if resource not in held:
                continue  # an unlimited reseller cannot oversell
            rows.append(
                UsageRow(
                    level="reseller",
                    subscription=f"reseller:{record.name}",
                    id=record.name,
                    reseller=record.name,
                    instance=record.instance or "",
                    resource=resource,
                    allocated=held[resource],
                    utilised=sold.get(resource, 0),
                )
            )
    return rows
