"""Where the business rules meet the orchestrator: the checks of the pipeline's identity
and policy steps.

``Orchestrator`` holds one :class:`BusinessRules`: tenancy, identities, policies, orders.
:meth:`~BusinessRules.check` is the policy step of every call (reads and writes), so an
identity's boundary and every rule a write implies are checked on the one path every call
takes, before anything is sent. The pipeline journals each refusal.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mailadmin.contract import errors
from mailadmin.contract.models import ChangeResult, MailboxRef, NewMailbox, TenantRef
from mailadmin.rules.identities import (
    SITE_ADMIN,
    Identity,
    IdentityKind,
    Scope,
    acting_scope,
    check_access,
    current_identity,
)
from mailadmin.rules.policies import (
    SELF_SERVICE_DENIED,
    SIGN_IN_AGAIN,
    PoliciesConfig,
    PolicySettings,
    check_downgrade,
    licence_upgrade,
    licences_required,
)
from mailadmin.rules.prices import licence_upgrade_cost, maintenance_cost, period_cost

if TYPE_CHECKING:
    from mailadmin.contract.provider import Provider
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.orders import Order, OrderKind, Orders
    from mailadmin.rules.tenancy import Customer, CustomerSpec, Tenancy
    from mailadmin.rules.use import TenantUse
    from mailadmin.store.database import Database

__all__ = ["EDITIONS", "ActingView", "BusinessRules", "run_as"]

#: Seed 002's licence editions: Pro, Mobile, and Team Pro on top of Pro.
EDITIONS = ("pro", "mobile", "team_pro")
#: The writes a suspended tenant refuses (what each is called in the refusal).
_REFUSED_WHEN_SUSPENDED = {"set_plan": "a plan change", "apply_addon": "an add-on change"}

T = TypeVar("T")


class BusinessRules:
    """Tenancy, identities and policies of one orchestrator.

    ``identity``: who calls when no :meth:`Orchestrator.acting_as` says otherwise (the site
    admin by default, for a local operator).
    """

    def __init__(self, orchestrator: Orchestrator, identity: Identity | str | None = None) -> None:
        self._orch = orchestrator
        configured = identity if identity is not None else orchestrator.config.identity
        self.identity = _identity(configured) if configured is not None else SITE_ADMIN
        self._store: Database | None = None
        self._tenancy: Tenancy | None = None
        # Concurrent first uses (worker threads of a bulk run) must declare the
        # configuration's records once: two declaring at once collide on PostgreSQL.
        self._loading = threading.Lock()
        self._orders: Orders | None = None
        self._use: TenantUse | None = None
        # Identities seen to name something known (checked once per process).
        self._known: set[Identity] = set()
        #: Policy values (``[policies]``); replace to change them at run time.
        self.policies: PoliciesConfig = orchestrator.config.policies
        #: Today's date for the downgrade window and trials (tests set a fixed day).
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()

    @property
    def store(self) -> Database:
        """The versioned database (the journal's, or an in-memory one without a journal)."""
        if self._store is None:
            from mailadmin.store.database import Database

            journal = self._orch.journal
            if journal is not None:
                self._store = Database(journal.engine, lock=journal.lock)
            else:
                self._store = Database("sqlite://")
        return self._store

    @property
    def tenancy(self) -> Tenancy:
        """Resellers and customers; the configuration's records are loaded on first use."""
        if self._tenancy is None:
            with self._loading:
                if self._tenancy is None:
                    self._tenancy = self._load_tenancy()
        return self._tenancy

    def _load_tenancy(self) -> Tenancy:
        from mailadmin.rules.tenancy import Tenancy

        config = self._orch.config
        tenancy = Tenancy(self.store, tenants=config.tenants)
        tenancy.declare(config.resellers, config.customers)
        return tenancy

    @property
    def use(self) -> TenantUse:
        """What each tenant uses of its allocations, kept in the store (rules/use.py)."""
        if self._use is None:
            from mailadmin.rules.use import TenantUse
            from mailadmin.store.use import UseTable

            self._use = TenantUse(UseTable(self.store))
        return self._use

    @property
    def orders(self) -> Orders:
        """Plan, seat, licence and edition orders (seeds 001 and 002)."""
        if self._orders is None:
            from mailadmin.rules.orders import Orders

            self._orders = Orders(self.store)
        return self._orders

    def settings_for(self, instance: str | None, tenant: str | None = None) -> PolicySettings:
        """The policy values in force for an instance and, through its owner, a tenant."""
        reseller = self.tenancy.owner_of(tenant) if tenant is not None else None
        return self.policies.settings(instance, reseller)

    def add_customer(self, name: str, spec: CustomerSpec | None = None) -> Customer:
        """Record a customer (a configured tenant) under a reseller or the host.

        The site admin adds any; a reseller adds customers under itself only (its name is
        filled in); nobody else adds customers. ``tenancy.add_customer`` is the unchecked
        form for trusted code.
        """
        from mailadmin.rules.tenancy import CustomerSpec

        spec = spec or CustomerSpec()
        identity = self.acting()
        if identity.kind is IdentityKind.RESELLER:
            if spec.reseller not in (None, identity.name):
                raise errors.PolicyDenied(
                    f"{identity} may not add customers for reseller '{spec.reseller}'",
                    reason="cross_boundary",
                )
            spec = spec.model_copy(update={"reseller": identity.name})
            self.tenancy.check_reseller_records(identity.name, name)
        elif identity.kind is not IdentityKind.SITE_ADMIN:
            raise errors.PolicyDenied(f"{identity} may not add customers", reason="not_permitted")
        return self.tenancy.add_customer(name, spec)

    def set_billing(
        self,
        name: str,
        *,
        renewal: date | None = None,
        term_months: int | None = None,
        dry_run: bool = False,
    ) -> Customer:
        """Set a customer's billing cycle (seeds 001, 002): its next renewal date and its
        own term in months (what is not given is kept). The seller's: the site admin, or
        the reseller that owns the customer; the customer's own admin may not."""
        from mailadmin.rules.tenancy import TermMonths

        identity = self.acting()
        wanted = name.strip().lower()
        found = self.tenancy.customer(wanted)
        mine = identity.kind is IdentityKind.RESELLER and (
            found is not None and found.reseller == identity.name
        )
        if identity.kind is not IdentityKind.SITE_ADMIN and not mine:
            raise errors.PolicyDenied(
                f"{identity} may not set the billing of customer '{wanted}': the seller's "
                "(the site admin, or the reseller that owns it)",
                reason="not_permitted",
            )
        if found is None:
            raise errors.NotFoundError(f"No customer '{wanted}'; add it first")
        if renewal is None and term_months is None:
            raise errors.ValidationError("Give the next renewal date, the term or both")
        update: dict[str, Any] = {}
        if renewal is not None:
            update["renewal"] = renewal
        if term_months is not None:
            from pydantic import TypeAdapter
            from pydantic import ValidationError as Invalid

            try:
                update["term_months"] = TypeAdapter(TermMonths).validate_python(term_months)
            except Invalid:
                raise errors.ValidationError(
                    f"A billing term is 0 to 120 months, not {term_months}"
                ) from None
        changed = found.model_copy(update=update)
        if dry_run:
            return changed
        return self.tenancy.save_billing(wanted, changed.renewal, changed.term_months)

    def set_allow_upgrade(self, address: str, allowed: bool) -> None:
        """Set a mailbox's "allow upgrade" switch (seed 000): its admins only."""
        self.check_allow_upgrade(address)
        self.tenancy.set_allow_upgrade(address, allowed)

    def check_allow_upgrade(self, address: str) -> None:
        """Refuse anyone but the mailbox's admins the switch (a dry run checks this only)."""
        identity = self.acting()
        tenant = self._orch.config.tenant_of_address(address).name
        instance = self._orch.config.instance_of(tenant)
        if not identity.is_admin:
            raise errors.PolicyDenied(
                "Only the site admin or the mailbox's owner may allow upgrades",
                reason="not_permitted",
            )
        scope = Scope(operation="set_allow_upgrade", instance=instance, tenant=tenant)
        check_access(identity, scope, self.tenancy.owner_of)

    def reachable(self, tenant: str) -> bool:
        """True when the acting identity may see ``tenant`` (reports filter with this)."""
        identity = self.acting()
        if identity.kind is IdentityKind.SITE_ADMIN:
            return True
        if identity.kind is IdentityKind.RESELLER:
            return self.tenancy.owner_of(tenant) == identity.name
        if identity.kind is IdentityKind.CUSTOMER_ADMIN:
            return tenant.lower() == identity.name
        return False

    def require_site_admin(self, what: str) -> None:
        """Refuse anyone but the site admin (instance-wide reads such as licences)."""
        identity = self.acting()
        if identity.kind is not IdentityKind.SITE_ADMIN:
            raise errors.PolicyDenied(f"{identity} may not read {what}", reason="cross_boundary")

    def acting(self) -> Identity:
        """The identity of the running call."""
        return current_identity(self.identity)

    # -- the gate: the pipeline's identity and policy steps call these ------------------------

    def knows(self, identity: Identity) -> bool:
        """True when `identity` needs no look-up: the site admin, or one already checked."""
        return identity.kind is IdentityKind.SITE_ADMIN or identity in self._known

    def check_identity(self, identity: Identity) -> None:
        """Refuse an identity that names nothing known (a reseller never added, a tenant
        or a mailbox domain not configured): acting as it would reach nothing, or worse."""
        if self.knows(identity):
            return
        name = identity.name or ""
        if identity.kind is IdentityKind.RESELLER:
            if self.tenancy.reseller(name) is None:
                raise errors.ValidationError(f"No reseller '{name}'; add it first")
        elif identity.kind is IdentityKind.CUSTOMER_ADMIN:
            self._orch.config.tenant_ref(name)
        elif identity.kind is IdentityKind.MAILBOX_USER:
            self._orch.config.tenant_of_address(name)
        self._known.add(identity)

    async def check_reach(
        self, provider: Provider, operation: str, arguments: dict[str, Any]
    ) -> None:
        """Refuse a call outside the acting identity's reach (tenants, mailboxes, kinds of
        operation): nothing of the subject is told to an identity that cannot reach it."""
        identity = self.acting()
        if identity.kind is not IdentityKind.SITE_ADMIN:
            scope = scope_of(provider, operation, arguments)
            await asyncio.to_thread(check_access, identity, scope, self.tenancy.owner_of)

    async def _refuse_if_suspended(self, tenant: str, what: str) -> None:
        # A store not made yet (no journal, nothing recorded by this process) holds no
        # suspension: a journal-less orchestrator's first write builds no schema for it.
        if self._store is None and self._orch.journal is None:
            return
        tenancy = self._tenancy
        names = tenancy.suspensions.cached() if tenancy is not None else None
        if names is not None and tenant.strip().lower() not in names:
            return  # the names were read within the last second: no thread hop, no query
        await asyncio.to_thread(self.tenancy.suspensions.refuse_if_suspended, tenant, what)

    async def check(
        self, provider: Provider, operation: str, arguments: dict[str, Any], dry_run: bool
    ) -> None:
        """Every rule a call within reach implies, before anything is sent: the operation's
        own rules (seed 000's switch and seed 001's window for a plan
        change; allocations, kept allocations and the licence for a create; the reseller's
        allocation for an add-on total, whoever sets it)."""
        if operation in _REFUSED_WHEN_SUSPENDED:
            tenant = arguments["tenant" if "tenant" in arguments else "mailbox"]
            tenant = tenant if isinstance(tenant, TenantRef) else tenant.tenant
            await self._refuse_if_suspended(tenant.name, _REFUSED_WHEN_SUSPENDED[operation])
        if operation == "create_tenant":
            await asyncio.to_thread(self._new_customer_owner, arguments.get("reseller"))
        if operation == "set_plan":
            await self._before_set_plan(provider, arguments["mailbox"], arguments["plan"])
        elif operation == "apply_addon":
            await asyncio.to_thread(self._within_reseller, arguments, dry_run)
        elif operation == "create_mailbox":
            tenant, mailbox = arguments["tenant"], arguments["mailbox"]
            await self._before_create_mailbox(provider, tenant, mailbox)
            await self._check_kept_allocation(provider, tenant, mailbox)
            await self._check_licence(provider, tenant, mailbox)

    def _new_customer_owner(self, reseller: str | None) -> None:
        """A new tenant's reseller exists, and a reseller creates tenants for itself."""
        identity = self.acting()
        if identity.kind is IdentityKind.RESELLER and reseller not in (None, identity.name):
            raise errors.PolicyDenied(
                f"{identity} may not create customers for reseller '{reseller}'",
                reason="cross_boundary",
            )
        if reseller is not None and self.tenancy.reseller(reseller) is None:
            raise errors.ValidationError(f"Unknown reseller '{reseller}'")

    def _allocation_besides(self, tenant: str, addon: str) -> dict[Any, int]:
        """A customer's allocation without its add-on ``addon`` (package + the others)."""
        totals = self.tenancy.allocation("customer", tenant)
        for sale in self.tenancy.sales("customer", tenant):
            if sale.active and sale.addon == addon:
                totals[sale.resource] = totals.get(sale.resource, 0) - sale.quantity * sale.amount
        return totals

    def record_addon_total(self, tenant: TenantRef, addon: Any, quantity: int) -> None:
        """One add-on model (docs/tenancy.md): after a platform's total of a resource was
        set, the customer's add-on becomes what makes its allocation (package plus
        add-ons) that total, so every later check (creation, sales, orders) reads the one
        definition and nothing derived from it lowers what was set. A total below the
        package is the caller's explicit, journalled decision: the add-on becomes 0."""
        resource = _resource(addon)
        if resource is None or self.tenancy.customer(tenant.name) is None:
            return
        rest = self._allocation_besides(tenant.name, addon.name).get(resource, 0)
        # A total set on the platform is counted in the resource's own units (value 1).
        self.tenancy.sell("customer", tenant.name, addon.name, max(0, quantity - rest), amount=1)

    def _within_reseller(self, arguments: dict[str, Any], dry_run: bool) -> None:
        """A customer's add-on total stays within its reseller's allocation, whoever sets
        it (the reseller, the site admin or an order): checked before it is sent."""
        from mailadmin.rules.tenancy import MAX_ALLOCATION, resource_of_addon

        addon, quantity, tenant = arguments["addon"], arguments["quantity"], arguments["tenant"]
        resource = resource_of_addon(addon.name) if addon.plan is None else None
        if resource is not None and quantity > MAX_ALLOCATION:
            # Seed 003's most per resource binds every path, the site admin's included.
            raise errors.PolicyDenied(
                f"{tenant.name} would be allocated {quantity} {_label(resource)}; "
                f"the most is {MAX_ALLOCATION}",
                reason="allocation_limit",
            )
        if resource is None or self.tenancy.owner_of(tenant.name) is None:
            return
        # The platform's total of a resource is the customer's allocation of it; an
        # oversell it allows is recorded when the add-on is (record_addon_total).
        proposed = self.tenancy.allocation("customer", tenant.name)
        proposed[resource] = quantity
        self.tenancy.check_parent(tenant.name, proposed, record=False)

    async def _before_create_mailbox(
        self, provider: Provider, tenant: TenantRef, mailbox: NewMailbox
    ) -> None:
        """Refuse a mailbox beyond the customer's allocation, naming resource, allocation, use.

        Checked against the use kept in the store (:attr:`use`), so the refusal sends
        nothing. The first check of a never-counted tenant needs one read: its count, as
        the site admin. The pipeline holds the tenant's lock, so two creations cannot both
        take the last one.
        """
        from mailadmin.rules.tenancy import resource_of_kind

        resource = resource_of_kind(mailbox.kind)
        allocated = await asyncio.to_thread(
            lambda: self.tenancy.allocation("customer", tenant.name).get(resource)
        )
        if allocated is None:
            return
        used = (await self.use.current(provider, tenant))[resource]
        if used + 1 > allocated:
            label = resource.value.replace("_", " ")
            raise errors.PolicyDenied(
                f"{tenant.name} is allocated {allocated} {label} and uses {used}; "
                f"raise its allocation to create another",
                reason="allocation_exceeded",
                debug={"resource": resource.value, "allocated": allocated, "used": used},
            )

    async def _check_kept_allocation(
        self, provider: Provider, tenant: TenantRef, mailbox: NewMailbox
    ) -> None:
        """A shared or resource mailbox within the add-on mailadmin keeps for a platform
        that sets no such limit itself."""
        from mailadmin.rules.allocations import addon_for_kind
        from mailadmin.rules.tenancy import resource_of_addon

        addon = addon_for_kind(mailbox.kind)
        if addon is None or provider.instance_capabilities.supports(f"addon:{addon}"):
            return
        store = await asyncio.to_thread(lambda: self._orch.allocations)
        bought = await asyncio.to_thread(store.get, provider.instance, tenant.name, addon)
        resource = resource_of_addon(addon)
        if bought is None or resource is None:
            return
        used = (await self.use.current(provider, tenant))[resource]
        if used >= bought:
            what = (
                "shared mailboxes" if addon == "shared_mailbox" else "room and equipment mailboxes"
            )
            raise errors.QuotaExceeded(
                f"{tenant.name} uses all {bought} {what} it has bought (in use: {used}); "
                f"raise the '{addon}' add-on to create more"
            )

    async def _before_set_plan(self, provider: Provider, mailbox: MailboxRef, plan: str) -> None:
        """Seed 000's switch: it binds a mailbox user changing its own plan, nobody else.

        Seed 001's downgrade window binds the customer's package (a ``plan_downgrade``
        order), not one mailbox's plan: seed 000 lets the mailbox's admins, and a user whose
        switch is on, upgrade and downgrade a mailbox at any time.
        """
        identity = self.acting()
        if identity.kind is not IdentityKind.MAILBOX_USER:
            return
        tenant = mailbox.tenant.name
        settings = await asyncio.to_thread(self.settings_for, provider.instance, tenant)
        allowed = await asyncio.to_thread(self.tenancy.allow_upgrade, mailbox.address)
        if not (settings.allow_upgrade_default if allowed is None else allowed):
            raise errors.PolicyDenied(SELF_SERVICE_DENIED, reason="upgrade_not_allowed")

    def after_set_plan(
        self, result: ChangeResult[str], identity: Identity | None = None
    ) -> ChangeResult[str]:
        """Tell a mailbox user who changed its own plan to sign in again (seed 000)."""
        identity = identity or self.acting()
        if identity.kind is not IdentityKind.MAILBOX_USER or not result.changed:
            return result
        if result.dry_run:
            return result
        return result.model_copy(update={"note": SIGN_IN_AGAIN})

    async def _check_licence(
        self, provider: Provider, tenant: TenantRef, mailbox: NewMailbox
    ) -> None:
        """Seed 002: a new mailbox of a kind the licence counts (user mailboxes; shared
        ones too where the provider declares so, as on Zextras) stays within a
        per-mailbox licence."""
        model = provider.instance_capabilities.licence
        if mailbox.kind.value not in model.counted_kinds:
            return
        settings = await asyncio.to_thread(self.settings_for, provider.instance, tenant.name)
        if not settings.licenses_per_mailbox(model):
            return
        licence = await self.as_system(provider.get_licence)
        if licence.seats_licensed is None:
            return
        required = licences_required(licence.seats_used + 1, settings, model)
        if required <= licence.seats_licensed:
            return
        upgrade = licence_upgrade(
            licence.seats_licensed, required - licence.seats_licensed, settings, model
        )
        raise errors.PolicyDenied(
            f"The licence of {provider.instance} covers {licence.seats_licensed} mailboxes "
            f"and {licence.seats_used} are in use; upgrade it to a total of "
            f"{upgrade.total} ({upgrade})",
            reason="licence_exceeded",
        )

    # -- orders -----------------------------------------------------------------------------------

    def place_order(
        self,
        subject: str,
        kind: OrderKind | str,
        detail: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> Order:
        """Open an order for a customer (plan or seat change) or an instance (licence).

        A plan downgrade is accepted only inside the window before the customer's renewal
        (seed 001; it binds whoever places it). A seat upgrade takes ``{"add": N}``, the
        number of accounts to add, and records the resulting total (10 + 5 = 15); a plan
        upgrade that would change the seats is refused, naming the two orders to place.
        """
        from mailadmin.rules.orders import OrderKind

        kind = OrderKind(kind)
        identity = self.acting()
        subject = subject.strip().lower()
        detail = dict(detail or {})
        instance = subject if subject in self._orch.config.instances else None
        tenant = None if instance is not None else self._orch.config.tenant_ref(subject).name
        if instance is None and tenant is not None:
            instance = self._orch.config.instance_of(tenant)
        scope = Scope(operation=f"order:{kind.value}", instance=instance or "", tenant=tenant)
        if not identity.is_admin:
            raise errors.PolicyDenied("A mailbox user may not place orders", reason="not_permitted")
        check_access(identity, scope, self.tenancy.owner_of)
        if tenant is not None:
            self.tenancy.suspensions.refuse_if_suspended(tenant, "an order")
        if kind is OrderKind.PLAN_DOWNGRADE and tenant is not None:
            customer = self.tenancy.customer(tenant)
            renewal = customer.renewal if customer else None
            term = customer.term_months if customer else None
            check_downgrade(renewal, self.today(), self.settings_for(instance, tenant), term)
        if kind is OrderKind.PLAN_UPGRADE and tenant is not None:
            self._plan_without_seats(tenant, detail)
        if kind is OrderKind.EDITION_CHANGE:
            detail = self._edition_detail(subject, detail)
        if kind is OrderKind.SEAT_UPGRADE:
            if tenant is None:
                raise errors.ValidationError("A seat upgrade is ordered for a customer")
            detail = self._seat_detail(tenant, detail)
        if dry_run:
            from mailadmin.rules.orders import Order, OrderState

            self.orders.check(subject, kind)
            return Order(id=0, subject=subject, kind=kind, detail=detail, state=OrderState.PENDING)
        return self.orders.place(subject, kind, detail)

    def _plan_without_seats(self, tenant: str, detail: Mapping[str, Any]) -> None:
        """Seed 001: "upgrade options cannot be done at the same time". A plan upgrade
        that also changes the number of accounts is refused, naming the two orders."""
        from mailadmin.rules.tenancy import Resource

        package = detail.get("package") or {}
        seats = package.get(Resource.USER_MAILBOXES.value, package.get(Resource.USER_MAILBOXES))
        customer = self.tenancy.customer(tenant)
        held = customer.package.get(Resource.USER_MAILBOXES) if customer else None
        wanted = detail.get("add", detail.get("mailboxes"))
        if wanted is None and (seats is None or seats == held):
            return
        now = self.tenancy.allocation("customer", tenant).get(Resource.USER_MAILBOXES, 0)
        if wanted is None and seats is not None:
            wanted = max(0, int(seats) - now)
        rest = {k: v for k, v in package.items() if str(k) != Resource.USER_MAILBOXES.value}
        plan = " ".join(f"{k}={v}" for k, v in rest.items()) or "(the new package)"
        raise errors.PolicyDenied(
            f"A plan upgrade and a seat upgrade of {tenant} are two orders: place a "
            f"plan_upgrade of {plan} without user_mailboxes, then, once its invoice is paid, "
            f"a seat_upgrade adding {wanted} accounts",
            reason="order_open",
        )

    def _edition_detail(self, subject: str, detail: Mapping[str, Any]) -> dict[str, Any]:
        """Seed 002's editions: Pro or Mobile, and Team Pro only on top of Pro for at
        least 10 mailboxes; a change of edition is an order of its own (no seats in it).
        The current edition is the last applied edition order's, else ``from``."""
        from mailadmin.rules.orders import OrderKind, OrderState

        wanted = str(detail.get("edition") or "").strip().lower().replace("-", "_")
        if wanted not in EDITIONS:
            raise errors.ValidationError(
                f"An edition change names the edition wanted: one of {', '.join(EDITIONS)}"
            )
        extra = sorted(set(detail) - {"edition", "from", "mailboxes"})
        if extra or (wanted != "team_pro" and "mailboxes" in detail):
            raise errors.PolicyDenied(
                "A change of edition is an order of its own: order the seats or the licence "
                "upgrade separately",
                reason="edition_rule",
            )
        applied = [
            o
            for o in self.orders.all(subject)
            if o.kind is OrderKind.EDITION_CHANGE and o.state is OrderState.APPLIED
        ]
        current = applied[-1].detail.get("edition") if applied else detail.get("from")
        current = str(current).strip().lower().replace("-", "_") if current else None
        if current == wanted:
            raise errors.ValidationError(f"{subject} is on {wanted} already")
        result: dict[str, Any] = {"edition": wanted, "from": current}
        if wanted == "team_pro":
            if current != "pro":
                held = current or "an unknown edition"
                raise errors.PolicyDenied(
                    f"Team Pro is added on top of Pro; {subject} is on {held}: order the "
                    "change to pro first",
                    reason="edition_rule",
                )
            mailboxes = detail.get("mailboxes")
            if isinstance(mailboxes, bool) or not isinstance(mailboxes, int) or mailboxes < 10:
                raise errors.PolicyDenied(
                    "Team Pro licenses at least 10 mailboxes: state how many (mailboxes=10 "
                    "or more)",
                    reason="edition_rule",
                )
            result["mailboxes"] = mailboxes
        return result

    def _seat_detail(self, tenant: str, detail: Mapping[str, Any]) -> dict[str, Any]:
        """The accounts to add and the resulting total, from the customer's allocation."""
        from mailadmin.rules.tenancy import Resource

        added = detail.get("add")
        if isinstance(added, bool) or not isinstance(added, int) or not 1 <= added <= 9999:
            raise errors.ValidationError(
                "A seat upgrade takes the number of accounts to add (1 to 9,999), "
                "e.g. add=5 for 10 + 5 = 15"
            )
        current = self.tenancy.allocation("customer", tenant).get(Resource.USER_MAILBOXES, 0)
        total = current + added
        if total > 9999:
            raise errors.PolicyDenied(
                f"{tenant} holds {current} accounts; adding {added} would make {total}, "
                "more than 9,999",
                reason="allocation_limit",
            )
        return {
            "add": added,
            "current": current,
            "total": total,
            "sum": f"{current} + {added} = {total}",
        }

    async def order_seat_upgrade(self, tenant: str, added: int, *, dry_run: bool = False) -> Order:
        """Order ``added`` more accounts for a customer (seed 001's "number of accounts to
        add"); the order states the resulting total (10 + 5 = 15). Refused when that total
        would still be below the user mailboxes in use."""
        from mailadmin.rules.orders import OrderKind
        from mailadmin.rules.tenancy import Resource

        name = self._orch.config.tenant_ref(tenant).name
        current = await asyncio.to_thread(
            lambda: self.tenancy.allocation("customer", name).get(Resource.USER_MAILBOXES, 0)
        )
        if isinstance(added, int) and not isinstance(added, bool):
            await self._seats_cover_use(name, current + added)
        return await asyncio.to_thread(
            lambda: self.place_order(name, OrderKind.SEAT_UPGRADE, {"add": added}, dry_run=dry_run)
        )

    async def order_licence_upgrade(
        self, instance: str, added: int, *, dry_run: bool = False
    ) -> Order:
        """Order ``added`` more licensed mailboxes, stated as the new total (10 + 5 = 15)."""
        from mailadmin.rules.orders import OrderKind

        licence = await self._orch.get_licence(instance)
        settings = self.settings_for(instance)
        current = licence.seats_licensed or 0
        model = self._orch.provider(instance).instance_capabilities.licence
        upgrade = licence_upgrade(current, added, settings, model)
        detail: dict[str, Any] = upgrade.model_dump()
        expires = licence.valid_until.date() if licence.valid_until is not None else None
        if expires is not None:
            detail["until"] = expires.isoformat()
        cost = licence_upgrade_cost(settings.prices, upgrade.added, self.today(), expires)
        if cost is not None:
            detail["cost"] = cost.model_dump()
        return self.place_order(instance, OrderKind.LICENCE_UPGRADE, detail, dry_run=dry_run)

    async def order_licence_renewal(
        self, instance: str, until: date, *, dry_run: bool = False
    ) -> Order:
        """Order the renewal of an instance's licence to ``until``, the new expiry (seed
        002: "enter the new expiration date"); it must be later than the present one.
        Applied, it marks the licence orders it extends ``renewed``."""
        from mailadmin.rules.orders import OrderKind

        licence = await self._orch.get_licence(instance)
        expires = licence.valid_until.date() if licence.valid_until is not None else None
        if until <= (expires or self.today()):
            held = f"expires {expires.isoformat()}" if expires else "has no expiry date"
            raise errors.ValidationError(
                f"The licence of {instance} {held}; a renewal extends it to a later date "
                f"than {until.isoformat()}"
            )
        detail: dict[str, Any] = {
            "until": until.isoformat(),
            "from": expires.isoformat() if expires else None,
        }
        # Seed 002: the store prices "the extended Licence Plan": the days it adds.
        prices = self.settings_for(instance).prices
        cost = period_cost(
            prices.licence_mailbox_year,
            prices,
            licence.seats_licensed or 0,
            max(expires or self.today(), self.today()),
            until,
        )
        if cost is not None and licence.seats_licensed is not None:
            detail["cost"] = cost.model_dump()
        return self.place_order(instance, OrderKind.LICENCE_RENEWAL, detail, dry_run=dry_run)

    async def order_maintenance(
        self, instance: str, years: int = 1, *, dry_run: bool = False
    ) -> Order:
        """Order ``years`` more of the maintenance service of an instance's licence (seed
        002): cumulative, it runs on from the present end; lapsed, it is paid from the
        date it ended, so the order must reach past today to make it valid again."""
        from mailadmin.rules.orders import OrderKind

        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 10:
            raise errors.ValidationError("A maintenance order adds 1 to 10 years")
        licence = await self._orch.get_licence(instance)
        if licence.maintenance_until is None:
            raise errors.ValidationError(
                f"The licence of {instance} has no maintenance end date: its platform sells "
                "no maintenance service apart from the licence"
            )
        ends, today = licence.maintenance_until.date(), self.today()
        until = _add_years(ends, years)
        missed = max(0, (today - ends).days)
        if until <= today:
            needed = next(n for n in range(years, 100) if _add_years(ends, n) > today)
            raise errors.PolicyDenied(
                f"The maintenance of {instance} ended on {ends.isoformat()} ({missed} days "
                "ago); it is paid from that date, so it takes at least "
                f"{needed} years to be valid again",
                reason="maintenance_lapsed",
            )
        detail: dict[str, Any] = {
            "years": years,
            "from": ends.isoformat(),
            "until": until.isoformat(),
            "missed_days": missed,
            "note": (
                f"back-paid from {ends.isoformat()} ({missed} days missed)"
                if missed
                else f"cumulative: runs on from {ends.isoformat()}"
            ),
        }
        # Paid from the end, missed days included, for every licensed mailbox.
        prices = self.settings_for(instance).prices
        if licence.seats_licensed is not None:
            cost = maintenance_cost(prices, licence.seats_licensed, ends, until)
            if cost is not None:
                detail["cost"] = cost.model_dump()
        return self.place_order(instance, OrderKind.MAINTENANCE, detail, dry_run=dry_run)

    async def apply_order(self, order_id: int, *, dry_run: bool = False) -> Order:
        """Carry out a paid order: a package or seat change of a customer; licence and
        edition orders are settled with the vendor, so applying records them only."""
        from mailadmin.rules.orders import OrderKind, OrderState
        from mailadmin.rules.tenancy import CustomerSpec, Resource

        order = self.orders.get(order_id)
        if order.state is not OrderState.PAID:
            raise errors.PolicyDenied(
                f"Order #{order.id} is {order.state.value}; it is applied once paid",
                reason="order_state",
            )
        if order.kind in (OrderKind.PLAN_UPGRADE, OrderKind.PLAN_DOWNGRADE):
            customer = self.tenancy.customer(order.subject)
            package = {Resource(k): int(v) for k, v in order.detail.get("package", {}).items()}
            if customer is not None and not dry_run:
                spec = CustomerSpec(
                    reseller=customer.reseller,
                    package={**customer.package, **package},
                    renewal=customer.renewal,
                    term_months=customer.term_months,
                )
                self.tenancy.save_customer(order.subject, spec)
        elif order.kind is OrderKind.SEAT_UPGRADE:
            total = self._seat_total(order)
            await self._seats_cover_use(order.subject, total)
            # Checked whole (reseller allocation, use) before it is sent; the pipeline
            # records the customer's new allocation once the platform holds it.
            await self._orch.apply_addon(order.subject, "mailboxes", total, dry_run=dry_run)
        if dry_run:
            return order
        if order.kind is OrderKind.LICENCE_RENEWAL:
            self.orders.renewed(order.subject, order)
        return self.orders.applied(order.id)

    def _seat_total(self, order: Order) -> int:
        """What a seat order brings the customer to when applied: its allocation then plus
        the accounts bought (a sale since the order is kept); an order placed before
        orders took the number to add states its total."""
        from mailadmin.rules.tenancy import Resource

        if "add" not in order.detail:
            return int(order.detail["mailboxes"])
        now = self.tenancy.allocation("customer", order.subject).get(Resource.USER_MAILBOXES, 0)
        return now + int(order.detail["add"])

    async def _seats_cover_use(self, tenant: str, total: int) -> None:
        """A seat order never leaves fewer seats than user mailboxes in use."""
        from mailadmin.rules.tenancy import Resource

        provider, ref = self._orch.provider_for(tenant)
        used = (await self.use.current(provider, ref))[Resource.USER_MAILBOXES]
        if total < used:
            raise errors.PolicyDenied(
                f"{ref.name} uses {used} user mailboxes; a seat total of {total} would be "
                "below what is in use (delete mailboxes first)",
                reason="below_use",
                debug={"used": used, "total": total},
            )

    async def as_system(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run a read the rules need themselves (a count) as the site admin."""
        with acting_scope(SITE_ADMIN):
            return await work()


def scope_of(provider: Provider, operation: str, arguments: Mapping[str, Any]) -> Scope:
    """What a call touches, read from its validated arguments."""
    tenant: str | None = None
    mailbox: str | None = None
    ref = arguments.get("mailbox")
    if isinstance(ref, MailboxRef):
        tenant, mailbox = ref.tenant.name, ref.address
    elif isinstance(ref, NewMailbox):
        mailbox = ref.address
    found = arguments.get("tenant")
    if isinstance(found, TenantRef):
        tenant = found.name
    return Scope(operation=operation, instance=provider.instance, tenant=tenant, mailbox=mailbox)


class ActingView:
    """The orchestrator as seen by one identity: ``orch.acting_as("reseller:acme")``.

    Call any orchestrator method through it (``await view.set_plan(...)``), or use it as a
    context manager to act as the identity for a block (tasks started inside inherit it).
    """

    def __init__(self, orchestrator: Orchestrator, identity: Identity | str) -> None:
        self.orchestrator = orchestrator
        self.identity = _identity(identity)
        self._scopes: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.orchestrator, name)
        if name == "runs":
            # The run service's methods act as this identity too (a bulk sale's reach).
            return ActingView(attribute, self.identity)
        if not callable(attribute) or name.startswith("_"):
            return attribute
        identity = self.identity

        def call(*args: Any, **kwargs: Any) -> Any:
            with acting_scope(identity):
                result = attribute(*args, **kwargs)
            if hasattr(result, "__await__"):
                return run_as(identity, result)
            return result

        return call

    def __enter__(self) -> Orchestrator:
        scope = acting_scope(self.identity)
        scope.__enter__()
        self._scopes.append(scope)
        return self.orchestrator

    def __exit__(self, *exc_info: Any) -> None:
        self._scopes.pop().__exit__(*exc_info)


async def run_as(identity: Identity, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` acting as ``identity``."""
    # The identity must be set while the coroutine runs, not only while it is created.
    with acting_scope(identity):
        return await awaitable


def _identity(value: Identity | str) -> Identity:
    return value if isinstance(value, Identity) else Identity.parse(value)


def _resource(addon: Any) -> Any:
    """The resource an add-on total raises, for an add-on of no particular plan."""
    from mailadmin.rules.tenancy import resource_of_addon

    return resource_of_addon(addon.name) if addon.plan is None else None


def _add_years(day: date, years: int) -> date:
    """``day`` that many years later (Feb 29 becomes Feb 28 off leap years)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _label(resource: Any) -> str:
    return str(resource.value).replace("_", " ").replace("gb", "GB")
