"""The orchestration layer: one entry point for hosting tools.

``Orchestrator`` owns the provider instances named in the configuration and takes every
call through the one pipeline (:mod:`mailadmin.orchestration.pipeline`): identity,
validation, routing to the one provider that owns the subject, policy, journal and fence,
the provider, the outcome. Every write takes ``dry_run=True`` to report what would change
without sending any write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from mailadmin.contract import errors
from mailadmin.contract.capabilities import SETTINGS
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    Mailbox,
    MailboxCount,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Outcome,
    SignOn,
    TenantRef,
)
from mailadmin.contract.provider import CallHooks, Provider
from mailadmin.orchestration.bulk import BulkResult, OnError, Progress, run_bulk
from mailadmin.orchestration.config import Config, UnknownTenant
from mailadmin.orchestration.fence import ReadBack
from mailadmin.orchestration.gate import ActingView, BusinessRules
from mailadmin.orchestration.pipeline import (
    MAX_QUANTITY,
    SUSPENSIONS,
    Call,
    Pipeline,
    PluginHooksAfterPolicy,
    check_addon,
    check_plan,
    check_quantity,
    require_text,
)
from mailadmin.orchestration.records import RECORD_OPERATIONS, UNSET, Records
from mailadmin.orchestration.runs import RunService
from mailadmin.rules.allocations import (
    KEPT_ADDONS,
    Allocations,
    AllocationUse,
    used_by,
)
from mailadmin.rules.identities import unknown_tenant

if TYPE_CHECKING:
    import httpx

    from mailadmin.orchestration.reconcile import ReconcileReport
    from mailadmin.orchestration.registry import Registry
    from mailadmin.rules.identities import Identity
    from mailadmin.rules.tenancy import Tenancy
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = ["MAX_QUANTITY", "Orchestrator"]

#: Open rows a resume settles by taking the call through the pipeline again (each reads
#: the platform first, so a write that landed is not repeated).
_RESUMED_BY_PIPELINE = (
    frozenset({"set_plan", "apply_addon", "create_tenant", "delete_tenant"}) | SUSPENSIONS
)


class Orchestrator:
    """Routes calls to providers by tenant, validates, runs bulk work, journals writes.

    ``Orchestrator.from_config("mailadmin.toml")`` is the usual start. ``http`` maps an
    instance name to an httpx transport used instead of the network (tests pass a mock's
    respx router or ASGI transport here). Use it as an async context manager, or call
    :meth:`aclose`.
    """

    def __init__(
        self,
        config: Config,
        *,
        registry: Registry | None = None,
        journal: Journal | bool | None = True,
        http: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        identity: Identity | str | None = None,
        defer_journal: bool = False,
    ) -> None:
        self.config = config
        if registry is None:
            from mailadmin.orchestration.registry import get_registry

            registry = get_registry()
        self.registry = registry
        # ``defer_journal``: the store is opened on its first use, so a command that
        # never writes (``mailadmin count``) never loads the database layer.
        self.journal = self._open_journal(journal, defer=defer_journal)
        self._http = dict(http or {})
        self._providers: dict[str, Provider] = {}
        #: Tenancy, identities and policies; ``identity`` is who calls by default.
        self.rules = BusinessRules(self, identity)
        # The plugins' veto runs in the pipeline's policy step; the providers run only
        # their audit and metrics hooks.
        self._hooks = PluginHooksAfterPolicy(registry.hooks)
        #: The steps every call takes (docs/architecture.md).
        self.pipeline = Pipeline(self)
        self._allocations: Allocations | None = None
        #: Bulk runs: the one place a run is checked, journalled, sent and finished.
        self.runs = RunService(self)

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> Orchestrator:
        """Build from a TOML configuration file."""
        return cls(Config.load(path), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> Orchestrator:
        """Build from an already parsed configuration."""
        return cls(Config.from_dict(data), **kwargs)

    def _open_journal(self, journal: Journal | bool | None, *, defer: bool) -> Journal | None:
        if journal is True:
            url = self.config.journal.url
            if url is None:
                return None
            from mailadmin.store.journal import Journal

            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                url = "sqlite:///" + str(self.config.base_dir / url.removeprefix("sqlite:///"))
            return Journal.deferred(url) if defer else Journal(url)
        if journal is False:
            return None
        return journal

    @property
    def allocations(self) -> Allocations:
        """Add-on allocations kept by mailadmin for platforms that set no such limit."""
        if self._allocations is None:
            if self.journal is not None:
                engine = self.journal.engine
            else:
                import sqlalchemy as sa

                engine = sa.create_engine(
                    "sqlite://", poolclass=sa.StaticPool, connect_args={"check_same_thread": False}
                )
            lock = self.journal.lock if self.journal is not None else None
            self._allocations = Allocations(engine, lock=lock)
        return self._allocations

    def acting_as(self, identity: Identity | str) -> ActingView:
        """This orchestrator acting as ``identity`` (``"reseller:acme"``, ``"mailbox:..."``)."""
        return ActingView(self, identity)

    # -- routing ------------------------------------------------------------------------------

    @property
    def instances(self) -> list[str]:
        """The configured instance names."""
        return list(self.config.instances)

    @property
    def tenants(self) -> list[str]:
        """The configured tenant names."""
        return list(self.config.tenants)

    def reachable_tenants(self) -> list[str]:
        """The configured tenants the acting identity reaches (every one for the site admin);
        an identity that names nothing known is refused."""
        self.rules.check_identity(self.rules.acting())
        return [name for name in self.config.tenants if self.rules.reachable(name)]

    def provider(self, instance: str) -> Provider:
        """The provider of a configured instance, built on first use."""
        if instance not in self.config.instances:
            known = ", ".join(self.config.instances) or "none"
            raise errors.ValidationError(f"Unknown instance '{instance}' (configured: {known})")
        if instance not in self._providers:
            spec = self.config.instances[instance]
            settings = spec.provider_settings(self.config.base_dir, instance)
            cls = self.registry.provider_class(spec.provider)
            self._providers[instance] = cls(
                settings, instance=instance, http=self._http.get(instance), hooks=self._hooks
            )
        return self._providers[instance]

    def provider_for(self, tenant: str | TenantRef) -> tuple[Provider, TenantRef]:
        """The one provider that owns a tenant, and the tenant's reference."""
        require_text(tenant, "tenant", TenantRef)
        name = tenant.name if isinstance(tenant, TenantRef) else tenant
        try:
            ref = self.config.tenant_ref(name)
        except UnknownTenant as exc:  # told as a tenant out of reach, but to the site admin
            raise unknown_tenant(self.rules.acting(), exc.name, exc) from None
        return self.provider(self.config.tenants[ref.name].instance), ref

    def mailbox(self, address: str | MailboxRef) -> tuple[Provider, MailboxRef]:
        """The provider that owns a mailbox, and the mailbox's reference."""
        require_text(address, "mailbox address", MailboxRef)
        text = address.address if isinstance(address, MailboxRef) else address
        try:
            tenant = self.config.tenant_of_address(text.strip())
        except UnknownTenant as exc:
            acting = self.rules.acting()
            raise unknown_tenant(acting, exc.name, exc, mailbox=text.strip()) from None
        provider, ref = self.provider_for(tenant)
        if isinstance(address, MailboxRef) and address.tenant == ref:
            return provider, address  # validated when it was made; routed to the same tenant
        try:
            return provider, MailboxRef(tenant=ref, address=text)
        except ValueError:
            raise errors.ValidationError(f"'{text}' is not a mail address") from None

    def _check_plan(self, plan: str) -> str:
        return check_plan(self.config, plan)

    def _check_addon(self, addon: str | AddonRef) -> AddonRef:
        return check_addon(self.config, addon)

    @property
    def plugin_hooks(self) -> CallHooks:
        """The plugins' call hooks (audit, metrics, policy veto)."""
        return self.registry.hooks

    def check_plan(self, plan: str) -> str:
        """The catalogue's name of ``plan``; ValidationError when the catalogue lacks it."""
        return self._check_plan(plan)

    def check_addon(self, addon: str | AddonRef, quantity: object = None) -> AddonRef:
        """The catalogue's add-on (and, given, a valid total); ValidationError otherwise."""
        ref = self._check_addon(addon)
        if quantity is not None:
            check_quantity(quantity)
        return ref

    # -- single calls: each one call through the pipeline --------------------------------------

    async def set_plan(
        self, mailbox: str | MailboxRef, plan: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Put one mailbox on a neutral plan."""
        call = Call("set_plan", {"mailbox": mailbox, "plan": plan}, dry_run=dry_run)
        result: ChangeResult[str] = await self.pipeline.run(call)
        return result

    async def count_mailboxes(self, tenant: str | TenantRef) -> MailboxCount:
        """Mailboxes of a tenant by kind and plan, counted live.

        The count is stored as the tenant's use (``rules.use``) that allocation checks
        compare against, so every count (``count_all``, the ``usage`` report) refreshes it.
        """
        counts: MailboxCount = await self.pipeline.run(Call("count_mailboxes", {"tenant": tenant}))
        return counts

    async def apply_addon(
        self,
        tenant: str | TenantRef,
        addon: str | AddonRef,
        quantity: int,
        *,
        dry_run: bool = False,
    ) -> ChangeResult[int]:
        """Set the total quantity of an add-on for a tenant.

        Shared and resource mailbox add-ons of a platform that sets no such limit are kept
        by mailadmin and enforced by :meth:`create_mailbox`.
        """
        inputs = {"tenant": tenant, "addon": addon, "quantity": quantity}
        result: ChangeResult[int] = await self.pipeline.run(
            Call("apply_addon", inputs, dry_run=dry_run)
        )
        return result

    async def get_licence(self, instance: str) -> Licence:
        """The licence of one provider instance."""
        licence: Licence = await self.pipeline.run(Call("get_licence", {"instance": instance}))
        return licence

    async def test_connection(self, instance: str) -> ConnectionStatus:
        """Check one instance answers and accepts its credentials."""
        status: ConnectionStatus = await self.pipeline.run(
            Call("test_connection", {"instance": instance})
        )
        return status

    async def list_plans(self, instance: str) -> list[NativePlan]:
        """The native plan catalogue of one instance."""
        plans: list[NativePlan] = await self.pipeline.run(
            Call("list_plans", {"instance": instance})
        )
        return plans

    async def list_mailboxes(self, tenant: str | TenantRef) -> list[Mailbox]:
        """Every mailbox of a tenant."""
        found: list[Mailbox] = await self.pipeline.run(Call("list_mailboxes", {"tenant": tenant}))
        return found

    async def create_mailbox(
        self, tenant: str | TenantRef, mailbox: NewMailbox, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """Create a mailbox of any kind the provider supports.

        Refused before any request when its address is not the tenant's, when it would pass
        the customer's allocation (``PolicyDenied``) or, for a shared, room or equipment
        mailbox, an allocation that mailadmin keeps for the platform (``QuotaExceeded``).
        Creating a mailbox that exists already is ``unchanged``.
        """
        call = Call("create_mailbox", {"tenant": tenant, "mailbox": mailbox}, dry_run=dry_run)
        result: ChangeResult[Mailbox] = await self.pipeline.run(call)
        return result

    async def delete_mailbox(
        self, mailbox: str | MailboxRef, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """Delete a mailbox; the tenant's kept use goes down by one once it is gone."""
        call = Call("delete_mailbox", {"mailbox": mailbox}, dry_run=dry_run)
        result: ChangeResult[Mailbox] = await self.pipeline.run(call)
        return result

    async def set_password(
        self, mailbox: str | MailboxRef, password: SecretStr | str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Set a mailbox's password. The password is never stored, logged or journalled
        (the journal keeps it masked), so an interrupted call is settled by setting it
        again, never by ``journal resume``."""
        call = Call("set_password", {"mailbox": mailbox, "password": password}, dry_run=dry_run)
        result: ChangeResult[str] = await self.pipeline.run(call)
        return result

    async def suspend_mailbox(
        self, mailbox: str | MailboxRef, *, reason: str = "", dry_run: bool = False
    ) -> ChangeResult[str]:
        """Stop all access to a mailbox (non-payment, abuse: ``reason`` is journalled);
        nothing is deleted. Suspending a suspended mailbox is ``unchanged``."""
        inputs = {"mailbox": mailbox, "reason": reason}
        result: ChangeResult[str] = await self.pipeline.run(
            Call("suspend_mailbox", inputs, dry_run=dry_run)
        )
        return result

    async def resume_mailbox(
        self, mailbox: str | MailboxRef, *, reason: str = "", dry_run: bool = False
    ) -> ChangeResult[str]:
        """Give a suspended mailbox its access back."""
        inputs = {"mailbox": mailbox, "reason": reason}
        result: ChangeResult[str] = await self.pipeline.run(
            Call("resume_mailbox", inputs, dry_run=dry_run)
        )
        return result

    async def suspend_tenant(
        self, tenant: str | TenantRef, *, reason: str = "", dry_run: bool = False
    ) -> ChangeResult[str]:
        """Stop all access to every mailbox of a tenant (non-payment, abuse: ``reason`` is
        journalled); nothing is deleted."""
        inputs = {"tenant": tenant, "reason": reason}
        result: ChangeResult[str] = await self.pipeline.run(
            Call("suspend_tenant", inputs, dry_run=dry_run)
        )
        return result

    async def resume_tenant(
        self, tenant: str | TenantRef, *, reason: str = "", dry_run: bool = False
    ) -> ChangeResult[str]:
        """Give a suspended tenant its access back."""
        inputs = {"tenant": tenant, "reason": reason}
        result: ChangeResult[str] = await self.pipeline.run(
            Call("resume_tenant", inputs, dry_run=dry_run)
        )
        return result

    async def set_display_name(
        self, mailbox: str | MailboxRef, name: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Set the name shown for a mailbox; setting the name it has is ``unchanged``."""
        return await self._setting("set_display_name", mailbox, name, dry_run)

    async def set_forwarding(
        self, mailbox: str | MailboxRef, address: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Forward a mailbox's mail to ``address`` (``""`` stops forwarding)."""
        return await self._setting("set_forwarding", mailbox, address, dry_run)

    async def set_quota(
        self, mailbox: str | MailboxRef, quota_mb: int, *, dry_run: bool = False
    ) -> ChangeResult[int]:
        """Set a mailbox's storage quota in MB."""
        return await self._setting("set_quota", mailbox, quota_mb, dry_run)

    async def add_alias(
        self, mailbox: str | MailboxRef, alias: str, *, dry_run: bool = False
    ) -> ChangeResult[list[str]]:
        """Let a mailbox receive mail at ``alias`` too; adding one it has is ``unchanged``."""
        return await self._setting("add_alias", mailbox, alias, dry_run)

    async def remove_alias(
        self, mailbox: str | MailboxRef, alias: str, *, dry_run: bool = False
    ) -> ChangeResult[list[str]]:
        """Stop a mailbox receiving mail at ``alias``; removing one it lacks is ``unchanged``."""
        return await self._setting("remove_alias", mailbox, alias, dry_run)

    async def list_aliases(self, mailbox: str | MailboxRef) -> list[str]:
        """A mailbox's aliases, sorted."""
        found: list[str] = await self.pipeline.run(Call("list_aliases", {"mailbox": mailbox}))
        return found

    async def single_sign_on(self, mailbox: str | MailboxRef) -> SignOn:
        """A link that signs the mailbox's user in without a password; a credential, never
        logged or journalled (a read: nothing changes)."""
        found: SignOn = await self.pipeline.run(Call("single_sign_on", {"mailbox": mailbox}))
        return found

    async def _setting(
        self, operation: str, mailbox: str | MailboxRef, value: object, dry_run: bool
    ) -> ChangeResult[Any]:
        call = Call(operation, {"mailbox": mailbox, "value": value}, dry_run=dry_run)
        result: ChangeResult[Any] = await self.pipeline.run(call)
        return result

    async def reconcile(
        self,
        tenants: Iterable[str] = (),
        *,
        adopt: bool = False,
        owner: str | None = None,
        dry_run: bool = False,
    ) -> ReconcileReport:
        """Compare what each platform holds (tenants, mailboxes by kind and plan, limits)
        with what mailadmin keeps; see :mod:`mailadmin.orchestration.reconcile`. With
        ``adopt``: record the live use and add the unmapped tenants as customers of
        ``owner`` (``"host"``: the host's own); ``dry_run`` records nothing."""
        from mailadmin.orchestration.reconcile import reconcile

        return await reconcile(self, tenants, adopt=adopt, owner=owner, dry_run=dry_run)

    async def create_tenant(
        self,
        tenant: str | TenantRef,
        *,
        reseller: str | None = None,
        plan: str | None = None,
        max_mailboxes: int | None = None,
        dry_run: bool = False,
    ) -> ChangeResult[str]:
        """Create a configured tenant on its platform (a domain, a context) with its
        default ``plan`` and ``max_mailboxes`` where the platform holds them, and record
        its customer (under ``reseller``, or the host's) in the same journalled call: a
        call cut short is completed by ``journal resume``. Already there: ``unchanged``,
        and the customer is still recorded."""
        inputs = {
            "tenant": tenant,
            "reseller": reseller,
            "plan": plan,
            "max_mailboxes": max_mailboxes,
        }
        result: ChangeResult[str] = await self.pipeline.run(
            Call("create_tenant", inputs, dry_run=dry_run)
        )
        return result

    async def delete_tenant(
        self, tenant: str | TenantRef, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Remove a tenant from its platform and forget its customer record, in one
        journalled call. Platforms that keep a tenant with mailboxes refuse: delete them
        first, or :meth:`terminate` the tenant."""
        result: ChangeResult[str] = await self.pipeline.run(
            Call("delete_tenant", {"tenant": tenant}, dry_run=dry_run)
        )
        return result

    async def terminate(
        self,
        tenant: str | TenantRef,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BulkResult[ChangeResult[Any]]:
        """Remove a tenant and every mailbox of it from its platform, and forget its
        customer: one run of the run service, journalled item by item (each mailbox, then
        the tenant), so ``journal resume`` finishes a termination cut short. Refused
        before anything is sent where the platform cannot remove the tenant or the acting
        identity may not; ``dry_run`` lists what would go and sends nothing."""
        provider, ref = self.provider_for(tenant)
        capabilities = provider.instance_capabilities
        if not capabilities.supports("delete_tenant"):
            raise errors.UnsupportedOperation(
                "delete_tenant", provider.instance, capabilities.reason("delete_tenant")
            )
        await self.rules.check_reach(provider, "delete_tenant", {"tenant": ref})
        mailboxes = await self.list_mailboxes(ref)
        items: list[dict[str, Any]] = [{"mailbox": m.address} for m in mailboxes]
        items.append({"tenant": ref.name})
        prepared = await self.runs.prepare("terminate", items, dry_run=dry_run)
        # One at a time, in order: the tenant goes once its mailboxes are gone.
        result: BulkResult[ChangeResult[Any]] = await self.runs.execute(
            prepared, concurrency=1, progress=progress, stop_on_error=True
        )
        return result

    async def update_customer(
        self,
        name: str,
        *,
        reseller: str | None = UNSET,
        package: Mapping[Any, int] | None = None,
        renewal: date | None = UNSET,
        dry_run: bool = False,
    ) -> ChangeResult[dict[str, Any]]:
        """Change a customer record (reseller, package, renewal), journalled with the acting
        identity; the site admin moves a customer, its reseller changes the rest."""
        return await Records(self).update_customer(
            name, reseller=reseller, package=package, renewal=renewal, dry_run=dry_run
        )

    async def remove_customer(
        self, name: str, *, terminating: bool = False, dry_run: bool = False
    ) -> ChangeResult[dict[str, Any]]:
        """Forget a customer record, journalled; refused while it still has mailboxes
        (unless ``terminating``: a termination removes them)."""
        return await Records(self).remove_customer(name, terminating=terminating, dry_run=dry_run)

    async def update_reseller(
        self,
        name: str,
        *,
        instance: str | None = UNSET,
        prepaid: bool | None = None,
        may_oversell: bool | None = None,
        package: Mapping[Any, int] | None = None,
        renewal: date | None = UNSET,
        dry_run: bool = False,
    ) -> ChangeResult[dict[str, Any]]:
        """Change a reseller record (the site admin's), journalled."""
        return await Records(self).update_reseller(
            name,
            instance=instance,
            prepaid=prepaid,
            may_oversell=may_oversell,
            package=package,
            renewal=renewal,
            dry_run=dry_run,
        )

    async def remove_reseller(
        self, name: str, *, dry_run: bool = False
    ) -> ChangeResult[dict[str, Any]]:
        """Forget a reseller record (the site admin's), journalled; refused while it still
        has customers."""
        return await Records(self).remove_reseller(name, dry_run=dry_run)

    def allocation_use(self, counts: MailboxCount) -> list[AllocationUse]:
        """Allocations mailadmin keeps for a tenant, against the use in ``counts``."""
        provider, tenant = self.provider_for(counts.tenant)
        rows = []
        for addon in sorted(KEPT_ADDONS):
            if provider.instance_capabilities.supports(f"addon:{addon}"):
                continue
            bought = self.allocations.get(provider.instance, tenant.name, addon)
            if bought is not None:
                rows.append(
                    AllocationUse(
                        instance=provider.instance,
                        tenant=tenant.name,
                        addon=addon,
                        allocated=bought,
                        used=used_by(addon, counts),
                    )
                )
        return rows

    # -- bulk -----------------------------------------------------------------------------------

    async def set_plans(
        self,
        changes: Iterable[tuple[str, str]],
        *,
        dry_run: bool = False,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[ChangeResult[str]]:
        """Put many mailboxes on plans: ``[("anna@example.com", "sync"), ...]``.

        A run of the run service (:attr:`runs`): the whole batch is checked before the
        first item is sent, and journalled (every item), so one cut short can be finished
        by :meth:`resume` (``run=result.run_id``). ``distributed`` (default: ``[worker]
        distributed``) runs it on the workers instead (docs/scaling.md) and waits for it;
        :meth:`submit_run` returns at once.
        """
        items = [{"mailbox": address, "plan": plan} for address, plan in changes]
        return await self.runs.run(
            "set_plan",
            items,
            dry_run=dry_run,
            concurrency=concurrency,
            on_error=on_error,
            progress=progress,
            distributed=distributed,
        )

    async def resume(
        self,
        *,
        run: str | None = None,
        concurrency: int = 8,
        progress: Progress | None = None,
    ) -> BulkResult[ChangeResult[Any]]:
        """Settle what the journal leaves open (see :meth:`RunService.resume`): every
        write without a final outcome is completed from the platform's current state, and
        the items of a bulk run cut short that never started are run. Safe to run twice;
        ``run`` limits it to one bulk run."""
        return await self.runs.resume(run=run, concurrency=concurrency, progress=progress)

    # -- distributed runs (docs/scaling.md) -------------------------------------------------

    async def submit_run(self, operation: str, items: list[dict[str, Any]]) -> str:
        """Split a bulk run (``"set_plan"``: ``{"mailbox", "plan"}`` items;
        ``"apply_addon"``: ``{"tenant", "addon", "quantity"}``; ``"sell"``, ``"count"``:
        see :mod:`mailadmin.orchestration.run_items`) into jobs for the workers: its items
        and its jobs are committed in one transaction. Returns the run id at once.
        Refuses with ConfigurationError when the store is not PostgreSQL."""
        return await self.runs.submit(operation, items)

    async def follow_run(
        self,
        run_id: str,
        *,
        progress: Progress | None = None,
        on_error: OnError = "collect",
        timeout: float | None = None,
    ) -> BulkResult[Any]:
        """Wait for a distributed run to end; its per-item results in input order."""
        return await self.runs.follow(run_id, progress=progress, on_error=on_error, timeout=timeout)

    async def resume_entry(self, entry: JournalEntry) -> ChangeResult[Any]:
        """Settle one open journal row from the platform's current state (what
        :meth:`resume` does per row): apply what is missing, complete that row."""
        return await self._resume_one(entry)

    async def _resume_one(self, entry: JournalEntry) -> ChangeResult[Any]:
        from mailadmin.orchestration.superseded import settle_superseded

        if self.journal is not None:  # a newer settled change of the subject wins
            superseded = await settle_superseded(self.journal, entry)
            if superseded is not None:
                return superseded
        if entry.operation == "create_mailbox":
            return await self._resume_create(entry)
        if entry.operation == "delete_mailbox":
            return await self._resume_delete(entry)
        if entry.operation in RECORD_OPERATIONS:
            return await Records(self).resume(entry)
        if entry.operation == "set_password":
            error = errors.ValidationError(
                f"The password of {entry.subject} may or may not have been set: the journal "
                "never stores a password, so resume cannot repeat it; set it again",
                debug={"verified": {"applied": [], "state": None}},
            )
            await self._settle(entry, error)
            raise error
        if entry.operation == "reconcile_import":
            # Its records are absolute: the import found again is the way to complete it.
            error = errors.ValidationError(
                "An import of reconcile was interrupted: run 'mailadmin reconcile --import' "
                "again (it records absolute values, so a repeat is harmless)",
                debug={"verified": {"applied": [], "state": None}},
            )
            await self._settle(entry, error)
            raise error
        if entry.operation in _RESUMED_BY_PIPELINE or entry.operation in SETTINGS:
            result: ChangeResult[Any] = await self.pipeline.run(
                Call(entry.operation, entry.arguments, resuming=entry)
            )
            return result
        raise errors.ValidationError(
            f"Journal record {entry.id} ({entry.operation}) cannot be resumed "
            f"automatically; check {entry.subject} by hand"
        )

    async def _read_back(self, entry: JournalEntry) -> ReadBack:
        """Whether the platform holds the target of an older write (the write fence's
        read-back): a dry run of it, or a look-up for a create or delete; never a write,
        and never through the pipeline (no policy, no journal row)."""
        args = entry.arguments
        try:
            provider = self.provider(entry.instance)
            if entry.operation in ("create_mailbox", "delete_mailbox"):
                # A create names its tenant; a delete's mailbox reference carries it.
                tenant = TenantRef.model_validate(args.get("tenant") or args["mailbox"]["tenant"])
                found = await _find_mailbox(provider, tenant, str(args["mailbox"]["address"]))
                exists = found is not None
                landed = exists if entry.operation == "create_mailbox" else not exists
                return ReadBack(landed, found)
            result: ChangeResult[Any]
            if entry.operation == "set_plan":
                ref = MailboxRef.model_validate(args["mailbox"])
                result = await provider.set_plan(ref, str(args["plan"]), dry_run=True)
            elif entry.operation in SETTINGS:
                ref = MailboxRef.model_validate(args["mailbox"])
                result = await getattr(provider, entry.operation)(ref, args["value"], dry_run=True)
            elif entry.operation in ("suspend_mailbox", "resume_mailbox"):
                ref = MailboxRef.model_validate(args["mailbox"])
                result = await getattr(provider, entry.operation)(ref, dry_run=True)
            elif entry.operation in ("suspend_tenant", "resume_tenant", "delete_tenant"):
                tenant = TenantRef.model_validate(args["tenant"])
                result = await getattr(provider, entry.operation)(tenant, dry_run=True)
            elif entry.operation == "create_tenant":
                tenant = TenantRef.model_validate(args["tenant"])
                limit = args.get("max_mailboxes")
                result = await provider.create_tenant(
                    tenant, plan=args.get("plan"), max_mailboxes=limit, dry_run=True
                )
            elif entry.operation == "apply_addon":
                tenant = TenantRef.model_validate(args["tenant"])
                addon = AddonRef.model_validate(args["addon"])
                quantity = int(args["quantity"])
                kept = addon.name in KEPT_ADDONS and addon.plan is None
                if kept and not provider.instance_capabilities.supports(f"addon:{addon.name}"):
                    store = await asyncio.to_thread(lambda: self.allocations)
                    held = await asyncio.to_thread(
                        store.get, provider.instance, tenant.name, addon.name
                    )
                    return ReadBack(held == quantity, held)
                result = await provider.apply_addon(tenant, addon, quantity, dry_run=True)
            else:
                return ReadBack(None)
            return ReadBack(result.outcome is Outcome.UNCHANGED, result.before)
        except errors.MailadminError:
            return ReadBack(None)  # cannot tell; the horizon still bounds the wait

    async def _resume_create(self, entry: JournalEntry) -> ChangeResult[Any]:
        """Settle an open ``create_mailbox`` row from what the platform holds.

        The mailbox exists: the create landed, the row completes as ``changed`` with the
        mailbox read. It does not: the create is sent again when the journal holds all it
        needs; a password is never stored (the journal keeps it masked), so a create that
        carried one cannot be repeated without inventing another: the row fails, saying
        the mailbox was not created."""
        tenant = TenantRef.model_validate(entry.arguments["tenant"])
        wanted = dict(entry.arguments["mailbox"])
        provider = self.provider(entry.instance)
        found = await _find_mailbox(provider, tenant, str(wanted["address"]))
        if found is not None:
            note = "resumed: the mailbox exists, so the interrupted create landed"
            result = ChangeResult[Any](
                operation="create_mailbox",
                subject=found.address,
                outcome=Outcome.CHANGED,
                before=None,
                after=found,
                note=note,
            )
            await self._settle(entry, result)
            return result
        if wanted.get("password") is not None:
            error = errors.ValidationError(
                f"{wanted['address']} was not created: the interrupted create carried a "
                "password, which the journal never stores, so resume cannot repeat it; "
                "create the mailbox again with its password",
                debug={"verified": {"applied": [], "state": None}},
            )
            await self._settle(entry, error)
            raise error
        created: ChangeResult[Any] = await self.pipeline.run(
            Call("create_mailbox", {"mailbox": wanted}, resuming=entry)
        )
        return created

    async def _resume_delete(self, entry: JournalEntry) -> ChangeResult[Any]:
        """Settle an open ``delete_mailbox`` row: gone already completes it as ``changed``
        (the delete landed); still there is deleted again."""
        ref = MailboxRef.model_validate(entry.arguments["mailbox"])
        provider = self.provider(entry.instance)
        if await _find_mailbox(provider, ref.tenant, ref.address) is not None:
            deleted: ChangeResult[Any] = await self.pipeline.run(
                Call("delete_mailbox", {}, resuming=entry)
            )
            return deleted
        before = entry.state_before if isinstance(entry.state_before, dict) else None
        result = ChangeResult[Any](
            operation="delete_mailbox",
            subject=ref.address,
            outcome=Outcome.CHANGED,
            before=before,
            after=None,
            note="resumed: the mailbox is gone, so the interrupted delete landed",
        )
        await self._settle(entry, result)
        return result

    async def _settle(
        self, entry: JournalEntry, end: ChangeResult[Any] | errors.MailadminError
    ) -> None:
        """Complete a resumed row with what resume found, without a provider call."""
        journal = self.journal
        assert journal is not None  # resume needs one
        resumed = entry.outcome or entry.status
        if isinstance(end, errors.MailadminError):
            await journal.write(journal.failure(entry.call_id, end, resumed=resumed))
        else:
            await journal.write(journal.success(entry.call_id, end, resumed=resumed))

    async def count_all(
        self,
        tenants: Iterable[str] | None = None,
        *,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[MailboxCount]:
        """Count the mailboxes of many tenants (default: every configured tenant).

        ``distributed`` (default: ``[worker] distributed``) counts them on the workers."""
        # Without a list, the tenants the acting identity reaches (a reseller counts its
        # customers); a list naming one it does not reach is refused for that one.
        names = list(tenants) if tenants is not None else self.reachable_tenants()
        return await self.runs.run(
            "count",
            [{"tenant": name} for name in names],
            concurrency=concurrency,
            on_error=on_error,
            progress=progress,
            distributed=distributed,
        )

    async def apply_addons(
        self,
        allocations: Iterable[tuple[str, str, int]],
        *,
        dry_run: bool = False,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[ChangeResult[int]]:
        """Set add-on totals for many tenants: ``[("example.com", "shared_mailbox", 5)]``.

        ``distributed`` (default: ``[worker] distributed``) runs them on the workers."""
        items = [{"tenant": t, "addon": a, "quantity": q} for t, a, q in allocations]
        return await self.runs.run(
            "apply_addon",
            items,
            dry_run=dry_run,
            concurrency=concurrency,
            on_error=on_error,
            progress=progress,
            distributed=distributed,
        )

    async def licences(
        self, *, concurrency: int = 8, progress: Progress | None = None
    ) -> BulkResult[Licence]:
        """The licence of every instance."""
        return await run_bulk(
            ((name, _bind(self.get_licence, name)) for name in self.instances),
            concurrency=concurrency,
            progress=progress,
        )

    async def check(self, *, progress: Progress | None = None) -> BulkResult[ConnectionStatus]:
        """Test the connection of every instance."""
        return await run_bulk(
            ((name, _bind(self.test_connection, name)) for name in self.instances),
            progress=progress,
        )

    # -- what the ports of rules/ ask for (rules.sales.SalesPort) ----------------------------

    @property
    def tenancy(self) -> Tenancy:
        """Resellers, customers, allocations and sales (the store's tenancy tables)."""
        return self.rules.tenancy

    def acting(self) -> Identity:
        """The identity the current call acts as."""
        return self.rules.acting()

    def holds_limit(self, tenant: str, addon: str) -> bool:
        """Whether a limit of ``addon`` for ``tenant`` is set by its platform or kept by
        mailadmin (False: mailadmin's allocation alone is enforced, on creation)."""
        if self.config.addons and addon not in self.config.addons:
            return False  # the catalogue does not sell it on the platforms
        provider, _ = self.provider_for(tenant)
        supported = provider.instance_capabilities.supports(f"addon:{addon}")
        return supported or addon in KEPT_ADDONS

    def addon_value(self, addon: str) -> int:
        """What one of ``addon`` grants: its catalogue ``value`` (seed 003's first field),
        a reseller's copy (``shared_mailbox@acme``) as its original; 1 when not in it."""
        spec = self.config.addons.get(addon.partition("@")[0])
        return spec.value if spec is not None else 1

    async def count_as_system(self, tenant: str) -> MailboxCount:
        """Count a tenant's mailboxes whoever is acting (a rule reading the use it checks)."""
        counts: MailboxCount = await self.rules.as_system(lambda: self.count_mailboxes(tenant))
        return counts

    # -- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every provider's connections and the journal."""
        await self.runs.aclose()
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
        if self.journal is not None:
            self.journal.close()

    async def __aenter__(self) -> Orchestrator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


#: The largest quantity every platform stores (a signed 32-bit integer).
async def _find_mailbox(provider: Provider, tenant: TenantRef, address: str) -> Mailbox | None:
    """The mailbox of ``tenant`` at ``address`` as the platform lists it now, if any."""
    wanted = address.strip().lower()
    for mailbox in await provider.list_mailboxes(tenant):
        if mailbox.address.lower() == wanted:
            return mailbox
    return None


def _bind(function: Any, *args: Any, **kwargs: Any) -> Any:
    # A named closure per item: a lambda in a generator would capture the loop variable.
    def call() -> Any:
        return function(*args, **kwargs)

    return call
