"""Selling an add-on to many resellers or customers at once (seed 003): the rules.

``await orch.runs.sell(BulkSale(addon="shared_mailbox", quantity=9999, to="resellers",
skip_already_sold=True, copy_under_reseller=True))``: every matching reseller or customer
(:func:`sale_targets`) is tried in turn and gets one result: sold, skipped (and why) or
failed (and why). A sale to a customer also sets the platform's total for that resource
(through the port's ``apply_addon``, so it is checked and journalled like any write).
The bulk run itself (one item after another, in process or on the workers) is the run
service's (:mod:`mailadmin.orchestration.runs`); this module holds what one sale does,
over :class:`SalesPort`, the few operations it needs from the layer above.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from mailadmin.contract import errors
from mailadmin.rules.tenancy import MAX_ALLOCATION, addon_of_resource, resource_of_addon, used_of

if TYPE_CHECKING:
    from mailadmin.contract.models import MailboxCount
    from mailadmin.rules.identities import Identity
    from mailadmin.rules.tenancy import Tenancy

__all__ = [
    "BulkSale",
    "SaleItem",
    "SaleOutcome",
    "SaleReport",
    "SalesPort",
    "check_grant",
    "sale_targets",
    "sell_to",
]


class SalesPort(Protocol):
    """What selling needs from the layer above (the orchestrator satisfies it)."""

    @property
    def tenancy(self) -> Tenancy:
        """Resellers, customers, their allocations and sales."""
        ...

    def acting(self) -> Identity:
        """Who is selling."""
        ...

    def holds_limit(self, tenant: str, addon: str) -> bool:
        """Whether ``tenant``'s platform (or mailadmin for it) holds a limit of ``addon``."""
        ...

    async def apply_addon(
        self, tenant: str, addon: str, quantity: int, *, dry_run: bool = False
    ) -> object:
        """Set a tenant's total of an add-on (checked and journalled like any write)."""
        ...

    async def count_as_system(self, tenant: str) -> MailboxCount:
        """A tenant's mailboxes, counted whoever is acting."""
        ...

    def addon_value(self, addon: str) -> int:
        """What one of ``addon`` grants (the catalogue's ``value``; 1 when not given)."""
        ...


def sale_quantity(value: int) -> int:
    """A sale's quantity, at most 9,999; past it, say how seed 003's 99999 maps."""
    if value > MAX_ALLOCATION:
        raise ValueError(f"quantity {value}: {_SEED_MAPPING}")
    return value


#: How seed 003's bulk form (an add-on of value 9999, sold with quantity 99999) maps here.
_SEED_MAPPING = (
    "seed 003's bulk form sells 99999 to mean as many as the add-on holds; here a sale "
    "grants the add-on's value (its first field, [addons.NAME] value) x the quantity, at "
    f"most {MAX_ALLOCATION} of a resource: sell quantity 1 of an add-on whose value is "
    f"{MAX_ALLOCATION} (or quantity {MAX_ALLOCATION} of one whose value is 1) for the "
    f"seed's up to {MAX_ALLOCATION} shared or resource mailboxes"
)


def check_grant(addon: str, value: int, quantity: int) -> int:
    """What a sale of ``quantity`` x ``addon`` (each granting ``value``) grants; more than
    9,999 is refused, saying how seed 003's numbers map."""
    granted = value * quantity
    if granted > MAX_ALLOCATION:
        raise errors.ValidationError(
            f"Add-on '{addon}' grants {value} each; quantity {quantity} would grant "
            f"{granted}: {_SEED_MAPPING}"
        )
    return granted


#: A sale's quantity: 0 to 9,999, the seed's 99999 explained (CLI, Python and HTTP alike).
SaleQuantity = Annotated[
    int,
    Field(ge=0, json_schema_extra={"maximum": MAX_ALLOCATION}),
    AfterValidator(sale_quantity),
]


class BulkSale(BaseModel):
    """What to sell, to whom, with seed 003's three options.

    ``to="resellers"``: the resellers named in ``resellers`` (all when empty).
    ``to="customers"``: the customers of ``owner`` (a reseller name, ``"host"`` for the
    host's own customers, ``"all"`` for everyone's).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    addon: str
    quantity: SaleQuantity
    to: Literal["resellers", "customers"]
    resellers: tuple[str, ...] = ()
    owner: str = "all"
    only_over_quota: bool = False
    skip_already_sold: bool = False
    copy_under_reseller: bool = False


class SaleOutcome(StrEnum):
    """How one item of a bulk sale ended."""

    SOLD = "sold"
    SKIPPED = "skipped"
    FAILED = "failed"


class SaleItem(BaseModel):
    """One reseller's or customer's result; ``reason`` says why it was skipped or failed.

    ``granted`` is ``value`` (what one of the add-on grants) x ``quantity``.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["reseller", "customer"]
    name: str
    outcome: SaleOutcome
    addon: str
    quantity: int
    value: int = 1
    reason: str = ""
    oversold: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def granted(self) -> int:
        """How much of the resource the sale grants: value x quantity."""
        return self.value * self.quantity


class SaleReport(BaseModel):
    """Every item, in order, and the totals; ``run_id`` names a distributed run."""

    model_config = ConfigDict(frozen=True)

    items: list[SaleItem]
    dry_run: bool = False
    run_id: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> dict[str, int]:
        """How many were sold, skipped and failed."""
        return {o.value: sum(1 for i in self.items if i.outcome is o) for o in SaleOutcome}

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return all(i.outcome is not SaleOutcome.FAILED for i in self.items)


async def sell_to(port: SalesPort, sale: BulkSale, name: str, *, dry_run: bool = False) -> SaleItem:
    """Sell ``sale.addon`` to one target of :func:`sale_targets` (one item of a bulk sale).

    A sale sets a total, so selling the same item again leaves it as it was: a bulk sale
    cut short can be carried on from any item.
    """
    return await _sell_one(port, port.tenancy, sale, name, dry_run)


def sale_targets(port: SalesPort, sale: BulkSale) -> list[str]:
    """Who a bulk sale is offered to, in order, within the acting identity's reach.

    The site admin sells to anyone; a reseller only to its own customers (``owner`` is
    then itself); nobody else sells. An add-on that raises no allocation is refused.
    """
    from mailadmin.rules.identities import IdentityKind

    resource = resource_of_addon(sale.addon)
    if resource is None:
        raise errors.ValidationError(
            f"Add-on '{sale.addon}' raises no allocation "
            "(mailboxes, shared_mailbox, resource_mailbox or storage_gb)"
        )
    check_grant(sale.addon, port.addon_value(sale.addon), sale.quantity)
    tenancy = port.tenancy
    identity = port.acting()
    owner = sale.owner.strip().lower()
    if identity.kind is IdentityKind.RESELLER:
        if sale.to == "resellers" or owner not in ("all", identity.name):
            raise errors.PolicyDenied(
                f"{identity} sells only to its own customers", reason="cross_boundary"
            )
        owner = identity.name or ""
    elif identity.kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(f"{identity} may not sell add-ons", reason="not_permitted")
    if sale.to == "resellers":
        if not sale.resellers:
            return [r.name for r in tenancy.resellers()]
        # An unknown name becomes a failed item, not a silent gap.
        return [name.strip().lower() for name in sale.resellers]
    if owner == "all":
        return [c.name for c in tenancy.customers()]
    if owner == "host":
        return [c.name for c in tenancy.customers() if c.reseller is None]
    return [c.name for c in tenancy.customers(owner)]


async def _sell_one(
    port: SalesPort, tenancy: Tenancy, sale: BulkSale, name: str, dry_run: bool
) -> SaleItem:
    kind: Literal["reseller", "customer"] = "reseller" if sale.to == "resellers" else "customer"
    addon = (
        f"{sale.addon}@{name}" if kind == "reseller" and sale.copy_under_reseller else sale.addon
    )
    value = port.addon_value(sale.addon)
    item = {"kind": kind, "name": name, "addon": addon, "quantity": sale.quantity, "value": value}
    try:
        check_grant(sale.addon, value, sale.quantity)
        if sale.skip_already_sold and _already_sold(tenancy, kind, name, sale.addon):
            return SaleItem(**item, outcome=SaleOutcome.SKIPPED, reason="already sold")
        if sale.only_over_quota:
            over = await _over_quota(port, tenancy, kind, name, sale.addon)
            if not over:
                return SaleItem(**item, outcome=SaleOutcome.SKIPPED, reason="not over quota")
        copy_of = sale.addon if addon != sale.addon else None
        oversold = tenancy.sell(
            kind, name, addon, sale.quantity, copy_of=copy_of, amount=value, dry_run=True
        )
        if kind == "customer":
            await _push(port, tenancy, name, addon, value * sale.quantity, dry_run)
        if not dry_run:
            tenancy.sell(kind, name, addon, sale.quantity, copy_of=copy_of, amount=value)
    except errors.MailadminError as exc:
        return SaleItem(**item, outcome=SaleOutcome.FAILED, reason=exc.message)
    return SaleItem(**item, outcome=SaleOutcome.SOLD, oversold=bool(oversold))


def _already_sold(tenancy: Tenancy, kind: str, name: str, addon: str) -> bool:
    return any(
        s.active and s.quantity > 0 and (s.addon == addon or s.copy_of == addon)
        for s in tenancy.sales(kind, name)
    )


async def _over_quota(port: SalesPort, tenancy: Tenancy, kind: str, name: str, addon: str) -> bool:
    """A customer using all it is allocated, or a reseller whose customers hold more."""
    resource = resource_of_addon(addon)
    assert resource is not None
    if kind == "reseller":
        limit = tenancy.allocation("reseller", name).get(resource)
        if limit is None:
            return False
        held = sum(
            tenancy.allocation("customer", c.name).get(resource, 0) for c in tenancy.customers(name)
        )
        return held >= limit
    allocated = tenancy.allocation("customer", name).get(resource)
    if allocated is None:
        return False
    counts = await port.count_as_system(name)
    used = used_of(resource, counts)
    return used is not None and used >= allocated


async def _push(
    port: SalesPort, tenancy: Tenancy, customer: str, addon: str, granted: int, dry_run: bool
) -> None:
    """Set the platform's total of the resource to the customer's new allocation (the rest
    of it plus what the sale grants)."""
    resource = resource_of_addon(addon)
    assert resource is not None
    neutral = addon_of_resource(resource)
    if not port.holds_limit(customer, neutral):
        # The catalogue does not sell it on the platforms, or the platform holds no such
        # limit (Exchange seats are Microsoft licences) and mailadmin keeps none: the
        # allocation alone is enforced, on creation.
        return
    current = {s.addon: s for s in tenancy.sales("customer", customer) if s.active}.get(addon)
    allocation = tenancy.allocation("customer", customer)
    total = allocation.get(resource, 0) - (current.quantity * current.amount if current else 0)
    await port.apply_addon(customer, neutral, total + granted, dry_run=dry_run)
