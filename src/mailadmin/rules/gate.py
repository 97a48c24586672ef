"""Where the business rules meet the orchestrator: one gate before every provider call.

``Orchestrator`` holds one :class:`BusinessRules`. Its :meth:`~BusinessRules.check_call`
runs in the call hooks before any request of any provider call (reads and writes), so an
identity's boundary is checked on the one path every call takes. Rules that need to read
the platform first (allocations, the downgrade window) run from the orchestrator's entry
points. Every refusal is journalled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxRef, NewMailbox, TenantRef
from mailadmin.rules.identities import (
    SITE_ADMIN,
    Identity,
    IdentityKind,
    Scope,
    acting_scope,
    check_access,
    current_identity,
)

if TYPE_CHECKING:
    from mailadmin.contract.provider import CallInfo, Provider
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.tenancy import Customer, CustomerSpec, Tenancy
    from mailadmin.store.database import Database

__all__ = ["ActingView", "BusinessRules"]


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

    @property
    def store(self) -> Database:
        """The versioned database (the journal's, or an in-memory one without a journal)."""
        if self._store is None:
            from mailadmin.store.database import Database

            journal = self._orch.journal
            self._store = Database(journal.engine if journal is not None else "sqlite://")
        return self._store

    @property
    def tenancy(self) -> Tenancy:
        """Resellers and customers; the configuration's records are loaded on first use."""
        if self._tenancy is None:
            from mailadmin.rules.tenancy import Tenancy

            config = self._orch.config
            tenancy = Tenancy(self.store, tenants=config.tenants)
            tenancy.declare(config.resellers, config.customers)
            self._tenancy = tenancy
        return self._tenancy

    def add_customer(self, name: str, spec: CustomerSpec | None = None) -> Customer:
        """Record a customer (a configured tenant) under a reseller or the host."""
        return self.tenancy.add_customer(name, spec)

    def set_allow_upgrade(self, address: str, allowed: bool) -> None:
        """Set a mailbox's "allow upgrade" switch (seed 000): its admins only."""
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
        self.tenancy.set_allow_upgrade(address, allowed)

    def acting(self) -> Identity:
        """The identity of the running call."""
        return current_identity(self.identity)

    # -- the gate -------------------------------------------------------------------------------

    def check_call(self, provider: Provider, call: CallInfo) -> None:
        """Refuse, before any request, a provider call outside the acting identity's reach."""
        identity = self.acting()
        if identity.kind is IdentityKind.SITE_ADMIN:
            return
        try:
            check_access(identity, scope_of(provider, call), self.tenancy.owner_of)
        except errors.PolicyDenied as denial:
            self.journal_denial(provider, call, denial)
            raise

    def journal_denial(
        self, provider: Provider, call: CallInfo, denial: errors.PolicyDenied
    ) -> None:
        """Record a refused call: its intent and the refusal (the message names the identity)."""
        journal = self._orch.journal
        if journal is None:
            return
        journal.started(call)
        journal.failed(call, denial)

    def deny(
        self,
        provider: Provider,
        operation: str,
        arguments: dict[str, Any],
        dry_run: bool,
        denial: errors.PolicyDenied,
    ) -> errors.PolicyDenied:
        """Journal a refusal made at an orchestrator entry point and return it to raise."""
        self.journal_denial(provider, _call(provider, operation, arguments, dry_run), denial)
        return denial

    async def before_create_mailbox(
        self, provider: Provider, tenant: TenantRef, mailbox: NewMailbox, dry_run: bool
    ) -> None:
        """Refuse a mailbox beyond the customer's allocation, naming resource, allocation, use.

        Checked before any request of the creation; the count it needs is read as the site
        admin (the acting identity may not count, a reseller's view is the same count).
        """
        from mailadmin.rules.tenancy import resource_of_kind, used_of

        arguments = {"tenant": tenant, "mailbox": mailbox}
        self.check_call(provider, _call(provider, "create_mailbox", arguments, dry_run))
        resource = resource_of_kind(mailbox.kind)
        allocated = self.tenancy.allocation("customer", tenant.name).get(resource)
        if allocated is None:
            return
        counts = await self.as_system(lambda: provider.count_mailboxes(tenant))
        used = used_of(resource, counts) or 0
        if used + 1 > allocated:
            label = resource.value.replace("_", " ")
            raise self.deny(
                provider,
                "create_mailbox",
                arguments,
                dry_run,
                errors.PolicyDenied(
                    f"{tenant.name} is allocated {allocated} {label} and uses {used}; "
                    f"raise its allocation to create another",
                    reason="allocation_exceeded",
                    debug={"resource": resource.value, "allocated": allocated, "used": used},
                ),
            )

    async def as_system(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run a read the rules need themselves (a count) as the site admin."""
        with acting_scope(SITE_ADMIN):
            return await work()


def _call(provider: Provider, operation: str, arguments: dict[str, Any], dry_run: bool) -> CallInfo:
    from mailadmin.contract.provider import CallInfo

    return CallInfo(provider.instance, provider.name, operation, arguments, dry_run)


def scope_of(provider: Provider, call: CallInfo) -> Scope:
    """What a provider call touches, read from its validated arguments."""
    tenant: str | None = None
    mailbox: str | None = None
    arguments = call.arguments
    ref = arguments.get("mailbox")
    if isinstance(ref, MailboxRef):
        tenant, mailbox = ref.tenant.name, ref.address
    elif isinstance(ref, NewMailbox):
        mailbox = ref.address
    found = arguments.get("tenant")
    if isinstance(found, TenantRef):
        tenant = found.name
    return Scope(
        operation=call.operation, instance=provider.instance, tenant=tenant, mailbox=mailbox
    )


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
        if not callable(attribute) or name.startswith("_"):
            return attribute
        identity = self.identity

        def call(*args: Any, **kwargs: Any) -> Any:
            with acting_scope(identity):
                result = attribute(*args, **kwargs)
            if hasattr(result, "__await__"):
                return _awaiting(identity, result)
            return result

        return call

    def __enter__(self) -> Orchestrator:
        scope = acting_scope(self.identity)
        scope.__enter__()
        self._scopes.append(scope)
        return self.orchestrator

    def __exit__(self, *exc_info: Any) -> None:
        self._scopes.pop().__exit__(*exc_info)


async def _awaiting(identity: Identity, awaitable: Awaitable[Any]) -> Any:
    # The identity must be set while the coroutine runs, not only while it is created.
    with acting_scope(identity):
        return await awaitable


def _identity(value: Identity | str) -> Identity:
    return value if isinstance(value, Identity) else Identity.parse(value)
