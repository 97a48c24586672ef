"""The orchestration layer: one entry point for hosting tools.

``Orchestrator`` owns the provider instances named in the configuration, routes each call
to the one provider that owns the tenant, validates input against the catalogue, offers
bulk forms and records every write in the journal. Every write takes ``dry_run=True`` to
report what would change without sending any write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.contract.calls import SUBJECT_LOCKS, AsyncCallHooks, run_call, subject_key
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
    TenantRef,
)
from mailadmin.contract.provider import CallHooks, CallInfo, Provider
from mailadmin.orchestration.bulk import BulkError, BulkResult, OnError, Progress, run_bulk
from mailadmin.orchestration.config import Config, UnknownTenant
from mailadmin.orchestration.fence import Probe, ReadBack
from mailadmin.rules.allocations import (
    KEPT_ADDONS,
    Allocations,
    AllocationUse,
    addon_for_kind,
    used_by,
)
from mailadmin.rules.gate import ActingView, BusinessRules
from mailadmin.rules.identities import unknown_tenant

if TYPE_CHECKING:
    import httpx

    from mailadmin.contract.change import Change
    from mailadmin.orchestration.registry import Registry
    from mailadmin.rules.identities import Identity
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = ["Orchestrator"]


#: The journal row a resume is settling: its calls complete that row, not a new one.
_RESUMING: ContextVar[JournalEntry | None] = ContextVar("mailadmin_resuming", default=None)
#: True while the write fence reads an older write back: no gate, no journal row.
_PROBING: ContextVar[bool] = ContextVar("mailadmin_probing", default=False)


class _JournalHooks(AsyncCallHooks):
    """Runs the business-rules gate and the plugins' hooks and records writes in the
    journal, off the event loop.

    A write's intent is journalled (committed) before the platform is touched, the state
    it read just before the write is sent, and its outcome after; one that a policy hook
    refuses is journalled as ``refused`` with the reason (the gate journals its own
    refusals, of reads too). During a resume the calls complete the row being resumed.
    """

    def __init__(
        self,
        inner: CallHooks,
        journal: Journal | None,
        gate: BusinessRules | None = None,
        probe: Probe | None = None,
    ) -> None:
        self._inner = inner
        self._journal = journal
        self._gate = gate
        self._probe = probe

    def _identity(self) -> str | None:
        return str(self._gate.acting()) if self._gate is not None else None

    def _row(self, call: CallInfo) -> tuple[str, str | None]:
        """The call id of the row to complete, and the outcome a resume settles."""
        resuming = _RESUMING.get()
        if resuming is None:
            return call.call_id, None
        return resuming.call_id, resuming.outcome or resuming.status

    # The blocking forms, for a caller that cannot await; run_call uses the async ones.
    def before(self, provider: Provider, call: CallInfo) -> None:
        resuming = _RESUMING.get() is not None
        if self._gate is not None and not resuming:
            self._gate.check_call(provider, call)
        journal = self._journal if call.is_write and not resuming else None
        try:
            self._inner.before(provider, call)
        except errors.MailadminError as refusal:
            if journal is not None:
                journal.refused(call, refusal, identity=self._identity())
            raise
        if journal is not None:
            journal.started(call, identity=self._identity())

    def after(self, provider: Provider, call: CallInfo, result: object) -> None:
        if self._journal is not None and call.is_write:
            row, resumed = self._row(call)
            self._journal.write_now(self._journal.success(row, result, resumed=resumed))
        self._inner.after(provider, call, result)

    def error(self, provider: Provider, call: CallInfo, error: errors.MailadminError) -> None:
        if self._journal is not None and call.is_write:
            row, resumed = self._row(call)
            self._journal.write_now(self._journal.failure(row, error, resumed=resumed))
        self._inner.error(provider, call, error)

    async def abefore(self, provider: Provider, call: CallInfo) -> None:
        if _PROBING.get():
            return
        resuming = _RESUMING.get() is not None
        if self._gate is not None and not resuming:
            await self._gate.acheck_call(provider, call)
        journal = self._journal if call.is_write and not resuming else None
        try:
            self._inner.before(provider, call)
        except errors.MailadminError as refusal:
            if journal is not None:
                await journal.write(journal.refusal(call, refusal, identity=self._identity()))
            raise
        if journal is not None:
            fencing = self._probe is not None and not call.dry_run
            older: list[JournalEntry] | None = [] if fencing else None
            await journal.write(journal.intent(call, identity=self._identity(), unsettled=older))
            if fencing and older:
                from mailadmin.orchestration.fence import hold_fence

                assert self._probe is not None
                try:
                    await hold_fence(journal, provider, call, self._probe, older)
                except errors.MailadminError as refused:
                    await journal.write(journal.failure(call.call_id, refused))
                    raise

    async def asending(self, provider: Provider, call: CallInfo, change: Change[Any]) -> None:
        if self._journal is not None:
            await self._journal.write(self._journal.sending(self._row(call)[0], change))

    async def aafter(self, provider: Provider, call: CallInfo, result: object) -> None:
        if _PROBING.get():
            return
        if self._journal is not None and call.is_write:
            row, resumed = self._row(call)
            await self._journal.write(self._journal.success(row, result, resumed=resumed))
        self._inner.after(provider, call, result)

    async def aerror(
        self, provider: Provider, call: CallInfo, error: errors.MailadminError
    ) -> None:
        if _PROBING.get():
            return
        if self._journal is not None and call.is_write:
            row, resumed = self._row(call)
            await self._journal.write(self._journal.failure(row, error, resumed=resumed))
        self._inner.error(provider, call, error)


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
    ) -> None:
        self.config = config
        if registry is None:
            from mailadmin.orchestration.registry import get_registry

            registry = get_registry()
        self.registry = registry
        self.journal = self._open_journal(journal)
        self._http = dict(http or {})
        self._providers: dict[str, Provider] = {}
        #: Tenancy, identities and policies; ``identity`` is who calls by default.
        self.rules = BusinessRules(self, identity)
        self._hooks = _JournalHooks(
            registry.hooks, self.journal, gate=self.rules, probe=self._read_back
        )
        self._allocations: Allocations | None = None

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> Orchestrator:
        """Build from a TOML configuration file."""
        return cls(Config.load(path), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> Orchestrator:
        """Build from an already parsed configuration."""
        return cls(Config.from_dict(data), **kwargs)

    def _open_journal(self, journal: Journal | bool | None) -> Journal | None:
        if journal is True:
            url = self.config.journal.url
            if url is None:
                return None
            from mailadmin.store.journal import Journal

            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                url = "sqlite:///" + str(self.config.base_dir / url.removeprefix("sqlite:///"))
            return Journal(url)
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
        _require_text(tenant, "tenant", TenantRef)
        name = tenant.name if isinstance(tenant, TenantRef) else tenant
        try:
            ref = self.config.tenant_ref(name)
        except UnknownTenant as exc:  # told as a tenant out of reach, but to the site admin
            raise unknown_tenant(self.rules.acting(), exc.name, exc) from None
        return self.provider(self.config.tenants[ref.name].instance), ref

    def mailbox(self, address: str | MailboxRef) -> tuple[Provider, MailboxRef]:
        """The provider that owns a mailbox, and the mailbox's reference."""
        _require_text(address, "mailbox address", MailboxRef)
        text = address.address if isinstance(address, MailboxRef) else address
        try:
            tenant = self.config.tenant_of_address(text.strip())
        except UnknownTenant as exc:
            acting = self.rules.acting()
            raise unknown_tenant(acting, exc.name, exc, mailbox=text.strip()) from None
        provider, ref = self.provider_for(tenant)
        try:
            return provider, MailboxRef(tenant=ref, address=text)
        except ValueError:
            raise errors.ValidationError(f"'{text}' is not a mail address") from None

    def _check_plan(self, plan: str) -> str:
        _require_text(plan, "plan")
        plan = plan.strip().lower()
        if self.config.plans and plan not in self.config.plans:
            known = ", ".join(self.config.plans)
            raise errors.ValidationError(f"Unknown plan '{plan}' (catalogue: {known})")
        return plan

    def _check_addon(self, addon: str | AddonRef) -> AddonRef:
        _require_text(addon, "add-on", AddonRef)
        try:
            ref = AddonRef.parse(addon) if isinstance(addon, str) else addon
        except ValueError:
            raise errors.ValidationError(f"'{addon}' is not a valid add-on name") from None
        if self.config.addons and ref.name not in self.config.addons:
            known = ", ".join(self.config.addons)
            raise errors.ValidationError(f"Unknown add-on '{ref.name}' (catalogue: {known})")
        if ref.plan is not None:
            self._check_plan(ref.plan)
        return ref

    # -- single calls ---------------------------------------------------------------------------

    async def set_plan(
        self, mailbox: str | MailboxRef, plan: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Put one mailbox on a neutral plan."""
        plan = self._check_plan(plan)
        provider, ref = self.mailbox(mailbox)
        await self.rules.before_set_plan(provider, ref, plan, dry_run)
        with _naming(ref):
            result = await provider.set_plan(ref, plan, dry_run=dry_run)
        if result.changed and result.before == result.after and not result.note:
            # The plan stays; only what it sets (the quota) moves to the catalogue's value.
            result = result.model_copy(update={"note": "quota only: the plan stays the same"})
        return self.rules.after_set_plan(result)

    async def count_mailboxes(self, tenant: str | TenantRef) -> MailboxCount:
        """Mailboxes of a tenant by kind and plan, counted live.

        The count is stored as the tenant's use (``rules.use``) that allocation checks
        compare against, so every count (``count_all``, the ``usage`` report) refreshes it.
        """
        provider, ref = self.provider_for(tenant)
        # Under the tenant's lock: a creation finishing between the read and the store
        # would otherwise have its +1 overwritten by a count taken before it.
        async with SUBJECT_LOCKS.hold(_limits(provider, ref)):
            counts = await provider.count_mailboxes(ref)
            await self.rules.use.refresh(
                provider.instance, counts.model_copy(update={"tenant": ref.name})
            )
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
        ref_addon = self._check_addon(addon)
        _check_quantity(quantity)
        provider, ref = self.provider_for(tenant)
        kept = ref_addon.name in KEPT_ADDONS and ref_addon.plan is None
        if kept and not provider.instance_capabilities.supports(f"addon:{ref_addon.name}"):
            return await self._keep_allocation(provider, ref, ref_addon, quantity, dry_run)
        result = await provider.apply_addon(ref, ref_addon, quantity, dry_run=dry_run)
        # One subject for every add-on result, kept or platform-held: tenant and add-on.
        return result.model_copy(update={"subject": f"{ref.name} {ref_addon}"})

    async def _keep_allocation(
        self, provider: Provider, tenant: TenantRef, addon: AddonRef, quantity: int, dry_run: bool
    ) -> ChangeResult[int]:
        # The provider's own call path (hooks, policy, journal, subject lock); only the
        # write itself differs: it lands in mailadmin's table instead of the platform.
        arguments = {"tenant": tenant, "addon": addon, "quantity": quantity}
        call = CallInfo(provider.instance, provider.name, "apply_addon", arguments, dry_run)

        async def keep() -> ChangeResult[int]:
            store = await asyncio.to_thread(lambda: self.allocations)
            before = await asyncio.to_thread(store.get, provider.instance, tenant.name, addon.name)
            if before != quantity and not dry_run:
                await asyncio.to_thread(
                    store.set, provider.instance, tenant.name, addon.name, quantity
                )
            return ChangeResult[int](
                operation="apply_addon",
                subject=f"{tenant.name} {addon}",
                outcome=Outcome.UNCHANGED if before == quantity else Outcome.CHANGED,
                before=before,
                after=quantity,
                dry_run=dry_run,
            )

        return await run_call(provider, call, keep)

    async def get_licence(self, instance: str) -> Licence:
        """The licence of one provider instance."""
        _require_text(instance, "instance")
        return await self.provider(instance).get_licence()

    async def test_connection(self, instance: str) -> ConnectionStatus:
        """Check one instance answers and accepts its credentials."""
        return await self.provider(instance).test_connection()

    async def list_plans(self, instance: str) -> list[NativePlan]:
        """The native plan catalogue of one instance."""
        return await self.provider(instance).list_plans()

    async def list_mailboxes(self, tenant: str | TenantRef) -> list[Mailbox]:
        """Every mailbox of a tenant."""
        provider, ref = self.provider_for(tenant)
        return await provider.list_mailboxes(ref)

    async def create_mailbox(
        self, tenant: str | TenantRef, mailbox: NewMailbox, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """Create a mailbox of any kind the provider supports.

        Refused before any request when it would pass the customer's allocation
        (``PolicyDenied``) or, for a shared, room or equipment mailbox, an allocation that
        mailadmin keeps for the platform (``QuotaExceeded``). Both compare against the use
        kept in the store (``rules.use``); only the first check of a never-counted tenant
        reads its count, once.
        """
        if not isinstance(mailbox, NewMailbox):
            raise errors.ValidationError("The new mailbox must be a NewMailbox")
        if mailbox.plan is not None:
            self._check_plan(mailbox.plan)
        provider, ref = self.provider_for(tenant)
        self.config.check_address_of(ref, mailbox.address)  # the address is the tenant's
        addon = addon_for_kind(mailbox.kind)
        kept = addon is not None and not provider.instance_capabilities.supports(f"addon:{addon}")
        # Check, create and record the use under the tenant's limits lock: two creations
        # racing for the last one, an allocation lowered or a count taken meanwhile,
        # cannot interleave with it.
        async with SUBJECT_LOCKS.hold(_limits(provider, ref)):
            await self.rules.before_create_mailbox(provider, ref, mailbox, dry_run)
            if kept and addon is not None:
                await self._check_kept_allocation(provider, ref, addon)
            await self.rules.check_licence(provider, ref, mailbox, dry_run)
            return await self._create(provider, ref, mailbox, dry_run)

    async def _create(
        self, provider: Provider, tenant: TenantRef, mailbox: NewMailbox, dry_run: bool
    ) -> ChangeResult[Mailbox]:
        use = self.rules.use
        try:
            result = await provider.create_mailbox(tenant, mailbox, dry_run=dry_run)
        except (errors.OutcomeUnknown, errors.PartialChange):
            # The mailbox may exist: count it, so an unsettled creation never lets one more
            # past the allocation; the next live count corrects an over-count.
            await use.created(provider.instance, tenant.name, mailbox.kind)
            raise
        # ``accepted`` (finished later by the platform) counts too, for the same reason.
        if not result.dry_run and result.outcome is not Outcome.UNCHANGED:
            await use.created(provider.instance, tenant.name, mailbox.kind)
        return result

    async def _check_kept_allocation(
        self, provider: Provider, tenant: TenantRef, addon: str
    ) -> None:
        from mailadmin.rules.tenancy import resource_of_addon

        store = await asyncio.to_thread(lambda: self.allocations)
        bought = await asyncio.to_thread(store.get, provider.instance, tenant.name, addon)
        resource = resource_of_addon(addon)
        if bought is None or resource is None:
            return
        used = (await self.rules.use.current(provider, tenant))[resource]
        if used >= bought:
            what = (
                "shared mailboxes" if addon == "shared_mailbox" else "room and equipment mailboxes"
            )
            raise errors.QuotaExceeded(
                f"{tenant.name} uses all {bought} {what} it has bought (in use: {used}); "
                f"raise the '{addon}' add-on to create more"
            )

    async def delete_mailbox(
        self, mailbox: str | MailboxRef, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """Delete a mailbox; the tenant's kept use goes down by one once it is gone."""
        provider, ref = self.mailbox(mailbox)
        async with SUBJECT_LOCKS.hold(_limits(provider, ref.tenant)):
            with _naming(ref):
                result = await provider.delete_mailbox(ref, dry_run=dry_run)
            # Only a deletion seen done frees a slot: one accepted or unknown may still
            # fail, and counting a mailbox that is gone is the safe side until a count.
            if not result.dry_run and result.outcome is Outcome.CHANGED:
                kind = result.before.kind if result.before is not None else None
                await self.rules.use.deleted(provider.instance, ref.tenant.name, kind)
        return result

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

        The run is journalled as a whole (every item, before the first is sent), so one cut
        short can be finished by :meth:`resume` (``run=result.run_id``). ``distributed``
        (default: ``[worker] distributed``) runs it on the workers instead
        (docs/scaling.md) and waits for it; :meth:`submit_run` returns at once.
        """
        from mailadmin.store.journal import run_scope

        items = [(address, plan) for address, plan in changes]
        if self._distributed(distributed, dry_run):
            run_id = await self.submit_run(
                "set_plan", [{"mailbox": a, "plan": p} for a, p in items]
            )
            return await self.follow_run(run_id, progress=progress, on_error=on_error)
        journal = self.journal if not dry_run else None
        run_id = await self.start_run("set_plan", items, dry_run=dry_run)
        with run_scope(run_id):
            try:
                result = await run_bulk(
                    (
                        (address, _bind(self.set_plan, address, plan, dry_run=dry_run))
                        for address, plan in items
                    ),
                    concurrency=concurrency,
                    on_error=on_error,
                    progress=progress,
                )
            except BulkError:
                if journal is not None:  # every item ran; some failed
                    await journal.write(journal.run_finished(run_id))
                raise
            if journal is not None:
                await journal.write(journal.run_finished(run_id))
        return result.model_copy(update={"run_id": run_id})

    async def start_run(
        self, operation: str, items: Sequence[Sequence[Any]], *, dry_run: bool = False
    ) -> str:
        """Journal the plan of a bulk run (every item, before the first is sent) and return
        its id; run the items inside ``run_scope(id)`` and call :meth:`finish_run` when
        every item was seen through (a run left unfinished is completed by :meth:`resume`).
        ``set_plan`` runs (``(address, plan)`` items) and ``apply_addon`` runs
        (``(tenant, add-on, quantity)`` items) are resumed as a whole."""
        import uuid

        run_id = uuid.uuid4().hex[:16]
        if self.journal is not None and not dry_run:
            planned = [list(item) for item in items]
            identity = str(self.rules.acting())
            await self.journal.write(
                self.journal.run_planned(run_id, operation, planned, identity=identity)
            )
        return run_id

    async def finish_run(self, run_id: str) -> None:
        """Mark a bulk run as seen through (see :meth:`start_run`)."""
        if self.journal is not None:
            await self.journal.write(self.journal.run_finished(run_id))

    async def resume(
        self,
        *,
        run: str | None = None,
        concurrency: int = 8,
        progress: Progress | None = None,
    ) -> BulkResult[ChangeResult[Any]]:
        """Settle what the journal leaves open: every write without a final outcome
        (``started``, ``partial``, ``unknown``) is completed from the platform's current
        state (writes are absolute: one already there is marked ``unchanged``, a missing
        one is applied), and the items of a bulk run cut short that never started are
        run. Each completes its own journal row (``resumed`` says when, ``resumed_from``
        what it was). Safe to run twice; ``run`` limits it to one bulk run.

        Run it when the process that made the writes is gone: the subject locks that keep
        two writes to one mailbox apart live in one process.
        """
        journal = self.journal
        if journal is None:
            raise errors.ConfigurationError("No journal is configured ([journal] url is unset)")
        rows = await journal.run(journal.entries, 10**9, run=run, open_only=True, oldest_first=True)
        runs = await journal.run(journal.unfinished_runs, run)
        if run is not None and not runs and not rows:
            known = await journal.run(journal.entries, 1, run=run)
            if not known:
                raise errors.NotFoundError(f"The journal has no run '{run}'")
        # Several open rows of one subject settle newest first, one after another: once
        # the newest is settled the older ones are superseded by it (never replayed over
        # it); when it fails, the older ones stay open rather than undo it.
        by_subject: dict[str, list[JournalEntry]] = {}
        for row in rows:
            by_subject.setdefault(f"{row.instance}|{row.subject.lower()}", []).append(row)

        async def settle(entries: list[JournalEntry]) -> ChangeResult[Any]:
            result: ChangeResult[Any] | None = None
            failure: errors.MailadminError | None = None
            for entry in reversed(entries):
                try:
                    settled = await self._resume_one(entry)
                except errors.MailadminError as exc:
                    failure = exc
                    break
                result = result or settled
            if failure is not None:
                raise failure
            assert result is not None
            return result

        work: list[tuple[str, Any]] = [
            (
                f"{entries[-1].subject} (journal {', '.join(str(e.id) for e in entries)})",
                _bind(settle, entries),
            )
            for entries in by_subject.values()
        ]
        finishing: list[str] = []
        for run_id, operation, items in runs:
            if operation not in ("set_plan", "apply_addon"):
                continue
            started = await journal.run(journal.run_subjects, run_id)
            finishing.append(run_id)
            for item in items:
                # The journal's subject of the item, and the key its result goes under.
                if operation == "set_plan":
                    subject = key = str(item[0])
                    call = _bind(self._resume_item, run_id, item[0], item[1])
                else:
                    subject, key = f"{item[0]} {item[1]}", f"{item[0]}:{item[1]}"
                    call = _bind(self._resume_addon, run_id, item[0], item[1], int(item[2]))
                if subject.lower() in started:
                    continue
                started.add(subject.lower())
                work.append((key, call))
        result = await run_bulk(work, concurrency=concurrency, progress=progress)
        for run_id in finishing:
            await journal.write(journal.run_finished(run_id))
        return result

    # -- distributed runs (docs/scaling.md) -------------------------------------------------

    def _distributed(self, distributed: bool | None, dry_run: bool) -> bool:
        # A dry run sends no write: it runs in-process, where its answers are printed.
        chosen = self.config.worker.distributed if distributed is None else distributed
        return bool(chosen) and not dry_run

    async def submit_run(self, operation: str, items: list[dict[str, Any]]) -> str:
        """Split a bulk run (``"set_plan"``: ``{"mailbox", "plan"}`` items;
        ``"apply_addon"``: ``{"tenant", "addon", "quantity"}``; ``"sell"``, ``"count"``:
        see :mod:`mailadmin.worker.operations`) into jobs for the workers:
        its items and its jobs are committed in one transaction. Returns the run id at
        once. Refuses with ConfigurationError when the store is not PostgreSQL."""
        from mailadmin.worker.runs import require_distributed

        require_distributed(self)
        from mailadmin.worker.engine import submit

        identity = str(self.rules.acting())
        return await asyncio.to_thread(submit, self, operation, items, identity=identity)

    async def follow_run(
        self,
        run_id: str,
        *,
        progress: Progress | None = None,
        on_error: OnError = "collect",
        timeout: float | None = None,
    ) -> BulkResult[Any]:
        """Wait for a distributed run to end; its per-item results in input order."""
        from mailadmin.orchestration.bulk import ItemError, ItemResult
        from mailadmin.worker.engine import follow
        from mailadmin.worker.operations import item_key, item_value
        from mailadmin.worker.runs import item_states, require_distributed

        engine = require_distributed(self)
        status = await follow(engine, run_id, progress=progress, timeout=timeout)
        rows = await asyncio.to_thread(item_states, engine, run_id)
        items: list[ItemResult[Any]] = []
        for row in rows:
            # The same keys and values as the in-process forms.
            key = item_key(row["item"])
            value = None if row["result"] is None else item_value(status.operation, row["result"])
            if row["state"] == "done":
                items.append(ItemResult[Any](key=key, value=value))
            else:
                code = row["error_code"] or row["state"]
                message = row["error_message"] or row["state"]
                # A failed sale keeps its record (who, what, why) beside the error.
                error = ItemError(code=code, message=message)
                items.append(ItemResult[Any](key=key, value=value, error=error))
        failed = sum(1 for item in items if not item.ok)
        kept = [i for i in items if i.ok] if on_error == "skip" else items
        result = BulkResult[Any](items=kept, failed=failed, run_id=run_id)
        if on_error == "raise" and failed:
            raise BulkError(result)
        return result

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
        args = entry.arguments
        token = _RESUMING.set(entry)
        try:
            if entry.operation == "set_plan":
                provider = self.provider(entry.instance)
                ref = MailboxRef.model_validate(args["mailbox"])
                return await provider.set_plan(ref, str(args["plan"]))
            if entry.operation == "apply_addon":
                tenant = TenantRef.model_validate(args["tenant"])
                addon = AddonRef.model_validate(args["addon"])
                return await self.apply_addon(tenant, addon, int(args["quantity"]))
            if entry.operation == "create_mailbox":
                return await self._resume_create(entry)
            if entry.operation == "delete_mailbox":
                return await self._resume_delete(entry)
            raise errors.ValidationError(
                f"Journal record {entry.id} ({entry.operation}) cannot be resumed "
                f"automatically; check {entry.subject} by hand"
            )
        finally:
            _RESUMING.reset(token)

    async def _read_back(self, entry: JournalEntry) -> ReadBack:
        """Whether the platform holds the target of an older write (the write fence's
        read-back): a dry run of it, or a look-up for a create or delete; never a write."""
        args = entry.arguments
        token = _PROBING.set(True)
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
            elif entry.operation == "apply_addon":
                tenant = TenantRef.model_validate(args["tenant"])
                addon = AddonRef.model_validate(args["addon"])
                result = await self.apply_addon(tenant, addon, int(args["quantity"]), dry_run=True)
            else:
                return ReadBack(None)
            return ReadBack(result.outcome is Outcome.UNCHANGED, result.before)
        except errors.MailadminError:
            return ReadBack(None)  # cannot tell; the horizon still bounds the wait
        finally:
            _PROBING.reset(token)

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
        wanted.pop("password", None)
        return await provider.create_mailbox(tenant, NewMailbox.model_validate(wanted))

    async def _resume_delete(self, entry: JournalEntry) -> ChangeResult[Any]:
        """Settle an open ``delete_mailbox`` row: gone already completes it as ``changed``
        (the delete landed); still there is deleted again."""
        ref = MailboxRef.model_validate(entry.arguments["mailbox"])
        provider = self.provider(entry.instance)
        if await _find_mailbox(provider, ref.tenant, ref.address) is not None:
            return await provider.delete_mailbox(ref)
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

    async def _resume_item(self, run_id: str, address: str, plan: str) -> ChangeResult[str]:
        from mailadmin.store.journal import run_scope

        with run_scope(run_id):
            return await self.set_plan(address, plan)

    async def _resume_addon(
        self, run_id: str, tenant: str, addon: str, quantity: int
    ) -> ChangeResult[int]:
        from mailadmin.store.journal import run_scope

        with run_scope(run_id):
            return await self.apply_addon(tenant, addon, quantity)

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
        names = list(tenants) if tenants is not None else self.tenants
        if self._distributed(distributed, False):
            run_id = await self.submit_run("count", [{"tenant": name} for name in names])
            return await self.follow_run(run_id, progress=progress, on_error=on_error)
        return await run_bulk(
            ((name, _bind(self.count_mailboxes, name)) for name in names),
            concurrency=concurrency,
            on_error=on_error,
            progress=progress,
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
        if self._distributed(distributed, dry_run):
            items: list[dict[str, Any]] = [
                {"tenant": t, "addon": a, "quantity": q} for t, a, q in allocations
            ]
            run_id = await self.submit_run("apply_addon", items)
            return await self.follow_run(run_id, progress=progress, on_error=on_error)
        return await run_bulk(
            (
                (f"{tenant}:{addon}", _bind(self.apply_addon, tenant, addon, qty, dry_run=dry_run))
                for tenant, addon, qty in allocations
            ),
            concurrency=concurrency,
            on_error=on_error,
            progress=progress,
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

    # -- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every provider's connections and the journal."""
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
MAX_QUANTITY = 2**31 - 1


def _limits(provider: Provider, tenant: TenantRef) -> str | None:
    """The key of a tenant's limits lock (the one its add-on writes hold too)."""
    return subject_key(provider.instance, "apply_addon", {"tenant": tenant})


async def _find_mailbox(provider: Provider, tenant: TenantRef, address: str) -> Mailbox | None:
    """The mailbox of ``tenant`` at ``address`` as the platform lists it now, if any."""
    wanted = address.strip().lower()
    for mailbox in await provider.list_mailboxes(tenant):
        if mailbox.address.lower() == wanted:
            return mailbox
    return None


def _require_text(value: object, what: str, model: type | None = None) -> None:
    """Refuse a wrong type at the public entry with a ValidationError, not AttributeError."""
    if isinstance(value, str) or (model is not None and isinstance(value, model)):
        return
    raise errors.ValidationError(f"The {what} must be text, not {type(value).__name__}")


def _check_quantity(quantity: object) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise errors.ValidationError("The add-on quantity must be a whole number")
    if not 0 <= quantity <= MAX_QUANTITY:
        raise errors.ValidationError(
            f"The add-on quantity must be a whole number from 0 to {MAX_QUANTITY}, not {quantity}"
        )


@contextmanager
def _naming(ref: MailboxRef) -> Iterator[None]:
    """A missing mailbox names the mailbox and its tenant, whatever the platform said."""
    try:
        yield
    except errors.NotFoundError as exc:
        tenant = f"tenant {ref.tenant.name}"
        if ref.address in exc.message:
            message = f"{exc.message} ({tenant})"
        else:
            message = f"{ref.address} ({tenant}): {exc.message}"
        raise errors.NotFoundError(message, debug=exc.debug) from exc


def _bind(function: Any, *args: Any, **kwargs: Any) -> Any:
    # A named closure per item: a lambda in a generator would capture the loop variable.
    def call() -> Any:
        return function(*args, **kwargs)

    return call
