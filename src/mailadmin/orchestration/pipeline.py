"""The one call pipeline: every orchestrator call, from every face, takes these steps.

1. :class:`Identify`  who acts, and that such an identity exists;
2. :class:`Validate`  the input (plan, add-on, quantity, new mailbox), before any routing;
3. :class:`Route`     the provider and tenant from the subject, and that every subject the
   call names belongs to the tenant it names; an operation the platform cannot do is
   refused here, before anything is checked or sent;
4. :class:`Hold`      the subject's lock (a mailbox, or a tenant's limits) until the end;
5. :class:`Policy`    reach, every business rule the write implies (self-service switch,
   downgrade window, allocations, reseller allocations, licences) and the plugins'
   policy veto; a refusal is journalled as ``refused`` and nothing is sent;
6. :class:`Intend`    the journal's intent row and the write fence;
7. :class:`Send`      the provider (``Provider.change``: before, dry run, apply, verify), or
   mailadmin's own allocation table for an add-on the platform does not keep;
8. :class:`Record`    the outcome row and after-effects (the tenant's use, notes).

A step raising stops the call; every step already passed sees the error in
:meth:`Step.failed` (the intent row is completed as failed there). Reads take the same
steps: the journal steps leave them alone.

Context variables carry only what crosses awaits the pipeline does not own: the acting
identity (set by ``acting_as`` around a caller's own code; read once, by :class:`Identify`),
the bulk run's id (``store.journal.run_scope``, owned by the run service), the dry-run
guard of the transport and the journal's observer of ``Provider.change`` (both inside a
plugin's own code). Everything else a step needs travels on the :class:`Call`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from mailadmin.contract import errors
from mailadmin.contract.calls import SUBJECT_LOCKS, subject_key
from mailadmin.contract.capabilities import SETTINGS
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    MailboxRef,
    NewMailbox,
    Outcome,
    TenantRef,
)
from mailadmin.contract.provider import (
    _CHANGE_OBSERVER,
    SUSPENDED,
    CallHooks,
    CallInfo,
    Provider,
    check_password,
    check_setting,
)
from mailadmin.rules.allocations import KEPT_ADDONS

if TYPE_CHECKING:
    from mailadmin.contract.change import Change
    from mailadmin.orchestration.config import Config
    from mailadmin.orchestration.fence import Probe
    from mailadmin.orchestration.gate import BusinessRules
    from mailadmin.rules.allocations import Allocations
    from mailadmin.rules.identities import Identity
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = ["WRITES", "Call", "Pipeline", "Step"]

#: The operations that change a platform (journalled, fenced, dry-runnable).
WRITES = frozenset(
    {
        "set_plan",
        "apply_addon",
        "create_mailbox",
        "delete_mailbox",
        "set_password",
        "suspend_mailbox",
        "resume_mailbox",
        "suspend_tenant",
        "resume_tenant",
        *SETTINGS,
        "create_tenant",
        "delete_tenant",
    }
)
#: Writes that make or remove a whole tenant on its platform (and its customer record).
TENANT_LIFECYCLE = frozenset({"create_tenant", "delete_tenant"})
#: Writes whose subject is one existing mailbox (routed by its address).
MAILBOX_SUBJECT = (
    frozenset({"set_plan", "delete_mailbox", "set_password", "suspend_mailbox", "resume_mailbox"})
    | SETTINGS
)
#: Reads whose subject is one existing mailbox (routed by its address, like its writes).
MAILBOX_READS = frozenset({"list_aliases", "single_sign_on"})
#: Writes that stop or restore access (their reason is journalled with them).
SUSPENSIONS = frozenset({"suspend_mailbox", "resume_mailbox", "suspend_tenant", "resume_tenant"})
#: The largest quantity every platform stores (a signed 32-bit integer).
MAX_QUANTITY = 2**31 - 1


@dataclass
class Call:
    """One call on its way through the pipeline.

    ``inputs`` are the caller's (``{"mailbox": "anna@example.com", "plan": "sync"}``);
    the steps fill in the rest. ``resuming``: the open journal row this call settles (no
    new row, no policy: it finishes a write that was already allowed).
    """

    operation: str
    inputs: Mapping[str, Any]
    dry_run: bool = False
    resuming: JournalEntry | None = None
    identity: Identity | None = None
    provider: Provider | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    info: CallInfo | None = None
    #: An add-on mailadmin keeps itself (the platform sets no such limit).
    kept: bool = False
    result: Any = None
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    @property
    def is_write(self) -> bool:
        """True for operations that change a platform."""
        return self.operation in WRITES

    @property
    def journalled(self) -> bool:
        """True when this call has a journal row of its own to open and complete."""
        return self.is_write and self.resuming is None


class Services(Protocol):
    """What the steps use of the orchestrator (it satisfies this as it is)."""

    config: Config
    journal: Journal | None
    rules: BusinessRules

    @property
    def allocations(self) -> Allocations: ...

    @property
    def plugin_hooks(self) -> CallHooks: ...

    def provider(self, instance: str) -> Provider: ...

    def provider_for(self, tenant: str | TenantRef) -> tuple[Provider, TenantRef]: ...

    def mailbox(self, address: str | MailboxRef) -> tuple[Provider, MailboxRef]: ...

    async def _read_back(self, entry: JournalEntry) -> Any: ...


class Step:
    """One named step; :meth:`run` may refuse the call by raising a mailadmin error."""

    name: ClassVar[str] = ""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def run(self, call: Call) -> None:
        """Do this step's part of ``call``."""

    async def failed(self, call: Call, error: errors.MailadminError) -> None:
        """A later step refused or failed ``call``."""


class Identify(Step):
    """Who acts: the identity in force, refused when no such identity exists."""

    name = "identify"

    async def run(self, call: Call) -> None:
        rules = self.services.rules
        call.identity = rules.acting()
        # The look-up may read the store; the common case (site admin, an identity already
        # checked) needs none, so it does not pay a thread hop per call.
        if call.resuming is None and not rules.knows(call.identity):
            await asyncio.to_thread(rules.check_identity, call.identity)


class Validate(Step):
    """The input, checked whole before anything is routed or sent."""

    name = "validate"

    async def run(self, call: Call) -> None:
        if call.resuming is not None:
            return  # the journal holds arguments validated when they were first sent
        config = self.services.config
        inputs = call.inputs
        if call.operation in MAILBOX_SUBJECT or call.operation in MAILBOX_READS:
            require_text(inputs["mailbox"], "mailbox address", MailboxRef)
        if call.operation == "set_password":
            call.arguments["password"] = check_password(inputs["password"])
        elif call.operation in SETTINGS:
            call.arguments["value"] = check_setting(call.operation, inputs["value"])
        elif call.operation in SUSPENSIONS:
            call.arguments["reason"] = check_reason(inputs.get("reason", ""))
            if "tenant" in inputs:
                require_text(inputs["tenant"], "tenant", TenantRef)
        if call.operation == "set_plan":
            call.arguments["plan"] = check_plan(config, inputs["plan"])
        elif call.operation == "apply_addon":
            require_text(inputs["tenant"], "tenant", TenantRef)
            call.arguments["addon"] = check_addon(config, inputs["addon"])
            check_quantity(inputs["quantity"])
            call.arguments["quantity"] = inputs["quantity"]
        elif call.operation == "create_tenant":
            require_text(inputs["tenant"], "tenant", TenantRef)
            plan = inputs.get("plan")
            call.arguments["plan"] = check_plan(config, plan) if plan is not None else None
            limit = inputs.get("max_mailboxes")
            if limit is not None:
                check_quantity(limit)
            call.arguments["max_mailboxes"] = limit
            reseller = inputs.get("reseller")
            if reseller is not None:
                require_text(reseller, "reseller")
                reseller = str(reseller).strip().lower()
            call.arguments["reseller"] = reseller
        elif call.operation == "create_mailbox":
            require_text(inputs["tenant"], "tenant", TenantRef)
            mailbox = inputs["mailbox"]
            if not isinstance(mailbox, NewMailbox):
                raise errors.ValidationError("The new mailbox must be a NewMailbox")
            if mailbox.plan is not None:
                check_plan(config, mailbox.plan)
            call.arguments["mailbox"] = mailbox
        elif "tenant" in inputs:
            require_text(inputs["tenant"], "tenant", TenantRef)
        elif "instance" in inputs:
            require_text(inputs["instance"], "instance")


class Route(Step):
    """The one provider that owns the subject; every subject belongs to the named tenant."""

    name = "route"

    async def run(self, call: Call) -> None:
        services = self.services
        if call.resuming is not None:
            self._resumed(call)
        elif call.operation in MAILBOX_SUBJECT or call.operation in MAILBOX_READS:
            call.provider, call.arguments["mailbox"] = services.mailbox(call.inputs["mailbox"])
        elif "tenant" in call.inputs:
            call.provider, tenant = services.provider_for(call.inputs["tenant"])
            call.arguments["tenant"] = tenant
            if call.operation == "create_mailbox":
                # Every subject a request names belongs to the tenant it names.
                services.config.check_address_of(tenant, call.arguments["mailbox"].address)
        else:
            call.provider = services.provider(str(call.inputs["instance"]))
        provider = call.provider
        assert provider is not None
        if call.operation == "apply_addon":
            addon: AddonRef = call.arguments["addon"]
            kept = addon.name in KEPT_ADDONS and addon.plan is None
            call.kept = kept and not provider.instance_capabilities.supports(f"addon:{addon.name}")
        arguments = {k: call.arguments[k] for k in _ARGUMENT_ORDER[call.operation]}
        call.arguments = arguments
        call.info = CallInfo(
            provider.instance, provider.name, call.operation, arguments, call.dry_run
        )

    def _resumed(self, call: Call) -> None:
        entry = call.resuming
        assert entry is not None
        call.provider = self.services.provider(entry.instance)
        args = entry.arguments
        if call.operation == "set_plan":
            call.arguments.update(mailbox=MailboxRef.model_validate(args["mailbox"]))
            call.arguments["plan"] = str(args["plan"])
        elif call.operation == "apply_addon":
            call.arguments.update(
                tenant=TenantRef.model_validate(args["tenant"]),
                addon=AddonRef.model_validate(args["addon"]),
                quantity=int(args["quantity"]),
            )
        elif call.operation == "create_mailbox":
            wanted = {k: v for k, v in dict(call.inputs["mailbox"]).items() if k != "password"}
            call.arguments.update(
                tenant=TenantRef.model_validate(args["tenant"]),
                mailbox=NewMailbox.model_validate(wanted),
            )
        elif call.operation in MAILBOX_SUBJECT:
            call.arguments.update(mailbox=MailboxRef.model_validate(args["mailbox"]))
        elif call.operation in SUSPENSIONS or call.operation in TENANT_LIFECYCLE:
            call.arguments.update(tenant=TenantRef.model_validate(args["tenant"]))
        if call.operation == "create_tenant":
            limit = args.get("max_mailboxes")
            call.arguments.update(
                reseller=args.get("reseller"),
                plan=args.get("plan"),
                max_mailboxes=int(limit) if limit is not None else None,
            )
        if call.operation in SUSPENSIONS:
            call.arguments["reason"] = str(args.get("reason", ""))


class Hold(Step):
    """The subject's locks, held until the call ends (two writes of one subject never
    interleave in this process; a create and a count of one tenant neither)."""

    name = "hold"

    async def run(self, call: Call) -> None:
        provider, info = call.provider, call.info
        assert provider is not None and info is not None
        keys: list[str | None] = []
        if call.operation in ("create_mailbox", "count_mailboxes"):
            keys.append(limits_key(provider, call.arguments["tenant"]))
        elif call.operation == "delete_mailbox":
            keys.append(limits_key(provider, call.arguments["mailbox"].tenant))
        keys.append(subject_key(provider.instance, call.operation, call.arguments))
        for key in keys:
            await call.stack.enter_async_context(SUBJECT_LOCKS.hold(key))


class Policy(Step):
    """Reach, business rules and the plugins' veto, all before anything is sent."""

    name = "policy"

    async def run(self, call: Call) -> None:
        if call.resuming is not None:
            return  # finishing a write that was allowed when it started
        provider, info = call.provider, call.info
        assert provider is not None and info is not None
        rules = self.services.rules
        try:
            await rules.check_reach(provider, call.operation, call.arguments)
            _supported(call, provider)
            await rules.check(provider, call.operation, call.arguments, call.dry_run)
            if call.is_write:
                # The plugins' policy veto runs here, once; the provider's own call
                # then runs only their audit hooks (see PluginHooksAfterPolicy).
                self.services.plugin_hooks.before(provider, info)
        except errors.PolicyDenied as denial:
            journal = self.services.journal
            if journal is not None:
                await journal.write(journal.refusal(info, denial, identity=str(call.identity)))
            raise


class Intend(Step):
    """The write's intent in the journal, committed before the platform is touched, and
    the write fence: no older write of the subject that may still land is raced."""

    name = "intend"

    async def run(self, call: Call) -> None:
        journal = self.services.journal
        if journal is None or not call.journalled:
            return
        provider, info = call.provider, call.info
        assert provider is not None and info is not None
        fencing = not call.dry_run
        older: list[JournalEntry] | None = [] if fencing else None
        await journal.write(journal.intent(info, identity=str(call.identity), unsettled=older))
        if fencing and older:
            from mailadmin.orchestration.fence import hold_fence

            probe: Probe = self.services._read_back
            try:
                await hold_fence(journal, provider, info, probe, older)
            except errors.MailadminError as refused:
                await self.failed(call, refused)
                raise

    async def failed(self, call: Call, error: errors.MailadminError) -> None:
        journal = self.services.journal
        if journal is None or not call.is_write or call.info is None:
            return
        if isinstance(error, errors.StoreUnavailable):
            # Whether the write went out is not known to the store: the intent stays open
            # (should the store answer again now) and resume reads the platform back.
            return
        row, resumed = _row(call)
        await journal.write(journal.failure(row, error, resumed=resumed))


class Send(Step):
    """The provider's operation (or the kept allocation), with the journal observing the
    state each write reads just before it is sent."""

    name = "send"

    async def run(self, call: Call) -> None:
        provider = call.provider
        assert provider is not None
        token = None
        journal = self.services.journal
        if journal is not None and call.is_write and not call.dry_run:
            recorded = call.resuming is not None and call.resuming.state_before is not None
            row = _row(call)[0]

            async def sending(change: Change[Any]) -> None:
                # A resumed row keeps the state read before its first attempt.
                if not recorded:
                    await journal.write(journal.sending(row, change))

            token = _CHANGE_OBSERVER.set(sending)
        try:
            call.result = await self._send(call, provider)
        finally:
            if token is not None:
                _CHANGE_OBSERVER.reset(token)

    async def _send(self, call: Call, provider: Provider) -> Any:
        args, dry_run = call.arguments, call.dry_run
        operation = call.operation
        if operation == "set_plan":
            ref: MailboxRef = args["mailbox"]
            with naming(ref):
                return await provider.set_plan(ref, args["plan"], dry_run=dry_run)
        if operation == "apply_addon":
            if call.kept:
                return await self._keep(call, provider)
            result = await provider.apply_addon(
                args["tenant"], args["addon"], args["quantity"], dry_run=dry_run
            )
            return result.model_copy(update={"subject": f"{args['tenant'].name} {args['addon']}"})
        if operation == "create_mailbox":
            return await provider.create_mailbox(args["tenant"], args["mailbox"], dry_run=dry_run)
        if operation == "delete_mailbox":
            with naming(args["mailbox"]):
                return await provider.delete_mailbox(args["mailbox"], dry_run=dry_run)
        if operation == "set_password":
            with naming(args["mailbox"]):
                return await provider.set_password(
                    args["mailbox"], args["password"], dry_run=dry_run
                )
        if operation in SETTINGS:
            with naming(args["mailbox"]):
                return await getattr(provider, operation)(
                    args["mailbox"], args["value"], dry_run=dry_run
                )
        if operation in ("suspend_mailbox", "resume_mailbox"):
            with naming(args["mailbox"]):
                return await getattr(provider, operation)(args["mailbox"], dry_run=dry_run)
        if operation in ("suspend_tenant", "resume_tenant"):
            return await getattr(provider, operation)(args["tenant"], dry_run=dry_run)
        if operation == "create_tenant":
            return await provider.create_tenant(
                args["tenant"],
                plan=args["plan"],
                max_mailboxes=args["max_mailboxes"],
                dry_run=dry_run,
            )
        if operation == "delete_tenant":
            return await provider.delete_tenant(args["tenant"], dry_run=dry_run)
        method: Callable[..., Awaitable[Any]] = getattr(provider, operation)
        return await method(*args.values())

    async def _keep(self, call: Call, provider: Provider) -> ChangeResult[int]:
        """The write lands in mailadmin's allocation table instead of the platform."""
        tenant: TenantRef = call.arguments["tenant"]
        addon: AddonRef = call.arguments["addon"]
        quantity: int = call.arguments["quantity"]
        store = await asyncio.to_thread(lambda: self.services.allocations)
        before = await asyncio.to_thread(store.get, provider.instance, tenant.name, addon.name)
        if before != quantity and not call.dry_run:
            await asyncio.to_thread(store.set, provider.instance, tenant.name, addon.name, quantity)
        result = ChangeResult[int](
            operation="apply_addon",
            subject=f"{tenant.name} {addon}",
            outcome=Outcome.UNCHANGED if before == quantity else Outcome.CHANGED,
            before=before,
            after=quantity,
            dry_run=call.dry_run,
        )
        assert call.info is not None
        self.services.plugin_hooks.after(provider, call.info, result)
        return result


class Record(Step):
    """The outcome row, and what follows from it: the tenant's kept use, notes."""

    name = "record"

    async def run(self, call: Call) -> None:
        provider = call.provider
        assert provider is not None
        result = call.result
        rules = self.services.rules
        if call.operation == "set_plan":
            if result.changed and result.before == result.after and not result.note:
                # The plan stays; only what it sets (the quota) moves to the catalogue's value.
                result = result.model_copy(update={"note": "quota only: the plan stays the same"})
            if call.resuming is None:
                result = rules.after_set_plan(result, call.identity)
        elif call.operation == "create_mailbox":
            # ``accepted`` (finished later by the platform) counts too: never one too few.
            if not result.dry_run and result.outcome is not Outcome.UNCHANGED:
                tenant: TenantRef = call.arguments["tenant"]
                await rules.use.created(provider.instance, tenant.name, result_kind(call))
        elif call.operation == "delete_mailbox":
            # Only a deletion seen done frees a slot.
            if not result.dry_run and result.outcome is Outcome.CHANGED:
                kind = result.before.kind if result.before is not None else None
                ref: MailboxRef = call.arguments["mailbox"]
                await rules.use.deleted(provider.instance, ref.tenant.name, kind)
        elif call.operation == "apply_addon" and not result.dry_run and call.resuming is None:
            args = call.arguments
            await asyncio.to_thread(
                rules.record_addon_total, args["tenant"], args["addon"], args["quantity"]
            )
        elif call.operation in ("suspend_tenant", "resume_tenant") and not result.dry_run:
            # The platform holds the suspension; the store records it for the policy step.
            await asyncio.to_thread(
                rules.tenancy.suspensions.mark,
                provider.instance,
                call.arguments["tenant"].name,
                suspended=result.after == SUSPENDED,
                reason=str(call.arguments.get("reason", "")),
                identity=str(call.identity),
            )
        elif call.operation in TENANT_LIFECYCLE and not result.dry_run:
            # The customer record follows the platform: one journalled operation (a resume
            # that finds the platform done writes the record it may have missed).
            await asyncio.to_thread(_follow_tenant, rules.tenancy, call)
        elif call.operation == "count_mailboxes":
            tenant = call.arguments["tenant"]
            counted = result.model_copy(update={"tenant": tenant.name})
            await rules.use.refresh(provider.instance, counted)
        call.result = result
        journal = self.services.journal
        if journal is not None and call.is_write:
            row, resumed = _row(call)
            op = journal.success(row, result, resumed=resumed)
            event = _TENANT_EVENTS.get(call.operation)
            if event is not None and not result.dry_run and result.outcome is Outcome.CHANGED:
                tenant = call.arguments["tenant"]
                data = {"instance": provider.instance, "tenant": tenant.name, "call_id": row}
                data["identity"] = str(call.identity)
                op = journal.with_event(op, event, data)
            await journal.write(op)

    async def failed(self, call: Call, error: errors.MailadminError) -> None:
        return None


#: The events a tenant's changed suspension records with its journal row.
_TENANT_EVENTS = {"suspend_tenant": "tenant.suspended", "resume_tenant": "tenant.resumed"}


class Pipeline:
    """The ordered steps; :meth:`run` takes one call through all of them."""

    def __init__(self, services: Services, steps: Sequence[type[Step]] | None = None) -> None:
        kinds = steps if steps is not None else DEFAULT_STEPS
        self.steps: list[Step] = [kind(services) for kind in kinds]

    async def run(self, call: Call) -> Any:
        """Take ``call`` through every step; its result, or the first step's refusal."""
        passed: list[Step] = []
        async with call.stack:
            try:
                for step in self.steps:
                    await step.run(call)
                    passed.append(step)
            except errors.MailadminError as error:
                await self._unwind(call, passed, error)
                if call.operation == "create_mailbox" and isinstance(
                    error, errors.OutcomeUnknown | errors.PartialChange
                ):
                    # The mailbox may exist: count it, so an unsettled creation never lets
                    # one more past the allocation; the next live count corrects it.
                    provider = call.provider
                    assert provider is not None
                    tenant: TenantRef = call.arguments["tenant"]
                    await self.steps[0].services.rules.use.created(
                        provider.instance, tenant.name, result_kind(call)
                    )
                raise
            except Exception as exc:
                from mailadmin.store.database import unreachable

                if unreachable(exc):
                    lost = errors.StoreUnavailable(
                        "The store (the journal's database) cannot be reached",
                        debug={"exception": repr(exc)},
                    )
                    await self._unwind(call, passed, lost)
                    raise lost from exc
                unexpected = errors.MailadminError(
                    "An unexpected error stopped the call", debug={"exception": repr(exc)}
                )
                await self._unwind(call, passed, unexpected)
                raise
        return call.result

    @staticmethod
    async def _unwind(call: Call, passed: list[Step], error: errors.MailadminError) -> None:
        for step in reversed(passed):
            await step.failed(call, error)

    def describe(self) -> list[str]:
        """The step names in order (docs/architecture.md shows them)."""
        return [step.name for step in self.steps]


DEFAULT_STEPS: tuple[type[Step], ...] = (
    Identify,
    Validate,
    Route,
    Hold,
    Policy,
    Intend,
    Send,
    Record,
)

# The provider's argument names, in the order its method takes them.
_ARGUMENT_ORDER: dict[str, tuple[str, ...]] = {
    "set_plan": ("mailbox", "plan"),
    "apply_addon": ("tenant", "addon", "quantity"),
    "create_mailbox": ("tenant", "mailbox"),
    "delete_mailbox": ("mailbox",),
    "set_password": ("mailbox", "password"),
    "suspend_mailbox": ("mailbox", "reason"),
    "resume_mailbox": ("mailbox", "reason"),
    "suspend_tenant": ("tenant", "reason"),
    "resume_tenant": ("tenant", "reason"),
    **dict.fromkeys(SETTINGS, ("mailbox", "value")),
    "list_aliases": ("mailbox",),
    "single_sign_on": ("mailbox",),
    "create_tenant": ("tenant", "reseller", "plan", "max_mailboxes"),
    "delete_tenant": ("tenant",),
    "count_mailboxes": ("tenant",),
    "list_mailboxes": ("tenant",),
    "get_licence": (),
    "test_connection": (),
    "list_plans": (),
}


class PluginHooksAfterPolicy(CallHooks):
    """The plugins' hooks as an orchestrator's providers run them: a write's veto already
    ran in the pipeline's policy step, so only reads are offered to it here."""

    def __init__(self, inner: CallHooks) -> None:
        self.inner = inner

    def before(self, provider: Provider, call: CallInfo) -> None:
        if not call.is_write:
            self.inner.before(provider, call)

    def after(self, provider: Provider, call: CallInfo, result: object) -> None:
        self.inner.after(provider, call, result)

    def error(self, provider: Provider, call: CallInfo, error: errors.MailadminError) -> None:
        self.inner.error(provider, call, error)


def _supported(call: Call, provider: Provider) -> None:
    """An operation the instance cannot do is refused before anything is sent (exit 2,
    HTTP 422 ``unsupported``): it is a request the platform has no form for."""
    capabilities = provider.instance_capabilities
    feature: str | None = None
    if call.operation == "apply_addon":
        feature = None if call.kept else f"addon:{call.arguments['addon'].name}"
    elif call.operation == "create_mailbox":
        feature = f"create_mailbox:{call.arguments['mailbox'].kind.value}"
    elif call.operation in _OPTIONAL_OPERATIONS:
        feature = call.operation
    if feature is not None and not capabilities.supports(feature):
        raise errors.UnsupportedOperation(feature, provider.instance, capabilities.reason(feature))


# Optional operations whose capability key is the operation's own name.
_OPTIONAL_OPERATIONS = (
    frozenset({"delete_mailbox", "list_mailboxes", "set_password", "list_aliases"})
    | frozenset({"single_sign_on"})
    | SUSPENSIONS
    | SETTINGS
    | TENANT_LIFECYCLE
)


def _follow_tenant(tenancy: Any, call: Call) -> None:
    """Record the customer of a tenant created on its platform, or forget the customer of
    a tenant removed from it."""
    from mailadmin.rules.tenancy import CustomerSpec

    name = call.arguments["tenant"].name
    if call.operation == "delete_tenant":
        tenancy.remove_customer(name)
    elif tenancy.customer(name) is None:
        tenancy.lift_removal("customer", name)
        tenancy.save_customer(name, CustomerSpec(reseller=call.arguments.get("reseller")))


def _row(call: Call) -> tuple[str, str | None]:
    """The journal row a call completes, and the state a resume settles it from."""
    if call.resuming is not None:
        return call.resuming.call_id, call.resuming.outcome or call.resuming.status
    assert call.info is not None
    return call.info.call_id, None


def result_kind(call: Call) -> Any:
    """The kind of mailbox a create makes."""
    return call.arguments["mailbox"].kind


def limits_key(provider: Provider, tenant: TenantRef) -> str | None:
    """The key of a tenant's limits lock (the one its add-on writes hold too)."""
    return subject_key(provider.instance, "apply_addon", {"tenant": tenant})


def check_plan(config: Config, plan: object) -> str:
    """A plan name of the catalogue, normalised; ValidationError otherwise."""
    require_text(plan, "plan")
    assert isinstance(plan, str)
    plan = plan.strip().lower()
    if config.plans and plan not in config.plans:
        known = ", ".join(config.plans)
        raise errors.ValidationError(f"Unknown plan '{plan}' (catalogue: {known})")
    return plan


def check_addon(config: Config, addon: object) -> AddonRef:
    """An add-on of the catalogue as a reference; ValidationError otherwise."""
    require_text(addon, "add-on", AddonRef)
    try:
        ref = AddonRef.parse(addon) if isinstance(addon, str) else addon
    except ValueError:
        raise errors.ValidationError(f"'{addon}' is not a valid add-on name") from None
    assert isinstance(ref, AddonRef)
    if config.addons and ref.name not in config.addons:
        known = ", ".join(config.addons)
        raise errors.ValidationError(f"Unknown add-on '{ref.name}' (catalogue: {known})")
    if ref.plan is not None:
        check_plan(config, ref.plan)
    return ref


def check_quantity(quantity: object) -> None:
    """A whole number an add-on total can be on every platform."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise errors.ValidationError("The add-on quantity must be a whole number")
    if not 0 <= quantity <= MAX_QUANTITY:
        raise errors.ValidationError(
            f"The add-on quantity must be a whole number from 0 to {MAX_QUANTITY}, not {quantity}"
        )


#: The longest reason a suspension journals.
MAX_REASON = 200


def check_reason(reason: object) -> str:
    """Why a mailbox or tenant is suspended or resumed ("non-payment"), journalled."""
    require_text(reason, "reason")
    assert isinstance(reason, str)
    reason = reason.strip()
    if len(reason) > MAX_REASON or any(ord(c) < 32 for c in reason):
        raise errors.ValidationError(
            f"The reason must be one line of at most {MAX_REASON} characters"
        )
    return reason


def require_text(value: object, what: str, model: type | None = None) -> None:
    """Refuse a wrong type at the public entry with a ValidationError, not AttributeError."""
    if isinstance(value, str) or (model is not None and isinstance(value, model)):
        return
    raise errors.ValidationError(f"The {what} must be text, not {type(value).__name__}")


class naming:
    """A missing mailbox names the mailbox and its tenant, whatever the platform said."""

    def __init__(self, ref: MailboxRef) -> None:
        self.ref = ref

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, errors.NotFoundError):
            return
        ref = self.ref
        tenant = f"tenant {ref.tenant.name}"
        if ref.address in exc.message:
            message = f"{exc.message} ({tenant})"
        else:
            message = f"{ref.address} ({tenant}): {exc.message}"
        raise errors.NotFoundError(message, debug=exc.debug) from exc
