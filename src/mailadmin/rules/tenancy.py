"""Resellers and customers, their packages, and the allocations that follow from them.

The hierarchy is provider instance -> reseller -> customer (a configured tenant) ->
mailbox. Resellers and customers are records in the store, made from the CLI, the Python
API or the configuration. A customer's allocation of each resource is what its package
includes plus its active add-ons x quantity (seed 003); shared and resource mailboxes are
counted apart from user mailboxes, up to 9,999 each. A resource that neither the package
nor an add-on mentions is not limited.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxCount, MailboxKind

_log = logging.getLogger("mailadmin.rules.tenancy")

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailadmin.store.database import Database

__all__ = [
    "MAX_ALLOCATION",
    "Allocation",
    "Customer",
    "CustomerSpec",
    "Oversell",
    "Reseller",
    "ResellerSpec",
    "Resource",
    "Sale",
    "Tenancy",
    "TermMonths",
    "addon_of_resource",
    "resource_of_addon",
    "resource_of_kind",
    "used_of",
]

#: The most of one resource a customer or reseller may be allocated (seed 003).
MAX_ALLOCATION = 9999


class Resource(StrEnum):
    """What an allocation limits. Shared and resource mailboxes are apart from user ones."""

    USER_MAILBOXES = "user_mailboxes"
    SHARED_MAILBOXES = "shared_mailboxes"
    RESOURCE_MAILBOXES = "resource_mailboxes"
    STORAGE_GB = "storage_gb"


#: The neutral add-on that raises each resource (what the platform is told).
_ADDON_OF = {
    Resource.USER_MAILBOXES: "mailboxes",
    Resource.SHARED_MAILBOXES: "shared_mailbox",
    Resource.RESOURCE_MAILBOXES: "resource_mailbox",
    Resource.STORAGE_GB: "storage_gb",
}


def resource_of_addon(addon: str) -> Resource | None:
    """The resource a neutral add-on raises (``"mailboxes:sync"`` raises user mailboxes).

    A reseller's copy of an add-on (``"shared_mailbox@acme"``) raises what the original does.
    """
    name = addon.partition("@")[0].partition(":")[0]
    for resource, neutral in _ADDON_OF.items():
        if neutral == name:
            return resource
    return None


def addon_of_resource(resource: Resource) -> str:
    """The neutral add-on that sets a resource's total on the platform."""
    return _ADDON_OF[resource]


def resource_of_kind(kind: MailboxKind) -> Resource:
    """The resource a new mailbox of ``kind`` uses (rooms and equipment share one)."""
    if kind is MailboxKind.SHARED:
        return Resource.SHARED_MAILBOXES
    if kind in (MailboxKind.ROOM, MailboxKind.EQUIPMENT):
        return Resource.RESOURCE_MAILBOXES
    return Resource.USER_MAILBOXES


def used_of(resource: Resource, counts: MailboxCount) -> int | None:
    """Live use of a resource from a platform count (``None``: the count cannot tell)."""
    if resource is Resource.STORAGE_GB:
        return None
    return sum(counts.of(k) for k in MailboxKind if resource_of_kind(k) is resource)


Quantity = Annotated[int, Field(ge=0, le=MAX_ALLOCATION)]
Package = dict[Resource, Quantity]
#: A billing term in months (seeds 001, 002): renewing extends the service by it; 0: the
#: recorded renewal is the one renewal, no cycle.
TermMonths = Annotated[int, Field(ge=0, le=120)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResellerSpec(_Spec):
    """A reseller as the configuration declares it (``[resellers.acme]``).

    ``prepaid`` and ``may_oversell`` together let it sell its customers more than its own
    allocation; the excess is recorded and shown in the usage report, never refused.
    """

    instance: str | None = None
    prepaid: bool = False
    may_oversell: bool = False
    package: Package = Field(default_factory=dict)
    renewal: date | None = None
    #: Its own billing term in months (``None``: the policy's ``renewal_term_months``).
    term_months: TermMonths | None = None


class CustomerSpec(_Spec):
    """A customer as the configuration declares it (``[customers."example.com"]``).

    ``renewal`` and ``term_months`` are its billing cycle (seeds 001, 002): the next
    renewal date and the months each renewal extends it by (``None``: the policy's
    ``renewal_term_months``).
    """

    reseller: str | None = None
    package: Package = Field(default_factory=dict)
    renewal: date | None = None
    term_months: TermMonths | None = None


class Reseller(ResellerSpec):
    """A reseller record."""

    name: str


class Customer(CustomerSpec):
    """A customer record: one configured tenant, owned by a reseller or by the host."""

    name: str


class Sale(BaseModel):
    """An add-on sold to a reseller or a customer: ``quantity`` x ``amount`` of a resource.

    ``copy_of`` names the host's add-on when this is the reseller's own copy (seed 003).
    """

    model_config = ConfigDict(frozen=True)

    owner_kind: str
    owner: str
    addon: str
    resource: Resource
    amount: int
    quantity: int
    active: bool
    copy_of: str | None = None


class Oversell(BaseModel):
    """A prepaid reseller's customers allocated more than the reseller itself (recorded).

    ``customer`` is the customer whose sale passed the reseller's allocation; empty when
    the reseller's own allocation was lowered below what its customers hold.
    """

    model_config = ConfigDict(frozen=True)

    reseller: str
    customer: str
    resource: Resource
    parent_allocation: int
    children_allocation: int


class Allocation(BaseModel):
    """One resource of one customer: allocated against utilised (the over-usage row)."""

    model_config = ConfigDict(frozen=True)

    customer: str
    reseller: str | None
    resource: Resource
    allocated: int | None
    utilised: int | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def remaining(self) -> int | None:
        """Allocated minus utilised; negative when over-used; ``None`` when unknown."""
        if self.allocated is None or self.utilised is None:
            return None
        return self.allocated - self.utilised

    @computed_field  # type: ignore[prop-decorator]
    @property
    def over_use(self) -> int:
        """How many more are used than allocated (0 when within)."""
        remaining = self.remaining
        return -remaining if remaining is not None and remaining < 0 else 0


class Tenancy:
    """Resellers, customers, packages, add-on sales and per-mailbox switches in the store.

    ``tenants`` (the configured tenant names), when given, is what a customer may be.
    """

    def __init__(self, store: Database, *, tenants: Mapping[str, Any] | None = None) -> None:
        from mailadmin.rules.suspensions import Suspensions

        self._store = store
        self._tenants = {t.lower(): t for t in tenants} if tenants is not None else None
        #: The tenants suspended through mailadmin: no sale reaches them until resumed.
        self.suspensions = Suspensions(store)
        # Re-entrant: a save checks allocations, which read under the same lock.
        self._lock = threading.RLock()

    @property
    def engine(self) -> sa.Engine:
        """The store's engine (schema at the newest version)."""
        return self._store.engine

    # -- resellers ------------------------------------------------------------------------------

    def add_reseller(self, name: str, spec: ResellerSpec | None = None) -> Reseller:
        """Record a new reseller; an existing name is a ``ValidationError``."""
        if self.reseller(name) is not None:
            raise errors.AlreadyExists(f"Reseller '{name}' already exists")
        self.lift_removal("reseller", name)
        return self.save_reseller(name, spec or ResellerSpec())

    def save_reseller(self, name: str, spec: ResellerSpec) -> Reseller:
        """Create or replace a reseller record."""
        from mailadmin.store.schema import resellers

        name = _name(name, "reseller")
        values = {
            "instance": spec.instance,
            "prepaid": spec.prepaid,
            "may_oversell": spec.may_oversell,
            "package": _dump(spec.package),
            "renewal": spec.renewal,
            "term_months": spec.term_months,
        }
        self._upsert(resellers, resellers.c.name, name, values)
        return Reseller(name=name, **spec.model_dump())

    def remove_reseller(self, name: str) -> None:
        """Forget a reseller record and the add-ons sold to it (absent already: nothing)."""
        from mailadmin.store.schema import addon_sales, resellers

        name = name.strip().lower()
        with self._lock, self._store.begin() as db:
            db.execute(resellers.delete().where(resellers.c.name == name))
            s = addon_sales.c
            db.execute(addon_sales.delete().where(s.owner_kind == "reseller", s.owner == name))
            _tombstone(db, "reseller", name)

    def reseller(self, name: str) -> Reseller | None:
        """One reseller, or ``None``."""
        from mailadmin.store.schema import resellers

        rows = self._select(resellers.select().where(resellers.c.name == name.strip().lower()))
        return _reseller(rows[0]) if rows else None

    def resellers(self) -> list[Reseller]:
        """Every reseller, by name."""
        from mailadmin.store.schema import resellers

        return [_reseller(r) for r in self._select(resellers.select().order_by(resellers.c.name))]

    # -- customers ------------------------------------------------------------------------------

    def add_customer(self, name: str, spec: CustomerSpec | None = None) -> Customer:
        """Record a new customer (a configured tenant); an existing one is refused."""
        if self.customer(name) is not None:
            raise errors.AlreadyExists(f"Customer '{name}' already exists")
        self.lift_removal("customer", name)
        return self.save_customer(name, spec or CustomerSpec())

    def save_customer(self, name: str, spec: CustomerSpec) -> Customer:
        """Create or replace a customer record."""
        from mailadmin.store.schema import customers

        name = _name(name, "customer")
        if self._tenants is not None and name not in self._tenants:
            raise errors.ValidationError(
                f"Customer '{name}' is not a configured tenant; add it under [tenants] first"
            )
        if spec.reseller is not None and self.reseller(spec.reseller) is None:
            raise errors.ValidationError(f"Unknown reseller '{spec.reseller}'")
        owner = spec.reseller.strip().lower() if spec.reseller else None
        values = {
            "reseller": owner,
            "package": _dump(spec.package),
            "renewal": spec.renewal,
            "term_months": spec.term_months,
        }
        with self._lock:
            proposed = self._with_package(name, spec.package)
            oversold = self._within_parent(owner, name, proposed)
            self._upsert(customers, customers.c.name, name, values)
            self._record(oversold)
        return Customer(name=name, **{**spec.model_dump(), "reseller": owner})

    def save_billing(self, name: str, renewal: date | None, term_months: int | None) -> Customer:
        """Set a customer's billing cycle only (its renewal date and own term): nothing it
        is allocated changes, so nothing is checked against its reseller again."""
        from mailadmin.store.schema import customers

        name = _name(name, "customer")
        if self.customer(name) is None:
            raise errors.NotFoundError(f"No customer '{name}'; add it first")
        values = {"renewal": renewal, "term_months": term_months}
        self._upsert(customers, customers.c.name, name, values)
        found = self.customer(name)
        assert found is not None
        return found

    def check_reseller_records(self, reseller: str | None, name: str) -> None:
        """Refuse a reseller recording customer ``name`` unless the record is already its
        own. Every customer is a tenant the platform already has (a configured tenant):
        one no record owns is the host's own customer, and only the site admin assigns an
        existing platform tenant to a reseller. Another reseller's customer, the host's
        and an unknown name get the same answer, so the refusal tells nothing of which
        tenants exist (issue 29.7, 29.9)."""
        from mailadmin.contract import errors

        found = self.customer(name)
        if reseller is None or found is None or found.reseller != reseller.strip().lower():
            raise errors.PolicyDenied(
                f"reseller:{reseller} may not record customer '{name.strip().lower()}': only "
                "the site admin assigns a platform tenant to a reseller",
                reason="not_permitted",
            )

    def remove_customer(self, name: str) -> None:
        """Forget a customer record, the add-ons sold to it and its suspension (absent
        already: nothing)."""
        from mailadmin.store.schema import addon_sales, customers, tenant_status

        name = name.strip().lower()
        with self._lock, self._store.begin() as db:
            db.execute(customers.delete().where(customers.c.name == name))
            s = addon_sales.c
            db.execute(addon_sales.delete().where(s.owner_kind == "customer", s.owner == name))
            db.execute(tenant_status.delete().where(tenant_status.c.tenant == name))
            _tombstone(db, "customer", name)

    def customer(self, name: str) -> Customer | None:
        """One customer, or ``None``."""
        from mailadmin.store.schema import customers

        rows = self._select(customers.select().where(customers.c.name == name.strip().lower()))
        return _customer(rows[0]) if rows else None

    def customers(self, reseller: str | None = None) -> list[Customer]:
        """Every customer, or those of one reseller, by name."""
        from mailadmin.store.schema import customers

        query = customers.select().order_by(customers.c.name)
        if reseller is not None:
            query = query.where(customers.c.reseller == reseller.strip().lower())
        return [_customer(r) for r in self._select(query)]

    def owner_of(self, tenant: str) -> str | None:
        """The reseller that owns a tenant (``None``: the host's own customer)."""
        customer = self.customer(tenant)
        return customer.reseller if customer else None

    # -- allocations ----------------------------------------------------------------------------

    def allocation(self, owner_kind: str, owner: str) -> dict[Resource, int]:
        """Package plus active add-ons x quantity, per resource the owner is limited in."""
        from mailadmin.store.schema import addon_sales

        record: Reseller | Customer | None = (
            self.reseller(owner) if owner_kind == "reseller" else self.customer(owner)
        )
        totals: dict[Resource, int] = dict(record.package) if record else {}
        sales = addon_sales.c
        query = addon_sales.select().where(
            sales.owner_kind == owner_kind, sales.owner == owner.lower(), sales.active.is_(True)
        )
        for row in self._select(query):
            resource = Resource(row["resource"])
            totals[resource] = totals.get(resource, 0) + row["amount"] * row["quantity"]
        return totals

    def allocations(self, counts: MailboxCount) -> list[Allocation]:
        """A customer's allocations against the live use in ``counts``, every resource."""
        customer = self.customer(counts.tenant)
        allocated = self.allocation("customer", counts.tenant)
        return [
            Allocation(
                customer=counts.tenant,
                reseller=customer.reseller if customer else None,
                resource=resource,
                allocated=allocated.get(resource),
                utilised=used_of(resource, counts),
            )
            for resource in Resource
        ]

    def sales(self, owner_kind: str | None = None, owner: str | None = None) -> list[Sale]:
        """Add-on sales, optionally of one owner."""
        from mailadmin.store.schema import addon_sales

        query = addon_sales.select().order_by(addon_sales.c.id)
        if owner_kind is not None:
            query = query.where(addon_sales.c.owner_kind == owner_kind)
        if owner is not None:
            query = query.where(addon_sales.c.owner == owner.strip().lower())
        return [_sale(row) for row in self._select(query)]

    def sell(
        self,
        owner_kind: str,
        owner: str,
        addon: str,
        quantity: int,
        *,
        copy_of: str | None = None,
        amount: int = 1,
        dry_run: bool = False,
    ) -> list[Oversell]:
        """Record that ``owner`` bought ``quantity`` of ``addon`` (its total, not a delta),
        each granting ``amount`` of the resource (the add-on's value, seed 003).

        Refused with ``PolicyDenied`` when a resource would pass 9,999, when a customer
        would pass its reseller's allocation, or when a reseller's allocation would be
        lowered below what its customers hold (reason ``exceeds_parent`` for both: the
        customers together would pass the reseller's). A prepaid reseller that may
        oversell is not refused: the oversell is recorded and returned (seed 003).
        ``dry_run`` checks and records nothing.
        """
        from mailadmin.store.schema import addon_sales

        resource = resource_of_addon(addon)
        if resource is None:
            raise errors.ValidationError(f"Add-on '{addon}' raises no allocation")
        if owner_kind not in ("reseller", "customer"):
            raise errors.ValidationError("Add-ons are sold to a reseller or a customer")
        if quantity < 0:
            raise errors.ValidationError("The add-on quantity must be 0 or more")
        if amount < 1:
            raise errors.ValidationError("An add-on grants at least 1 of its resource")
        owner = owner.strip().lower()
        record = self.reseller(owner) if owner_kind == "reseller" else self.customer(owner)
        if record is None:
            raise errors.ValidationError(f"Unknown {owner_kind} '{owner}'")
        if owner_kind == "customer":
            self.suspensions.refuse_if_suspended(owner, "a sale")
        t = addon_sales.c
        with self._lock:
            current = {(s.addon): s for s in self.sales(owner_kind, owner) if s.active}.get(addon)
            proposed = self.allocation(owner_kind, owner)
            before = current.quantity * current.amount if current else 0
            proposed[resource] = proposed.get(resource, 0) - before + amount * quantity
            _within_limit(owner, proposed, f" ({addon}: value {amount} x quantity {quantity})")
            oversold: list[Oversell] = []
            if isinstance(record, Customer):
                oversold = self._within_parent(record.reseller, owner, proposed)
            else:
                oversold = self._above_children(record, resource, proposed[resource], addon)
            if dry_run:
                return oversold
            now = datetime.now(UTC)
            key = (t.owner_kind == owner_kind, t.owner == owner, t.addon == addon)
            values = {
                "quantity": quantity,
                "amount": amount,
                "active": True,
                "copy_of": copy_of,
                "updated": now,
            }
            with self._store.begin() as db:
                done = db.execute(addon_sales.update().where(*key).values(**values))
                if done.rowcount == 0:
                    db.execute(
                        addon_sales.insert().values(
                            owner_kind=owner_kind,
                            owner=owner,
                            addon=addon,
                            resource=resource.value,
                            created=now,
                            **values,
                        )
                    )
            self._record(oversold)
        return oversold

    def oversells(self, reseller: str | None = None) -> list[Oversell]:
        """Every recorded oversell, newest last."""
        from mailadmin.store.schema import oversells

        query = oversells.select().order_by(oversells.c.id)
        if reseller is not None:
            query = query.where(oversells.c.reseller == reseller.strip().lower())
        return [
            Oversell(
                reseller=r["reseller"],
                customer=r["customer"],
                resource=Resource(r["resource"]),
                parent_allocation=r["parent_allocation"],
                children_allocation=r["children_allocation"],
            )
            for r in self._select(query)
        ]

    def check_parent(
        self, customer: str, proposed: Mapping[Resource, int], *, record: bool = True
    ) -> list[Oversell]:
        """Check a customer's proposed allocation against its reseller's (see :meth:`sell`)."""
        with self._lock:
            oversold = self._within_parent(self.owner_of(customer), customer.lower(), proposed)
            if record:
                self._record(oversold)
        return oversold

    def _with_package(self, customer: str, package: Mapping[Resource, int]) -> dict[Resource, int]:
        """A customer's allocation if its package became ``package``."""
        current = self.customer(customer)
        totals = self.allocation("customer", customer)
        for resource, amount in (current.package if current else {}).items():
            totals[resource] = totals.get(resource, 0) - amount
        for resource, amount in package.items():
            totals[resource] = totals.get(resource, 0) + amount
        return {r: q for r, q in totals.items() if q or r in package}

    def _within_parent(
        self, reseller: str | None, customer: str, proposed: Mapping[Resource, int]
    ) -> list[Oversell]:
        """Refuse (or, for a prepaid reseller that may oversell, list) what passes the parent."""
        _within_limit(customer, proposed)
        if reseller is None:
            return []
        parent = self.reseller(reseller)
        if parent is None:
            return []
        limits = self.allocation("reseller", reseller)
        siblings = [c.name for c in self.customers(reseller) if c.name != customer]
        found: list[Oversell] = []
        for resource, amount in proposed.items():
            limit = limits.get(resource)
            if limit is None:
                continue  # the reseller is not limited in this resource
            total = amount + sum(
                self.allocation("customer", name).get(resource, 0) for name in siblings
            )
            if total <= limit:
                continue
            if parent.prepaid and parent.may_oversell:
                found.append(
                    Oversell(
                        reseller=reseller,
                        customer=customer,
                        resource=resource,
                        parent_allocation=limit,
                        children_allocation=total,
                    )
                )
                continue
            raise errors.PolicyDenied(
                f"Reseller '{reseller}' is allocated {limit} {_label(resource)}; its customers "
                f"would have {total}",
                reason="exceeds_parent",
            )
        return found

    def _above_children(
        self, reseller: Reseller, resource: Resource, proposed: int, addon: str
    ) -> list[Oversell]:
        """Refuse (or, for a prepaid reseller that may oversell, list) a reseller's new
        allocation of ``resource`` below what its customers already hold (seed 003: only
        a prepaid reseller oversells; what it oversold is reported).

        Only a sale that lowers the allocation is refused: one that raises an allocation
        already short of its customers' (or keeps it) makes nothing worse. A reseller
        without any allocation of the resource counts as unlimited before the sale.
        """
        held = sum(
            self.allocation("customer", c.name).get(resource, 0)
            for c in self.customers(reseller.name)
        )
        if proposed >= held:
            return []
        oversold = Oversell(
            reseller=reseller.name,
            customer="",
            resource=resource,
            parent_allocation=proposed,
            children_allocation=held,
        )
        if reseller.prepaid and reseller.may_oversell:
            return [oversold]
        before = self.allocation("reseller", reseller.name).get(resource)
        if before is not None and proposed >= before:
            return []
        raise errors.PolicyDenied(
            f"Reseller '{reseller.name}' would be allocated {proposed} {_label(resource)} "
            f"({addon}); its customers hold {held}: lower theirs first, or make it a "
            "prepaid reseller that may oversell",
            reason="exceeds_parent",
        )

    def _record(self, oversold: list[Oversell]) -> None:
        from mailadmin.store.schema import oversells

        if not oversold:
            return
        now = datetime.now(UTC)
        with self._store.begin() as db:
            for item in oversold:
                db.execute(oversells.insert().values(**item.model_dump(mode="json"), at=now))

    # -- per-mailbox switches (seed 000) ---------------------------------------------------------

    def set_allow_upgrade(self, address: str, allowed: bool) -> None:
        """Turn a mailbox's "allow upgrade" switch on or off (site admin or owner)."""
        from mailadmin.store.schema import mailbox_settings

        t = mailbox_settings
        self._upsert(t, t.c.address, address.strip().lower(), {"allow_upgrade": allowed})

    def allow_upgrade(self, address: str) -> bool | None:
        """The mailbox's switch, or ``None`` when never set (the policy default applies)."""
        from mailadmin.store.schema import mailbox_settings

        t = mailbox_settings
        rows = self._select(t.select().where(t.c.address == address.strip().lower()))
        return bool(rows[0]["allow_upgrade"]) if rows else None

    # -- configuration --------------------------------------------------------------------------

    def declare(
        self, resellers: Mapping[str, ResellerSpec], customers: Mapping[str, CustomerSpec]
    ) -> None:
        """Bring the records declared in the configuration into the store.

        The rule (docs/tenancy.md): the file wins until a record is first changed through
        mailadmin (an order applied, a package set); from then on the store wins, and a
        file that says otherwise is named in a warning instead of silently undoing it.
        """
        from mailadmin.store.schema import customers as customer_table
        from mailadmin.store.schema import removed_records
        from mailadmin.store.schema import resellers as reseller_table

        removed = {(row["kind"], row["name"]) for row in self._select(removed_records.select())}
        # A record removed through mailadmin stays removed, whatever the file still says.
        resellers = {k: v for k, v in resellers.items() if ("reseller", _key(k)) not in removed}
        customers = {k: v for k, v in customers.items() if ("customer", _key(k)) not in removed}
        for name, reseller in resellers.items():
            if self._declarable(reseller_table, name, reseller, self.reseller):
                self.save_reseller(name, reseller)
                self._mark_declared(reseller_table, name)
        for name, customer in customers.items():
            if self._declarable(customer_table, name, customer, self.customer):
                self.save_customer(name, customer)
                self._mark_declared(customer_table, name)

    def _declarable(
        self, table: sa.Table, name: str, spec: Any, read: Callable[[str], Any]
    ) -> bool:
        """True when the file's record may be written: new, or never changed since."""
        rows = self._select(table.select().where(table.c.name == name.strip().lower()))
        if not rows:
            return True
        held = read(name)
        wanted = spec.model_dump()
        same = held is not None and {k: getattr(held, k) for k in wanted} == wanted
        if rows[0]["updated"] == rows[0]["created"]:
            # Already the file's: written again only when the file changed, so a sale made
            # since (a reseller's allocation lowered, say) never stops every command.
            return not same
        if not same:
            # Said under --debug: every command loads the file, so a warning would repeat
            # on each one; the rule itself is in docs/tenancy.md.
            _log.info(
                "%s '%s' was changed through mailadmin after the configuration declared it; "
                "the store's record is kept (change it with mailadmin, or remove it from "
                "the file to stop this warning)",
                "reseller" if table.name.endswith("resellers") else "customer",
                name,
            )
        return False

    def _mark_declared(self, table: sa.Table, name: str) -> None:
        """Stamp a record as the file's: created == updated until mailadmin changes it."""
        now = datetime.now(UTC)
        with self._lock, self._store.begin() as db:
            db.execute(
                table.update()
                .where(table.c.name == name.strip().lower())
                .values(created=now, updated=now)
            )

    # -- machinery ------------------------------------------------------------------------------

    def lift_removal(self, kind: str, name: str) -> None:
        """Forget that a record was removed (it is being recorded again)."""
        from mailadmin.store.schema import removed_records

        r = removed_records.c
        with self._store.begin() as db:
            db.execute(removed_records.delete().where(r.kind == kind, r.name == _key(name)))

    def _select(self, query: Any) -> list[Mapping[str, Any]]:
        with self._store.connect() as db:
            return [dict(row) for row in db.execute(query).mappings().all()]

    def _upsert(self, table: sa.Table, key: Any, name: str, values: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        with self._lock, self._store.begin() as db:
            done = db.execute(table.update().where(key == name).values(**values, updated=now))
            if done.rowcount == 0:
                db.execute(
                    table.insert().values(**{key.name: name}, **values, created=now, updated=now)
                )


def _key(name: str) -> str:
    return name.strip().lower()


def _tombstone(db: sa.Connection, kind: str, name: str) -> None:
    """Remember a removed record, so the configuration file does not declare it again."""
    from mailadmin.store.schema import removed_records

    r = removed_records.c
    db.execute(removed_records.delete().where(r.kind == kind, r.name == name))
    db.execute(removed_records.insert().values(kind=kind, name=name, removed=datetime.now(UTC)))


def _label(resource: Resource) -> str:
    return resource.value.replace("_", " ").replace("gb", "GB")


def _within_limit(owner: str, allocation: Mapping[Resource, int], why: str = "") -> None:
    for resource, amount in allocation.items():
        if amount > MAX_ALLOCATION:
            raise errors.PolicyDenied(
                f"'{owner}' would be allocated {amount} {_label(resource)}{why}; "
                f"the most is {MAX_ALLOCATION}",
                reason="allocation_limit",
            )


def _sale(row: Mapping[str, Any]) -> Sale:
    return Sale(
        owner_kind=row["owner_kind"],
        owner=row["owner"],
        addon=row["addon"],
        resource=Resource(row["resource"]),
        amount=row["amount"],
        quantity=row["quantity"],
        active=bool(row["active"]),
        copy_of=row["copy_of"],
    )


def _name(name: str, what: str) -> str:
    name = name.strip().lower()
    if not name or len(name) > 255:
        raise errors.ValidationError(f"A {what} name must have 1 to 255 characters")
    return name


def _dump(package: Mapping[Resource, int]) -> str:
    return json.dumps({r.value: q for r, q in sorted(package.items())}, sort_keys=True)


def _package(text: str) -> dict[Resource, int]:
    return {Resource(k): int(v) for k, v in json.loads(text or "{}").items()}


def _reseller(row: Mapping[str, Any]) -> Reseller:
    return Reseller(
        name=row["name"],
        instance=row["instance"],
        prepaid=bool(row["prepaid"]),
        may_oversell=bool(row["may_oversell"]),
        package=_package(row["package"]),
        renewal=row["renewal"],
        term_months=row["term_months"],
    )


def _customer(row: Mapping[str, Any]) -> Customer:
    return Customer(
        name=row["name"],
        reseller=row["reseller"],
        package=_package(row["package"]),
        renewal=row["renewal"],
        term_months=row["term_months"],
    )
