"""The provider contract: the base class every platform plugin subclasses.

The public methods are final. Each validates its input, checks the declared capability,
runs the before/after/on-error hooks and turns any exception into a mailadmin error; the
platform work happens in the protected method of the same name (``set_plan`` calls
``_set_plan``). A subclass that overrides a public method, or gives a protected method
another signature, is refused when the class is defined, so no plugin can drift from the
contract.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast, final

import pydantic
from typing_extensions import TypeVar as DefaultTypeVar

from mailadmin.contract import errors
from mailadmin.contract.capabilities import (
    REQUIRED,
    SETTINGS,
    Capabilities,
    LicenceKind,
    Operation,
)
from mailadmin.contract.change import Applied, Change, Verified
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    LicenceState,
    Mailbox,
    MailboxCount,
    MailboxRef,
    MailboxSettings,
    NativePlan,
    NewMailbox,
    Outcome,
    SignOn,
    TenantRef,
)
from mailadmin.contract.readback import check_read_value
from mailadmin.contract.settings import PlanMapping, ProviderSettings
from mailadmin.wire.dryrun import dry_run_active
from mailadmin.wire.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from mailadmin.wire.transport import Transport

__all__ = [
    "ABSENT",
    "ACTIVE",
    "PRESENT",
    "SUSPENDED",
    "CallHooks",
    "CallInfo",
    "Provider",
    "SettingsT",
    "check_display_name",
    "check_password",
    "check_setting",
    "plugin_hooks",
]

log = logging.getLogger("mailadmin.contract.provider")
R = TypeVar("R")
T = TypeVar("T")
#: The settings model of a provider class; a bare ``Provider`` means ``Provider[ProviderSettings]``.
SettingsT = DefaultTypeVar(
    "SettingsT", bound=ProviderSettings, default=ProviderSettings, covariant=True
)


@dataclass(frozen=True)
class CallInfo:
    """One provider call, as the before/after/on-error hooks see it.

    ``provider``: instance name (``"ox-eu"``); ``platform``: registered provider name
    (``"ox"``); ``operation``: ``"set_plan"``; ``arguments``: the validated inputs;
    ``dry_run``: true when nothing may be written; ``call_id``: unique per call.
    """

    provider: str
    platform: str
    operation: str
    arguments: Mapping[str, Any]
    dry_run: bool = False
    call_id: str = field(default_factory=new_id)

    @property
    def is_write(self) -> bool:
        """True for operations that change the platform."""
        return self.operation in _WRITES


class CallHooks:
    """Receives every provider call. The registry supplies one that runs plugin hooks.

    ``before`` may refuse a call by raising :class:`~mailadmin.contract.errors.PolicyDenied`.
    This default does nothing.
    """

    def before(self, provider: Provider, call: CallInfo) -> None:
        """Called before the platform is touched."""

    def after(self, provider: Provider, call: CallInfo, result: object) -> None:
        """Called with the result of a call that succeeded."""

    def error(self, provider: Provider, call: CallInfo, error: errors.MailadminError) -> None:
        """Called with the normalised error of a call that failed."""


_current_operation: ContextVar[str] = ContextVar("mailadmin_operation", default="")
_WRITES = frozenset(
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
#: What a tenant's creation or removal holds before and after: it is there, or it is not.
PRESENT, ABSENT = "present", "absent"
#: What a suspension's result holds before and after: mail is reachable, or it is not.
ACTIVE, SUSPENDED = "active", "suspended"
_PUBLIC = tuple(op.value for op in Operation)


class Provider(Generic[SettingsT]):
    """Base class of every platform provider, generic over its settings model.

    Subclasses set ``name`` (registry key, ``"ox"``), ``platform`` (display name),
    ``capabilities`` and, when they need more settings, ``settings_model`` (and name it
    as the type parameter, ``class OxProvider(Provider[OxSettings])``, so ``self.settings``
    is typed without casts); then they implement ``_set_plan``, ``_count_mailboxes``,
    ``_apply_addon``, ``_get_licence``, ``_test_connection``, ``_list_plans`` and any
    optional operation they declare. Writes describe themselves as a
    :class:`~mailadmin.contract.change.Change` and return ``await self.change(...)``.

    ``capabilities`` is what the class can do at most; :meth:`capabilities_for` narrows it
    by an instance's settings, and :attr:`instance_capabilities` is what one instance does.

    A provider is an async context manager; leaving it closes its HTTP connections.
    """

    name: ClassVar[str] = ""
    platform: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities(
        unsupported={
            "list_mailboxes": "not implemented",
            "create_mailbox": "not implemented",
            "delete_mailbox": "not implemented",
            "addon:mailboxes": "not implemented",
            "addon:shared_mailbox": "not implemented",
            "addon:resource_mailbox": "not implemented",
            "addon:storage_gb": "not implemented",
        }
    )
    # A ClassVar cannot name the type parameter; the class check below makes sure the model
    # is the parameter (or a subclass of it), so ``self.settings`` is what its type says.
    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_subclass(cls)

    def __init__(
        self,
        settings: SettingsT | ProviderSettings | Mapping[str, Any] | None = None,
        *,
        instance: str | None = None,
        http: httpx.AsyncBaseTransport | None = None,
        hooks: CallHooks | None = None,
    ) -> None:
        """Build a provider.

        ``settings``: a settings model or a mapping validated into ``settings_model``;
        ``instance``: the configured instance name (defaults to ``name``); ``http``: an
        httpx transport to use instead of the one named in the settings (tests inject a
        respx router or a mock's ASGI app here); ``hooks``: receives every call.
        """
        self.settings: SettingsT = _validate_settings(type(self), settings)
        self.instance = instance or self.name
        #: What this instance supports: the class's capabilities narrowed by its settings.
        self.instance_capabilities: Capabilities = _narrowed(type(self), self.settings)
        self.hooks = hooks or CallHooks()
        self._http_override = http
        self._transport: Transport | None = None

    @classmethod
    # A classmethod reads settings of its own class only; covariance is safe here.
    def capabilities_for(cls, settings: SettingsT) -> Capabilities:  # type: ignore[misc]
        """The capabilities of an instance with these settings (default: the class's).

        Override to narrow by settings, never to widen: an OX instance signed in as a
        context admin has no add-ons, say. Every key the class supports and the instance
        does not needs a reason in the returned ``unsupported``.
        """
        return cls.capabilities

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def http(self) -> Transport:
        """The shared transport, built on first use from the settings."""
        if self._transport is None:
            from mailadmin.wire.transport import Transport

            self._transport = Transport.from_settings(
                self.settings, name=self.instance, http=self._http_override
            )
        return self._transport

    def redact(self, text: str) -> str:
        """``text`` with this instance's secrets (configured and obtained at run time) and
        every secret-named field masked."""
        if self._transport is not None:
            return self._transport.redact(text)
        from mailadmin.wire.redaction import Redactor

        return Redactor(self.settings.secrets()).redact(text)

    @property
    def dry_run(self) -> bool:
        """True while the current call is a dry run: report, never write."""
        return dry_run_active()

    def plan(self, name: str) -> PlanMapping:
        """The native mapping of a configured neutral plan."""
        try:
            return self.settings.plans[name]
        except KeyError:
            known = ", ".join(sorted(self.settings.plans)) or "none configured"
            raise errors.ValidationError(f"Unknown plan '{name}' (known: {known})") from None

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the contract (final) ------------------------------------------------------------

    @final
    async def set_plan(
        self, mailbox: MailboxRef, plan: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Put one mailbox on a neutral plan (upgrade or downgrade)."""
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        self.plan(plan)
        return await self._call(
            Operation.SET_PLAN,
            {"mailbox": mailbox, "plan": plan},
            dry_run,
            lambda: self._set_plan(mailbox, plan),
        )

    @final
    async def count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        """How many mailboxes the tenant has, by kind and by plan."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        return await self._call(
            Operation.COUNT_MAILBOXES,
            {"tenant": tenant},
            False,
            lambda: self._count_mailboxes(tenant),
        )

    @final
    async def apply_addon(
        self, tenant: TenantRef, addon: AddonRef | str, quantity: int, *, dry_run: bool = False
    ) -> ChangeResult[int]:
        """Set the total quantity of an add-on (absolute, so a retry is harmless)."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        ref = (
            AddonRef.parse(addon) if isinstance(addon, str) else _coerce(AddonRef, addon, "add-on")
        )
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise errors.ValidationError("The add-on quantity must be a whole number, 0 or more")
        self._require(f"addon:{ref.name}")
        if ref.plan is not None:
            self.plan(ref.plan)
        return await self._call(
            Operation.APPLY_ADDON,
            {"tenant": tenant, "addon": ref, "quantity": quantity},
            dry_run,
            lambda: self._apply_addon(tenant, ref, quantity),
        )

    @final
    async def get_licence(self) -> Licence:
        """Seats licensed and used, features, validity and state."""
        return await self._call(Operation.GET_LICENCE, {}, False, self._get_licence)

    @final
    async def test_connection(self) -> ConnectionStatus:
        """Check the endpoint answers and the credentials are accepted."""
        return await self._call(Operation.TEST_CONNECTION, {}, False, self._test_connection)

    @final
    async def list_plans(self) -> list[NativePlan]:
        """The platform's native plan catalogue, with the neutral name mapped where known."""
        return await self._call(Operation.LIST_PLANS, {}, False, self._list_plans)

    @final
    async def list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        """Every mailbox of the tenant (optional capability ``list_mailboxes``)."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        self._require(Operation.LIST_MAILBOXES)
        return await self._call(
            Operation.LIST_MAILBOXES,
            {"tenant": tenant},
            False,
            lambda: self._list_mailboxes(tenant),
        )

    @final
    async def create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """Create a user, shared, room or equipment mailbox (optional capability)."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        mailbox = _coerce(NewMailbox, mailbox, "mailbox")
        self._require(f"{Operation.CREATE_MAILBOX.value}:{mailbox.kind.value}")
        if mailbox.plan is not None:
            self.plan(mailbox.plan)
        return await self._call(
            Operation.CREATE_MAILBOX,
            {"tenant": tenant, "mailbox": mailbox},
            dry_run,
            lambda: self._create_or_find(tenant, mailbox),
        )

    async def _create_or_find(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        """Create; a mailbox of that address and kind that exists already is ``unchanged``
        on every platform (a create is absolute, like every write), whatever the platform
        answered; one of another kind stays a conflict."""
        try:
            return await self._create_mailbox(tenant, mailbox)
        except errors.ConflictError:
            if not self.instance_capabilities.supports(Operation.LIST_MAILBOXES):
                raise
            wanted = mailbox.address.strip().lower()
            found = next(
                (m for m in await self._list_mailboxes(tenant) if m.address.lower() == wanted),
                None,
            )
            if found is None or found.kind is not mailbox.kind:
                raise
            return ChangeResult[Mailbox](
                operation=Operation.CREATE_MAILBOX.value,
                subject=found.address,
                outcome=Outcome.UNCHANGED,
                before=found,
                after=found,
                note="it exists already",
                dry_run=self.dry_run,
            )

    @final
    async def delete_mailbox(
        self, mailbox: MailboxRef, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """Delete a mailbox; deleting one that is already gone is ``unchanged``."""
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        self._require(Operation.DELETE_MAILBOX)
        return await self._call(
            Operation.DELETE_MAILBOX,
            {"mailbox": mailbox},
            dry_run,
            lambda: self._delete_mailbox(mailbox),
        )

    @final
    async def set_password(
        self, mailbox: MailboxRef, password: pydantic.SecretStr | str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Set a mailbox's password (optional capability ``set_password``).

        A password cannot be read back, so the result is ``changed`` (``before`` and
        ``after`` say only ``"set"``); setting it again is harmless. The password never
        appears in a log line, a result, the journal or an error's debug detail.
        """
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        secret = check_password(password)
        self._require(Operation.SET_PASSWORD)
        self.http.add_secret(secret.get_secret_value())  # never in a log line or an error
        return await self._call(
            Operation.SET_PASSWORD,
            {"mailbox": mailbox, "password": secret},
            dry_run,
            lambda: self._set_password(mailbox, secret.get_secret_value()),
        )

    @final
    async def suspend_mailbox(
        self, mailbox: MailboxRef, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Stop all access to a mailbox, deleting nothing (optional capability
        ``suspend_mailbox``); ``before``/``after`` are ``"active"`` or ``"suspended"``."""
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        self._require(Operation.SUSPEND_MAILBOX)
        return await self._call(
            Operation.SUSPEND_MAILBOX,
            {"mailbox": mailbox},
            dry_run,
            lambda: self._suspend_mailbox(mailbox),
        )

    @final
    async def resume_mailbox(
        self, mailbox: MailboxRef, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Give a suspended mailbox its access back (optional capability
        ``resume_mailbox``); resuming an active mailbox is ``unchanged``."""
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        self._require(Operation.RESUME_MAILBOX)
        return await self._call(
            Operation.RESUME_MAILBOX,
            {"mailbox": mailbox},
            dry_run,
            lambda: self._resume_mailbox(mailbox),
        )

    @final
    async def suspend_tenant(
        self, tenant: TenantRef, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Stop all access to every mailbox of a tenant, deleting nothing (optional
        capability ``suspend_tenant``); ``before``/``after`` are ``"active"`` or
        ``"suspended"``."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        self._require(Operation.SUSPEND_TENANT)
        return await self._call(
            Operation.SUSPEND_TENANT,
            {"tenant": tenant},
            dry_run,
            lambda: self._suspend_tenant(tenant),
        )

    @final
    async def resume_tenant(self, tenant: TenantRef, *, dry_run: bool = False) -> ChangeResult[str]:
        """Give a suspended tenant its access back (optional capability
        ``resume_tenant``); resuming an active tenant is ``unchanged``."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        self._require(Operation.RESUME_TENANT)
        return await self._call(
            Operation.RESUME_TENANT,
            {"tenant": tenant},
            dry_run,
            lambda: self._resume_tenant(tenant),
        )

    # -- mailbox settings (each absolute: a retry is harmless) ---------------------------

    @final
    async def set_display_name(
        self, mailbox: MailboxRef, name: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Set the name shown for a mailbox (optional capability ``set_display_name``)."""
        result: ChangeResult[str] = await self._setting(
            Operation.SET_DISPLAY_NAME, mailbox, name, dry_run
        )
        return result

    @final
    async def set_forwarding(
        self, mailbox: MailboxRef, address: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """Forward a mailbox's mail to ``address`` (``""`` stops forwarding; optional
        capability ``set_forwarding``). Mail is kept in the mailbox too."""
        result: ChangeResult[str] = await self._setting(
            Operation.SET_FORWARDING, mailbox, address, dry_run
        )
        return result

    @final
    async def set_quota(
        self, mailbox: MailboxRef, quota_mb: int, *, dry_run: bool = False
    ) -> ChangeResult[int]:
        """Set a mailbox's storage quota in MB (optional capability ``set_quota``)."""
        result: ChangeResult[int] = await self._setting(
            Operation.SET_QUOTA, mailbox, quota_mb, dry_run
        )
        return result

    @final
    async def add_alias(
        self, mailbox: MailboxRef, alias: str, *, dry_run: bool = False
    ) -> ChangeResult[list[str]]:
        """Let a mailbox receive mail at ``alias`` too (optional capability ``add_alias``);
        ``before``/``after`` are the sorted aliases; adding one held is ``unchanged``."""
        result: ChangeResult[list[str]] = await self._setting(
            Operation.ADD_ALIAS, mailbox, alias, dry_run
        )
        return result

    @final
    async def remove_alias(
        self, mailbox: MailboxRef, alias: str, *, dry_run: bool = False
    ) -> ChangeResult[list[str]]:
        """Stop a mailbox receiving mail at ``alias`` (optional capability
        ``remove_alias``); removing one not held is ``unchanged``."""
        result: ChangeResult[list[str]] = await self._setting(
            Operation.REMOVE_ALIAS, mailbox, alias, dry_run
        )
        return result

    @final
    async def list_aliases(self, mailbox: MailboxRef) -> list[str]:
        """A mailbox's aliases, sorted (optional capability ``list_aliases``)."""
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        self._require(Operation.LIST_ALIASES)

        async def read() -> list[str]:
            return list(_normal(await self._read_settings(mailbox)).aliases)

        return await self._call(Operation.LIST_ALIASES, {"mailbox": mailbox}, False, read)

    @final
    async def single_sign_on(self, mailbox: MailboxRef) -> SignOn:
        """A link that signs the mailbox's user in without a password (optional capability
        ``single_sign_on``). The link is a credential: it is never logged or journalled."""
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        self._require(Operation.SINGLE_SIGN_ON)

        async def sign_on() -> SignOn:
            found = await self._single_sign_on(mailbox)
            self.http.add_secret(found.url)  # never in a log line or an error
            return found

        return await self._call(Operation.SINGLE_SIGN_ON, {"mailbox": mailbox}, False, sign_on)

    @final
    async def list_tenants(self) -> list[TenantRef]:
        """Every tenant the platform holds that this instance can see (optional capability
        ``list_tenants``): what reconcile compares with the configured customers."""
        self._require(Operation.LIST_TENANTS)
        return await self._call(Operation.LIST_TENANTS, {}, False, self._list_tenants)

    async def _setting(
        self, operation: Operation, mailbox: MailboxRef, value: Any, dry_run: bool
    ) -> ChangeResult[Any]:
        mailbox = _coerce(MailboxRef, mailbox, "mailbox")
        value = check_setting(operation.value, value, mailbox)
        self._require(operation)
        return await self._call(
            operation,
            {"mailbox": mailbox, "value": value},
            dry_run,
            lambda: self._change_setting(operation.value, mailbox, value),
        )

    async def _change_setting(
        self, operation: str, mailbox: MailboxRef, value: Any
    ) -> ChangeResult[Any]:
        """The one write of every setting: read, build the wanted settings, write them,
        read back after a lost answer."""
        held = _normal(await self._read_settings(mailbox))
        field_name, wanted_value = _wanted(operation, held, value)
        wanted = held.model_copy(update={field_name: wanted_value})
        before: Any = getattr(held, field_name)
        after: Any = wanted_value
        if field_name == "aliases":
            before, after = list(before), list(after)

        async def write() -> None:
            await self._write_settings(mailbox, held, wanted)

        async def verify() -> Verified:
            now = getattr(_normal(await self._read_settings(mailbox)), field_name)
            state = {field_name: list(now) if isinstance(now, tuple) else now}
            if now == wanted_value:
                return Verified((field_name,), (), state)
            return Verified((), (field_name,), state)

        return await self.change(
            Change(subject=mailbox.address, before=before, after=after, apply=write, verify=verify)
        )

    @final
    async def create_tenant(
        self,
        tenant: TenantRef,
        *,
        plan: str | None = None,
        max_mailboxes: int | None = None,
        dry_run: bool = False,
    ) -> ChangeResult[str]:
        """Create a tenant on the platform (optional capability ``create_tenant``): its
        domain, context or accepted domain, with ``plan`` (a catalogue plan, the default of
        its new mailboxes) and ``max_mailboxes`` (``None``: no limit) where the platform
        holds them. ``before``/``after`` are ``"absent"`` or ``"present"``; a tenant that
        is already there is ``unchanged``."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        if max_mailboxes is not None and (
            isinstance(max_mailboxes, bool)
            or not isinstance(max_mailboxes, int)
            or max_mailboxes < 0
        ):
            raise errors.ValidationError("The mailbox limit must be a whole number, 0 or more")
        self._require(Operation.CREATE_TENANT)
        return await self._call(
            Operation.CREATE_TENANT,
            {"tenant": tenant, "plan": plan, "max_mailboxes": max_mailboxes},
            dry_run,
            lambda: self._create_tenant(tenant, plan, max_mailboxes),
        )

    @final
    async def delete_tenant(self, tenant: TenantRef, *, dry_run: bool = False) -> ChangeResult[str]:
        """Remove a tenant from the platform (optional capability ``delete_tenant``);
        ``before``/``after`` are ``"present"`` or ``"absent"``; a tenant already gone is
        ``unchanged``. A platform that refuses to remove a tenant that still has
        mailboxes says so (delete them first, as ``terminate`` does)."""
        tenant = _coerce(TenantRef, tenant, "tenant")
        self._require(Operation.DELETE_TENANT)
        return await self._call(
            Operation.DELETE_TENANT,
            {"tenant": tenant},
            dry_run,
            lambda: self._delete_tenant(tenant),
        )

    # -- what a plugin implements ----------------------------------------------------------

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        raise NotImplementedError

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        raise NotImplementedError

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        raise NotImplementedError

    async def _get_licence(self) -> Licence:
        # A platform without licences (declared ``licence=LicenceModel(kind="none")``)
        # need not write this: nothing is licensed, so nothing is limited or counted.
        if self.instance_capabilities.licence.kind is LicenceKind.NONE:
            return Licence(seats_licensed=None, seats_used=0, state=LicenceState.NONE)
        raise NotImplementedError

    async def _test_connection(self) -> ConnectionStatus:
        raise NotImplementedError

    async def _list_plans(self) -> list[NativePlan]:
        raise NotImplementedError

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        raise NotImplementedError

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        raise NotImplementedError

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        raise NotImplementedError

    async def _set_password(self, mailbox: MailboxRef, password: str) -> ChangeResult[str]:
        raise NotImplementedError

    async def _read_settings(self, mailbox: MailboxRef) -> MailboxSettings:
        """What the platform holds of the mailbox's settings (``NotFoundError`` when the
        mailbox does not exist). Needed by every settings operation declared."""
        raise NotImplementedError

    async def _write_settings(
        self, mailbox: MailboxRef, held: MailboxSettings, wanted: MailboxSettings
    ) -> None:
        """Send what makes the platform hold ``wanted`` (it differs from ``held`` in one
        field); called only when something changes and never in a dry run."""
        raise NotImplementedError

    async def _single_sign_on(self, mailbox: MailboxRef) -> SignOn:
        raise NotImplementedError

    async def _list_tenants(self) -> list[TenantRef]:
        raise NotImplementedError

    async def _suspend_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        raise NotImplementedError

    async def _resume_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        raise NotImplementedError

    async def _suspend_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        raise NotImplementedError

    async def _resume_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        raise NotImplementedError

    async def _create_tenant(
        self, tenant: TenantRef, plan: str | None, max_mailboxes: int | None
    ) -> ChangeResult[str]:
        raise NotImplementedError

    async def _delete_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        raise NotImplementedError

    # -- machinery ------------------------------------------------------------------------

    def _require(self, feature: str | Operation) -> None:
        capabilities = self.instance_capabilities
        if not capabilities.supports(feature):
            raise errors.UnsupportedOperation(
                str(feature), self.instance, capabilities.reason(feature)
            )

    async def _call(
        self,
        operation: Operation,
        arguments: dict[str, Any],
        dry_run: bool,
        impl: Callable[[], Awaitable[R]],
    ) -> R:
        # A call made inside an outer dry run is one too (the scope cannot be left).
        dry_run = dry_run or dry_run_active()
        call = CallInfo(self.instance, self.name, operation.value, arguments, dry_run)
        # One call path (mailadmin.contract.calls): per-subject serialisation, hooks,
        # dry-run scope, the one dry-run rule and error normalisation, shared with the
        # orchestrator. The operation name lets Provider.change() label its result.
        from mailadmin.contract.calls import run_call

        token = _current_operation.set(operation.value)
        try:
            return await run_call(self, call, impl)
        finally:
            _current_operation.reset(token)

    async def change(self, change: Change[T], *, operation: str | None = None) -> ChangeResult[T]:
        """Carry out a described write and report it; see :mod:`mailadmin.contract.change`.

        ``before == after`` (or ``change.same``): ``unchanged``, nothing is sent. A dry
        run: ``changed``, nothing is sent (``change.check()`` runs, to raise what the write
        would). Otherwise ``change.apply()`` runs once; an
        operation id it returns makes the outcome ``accepted``. ``operation`` defaults to
        the contract operation being called (``"set_plan"``).
        """
        name = operation or _current_operation.get()
        if not name:
            raise RuntimeError("Provider.change() needs operation= outside a provider call")
        # What the platform reported is checked before anything is compared or sent.
        check_read_value(
            change.before, what=f"current value of {change.subject}", source=self.instance
        )
        result: ChangeResult[T] = ChangeResult[T](
            operation=name,
            subject=change.subject,
            outcome=Outcome.CHANGED,
            before=change.before,
            after=change.after,
            note=change.note,
            dry_run=self.dry_run,
        )
        if not change.needed:
            return result.model_copy(update={"outcome": Outcome.UNCHANGED})
        if self.dry_run:
            if change.check is not None:
                await change.check()
            return result
        observer = _CHANGE_OBSERVER.get()
        if observer is not None:
            await observer(change)  # the journal records the state read before sending
        from mailadmin.wire.transport import sent_once

        try:
            with sent_once():
                applied = await change.apply()
        except Exception as exc:
            if change.verify is None or isinstance(exc, errors.PolicyDenied):
                raise
            if change.before is None and isinstance(exc, errors.ConflictError):
                # A creation the platform refused as "already there": what a read-back
                # would find is someone else's, not this write.
                raise
            error = normalise(exc, self.instance)
            if not _maybe_sent(exc, error):
                raise
            found = await self._read_back(change, error, exc)
            if not found.complete:
                if not found.applied:
                    error.debug["verified"] = {"applied": [], "state": found.state}
                    raise error from exc
                raise errors.PartialChange(
                    f"The change of {change.subject} was only partly applied "
                    f"({', '.join(found.applied)} done; {', '.join(found.missing)} not)",
                    applied=found.applied,
                    missing=found.missing,
                    state=found.state,
                    debug={"error": error.message, **error.debug},
                ) from exc
            # The platform holds the target although its answer was lost: report the truth.
            note = "the answer was lost; read back: the platform holds the target"
            return result.model_copy(update={"note": f"{result.note}; {note}".lstrip("; ")})
        if isinstance(applied, str):
            return result.model_copy(update={"outcome": Outcome.ACCEPTED, "operation_id": applied})
        if isinstance(applied, Applied):
            update: dict[str, Any] = {}
            if applied.before is not None:
                update["before"] = applied.before
            if applied.after is not None:
                update["after"] = applied.after
            if applied.operation_id is not None:
                update |= {"outcome": Outcome.ACCEPTED, "operation_id": applied.operation_id}
            return result.model_copy(update=update)
        return result

    async def _read_back(
        self, change: Change[Any], error: errors.MailadminError, exc: BaseException
    ) -> Verified:
        """Read the subject back after a failed write; after a timeout, keep reading for
        up to twice the transport timeout, so a request still on its way is seen landing while
        this write still holds the subject's lock."""
        import asyncio
        import time

        assert change.verify is not None
        window = 0.0
        if _timed_out(exc):
            # The platform may still be working on it: wait as long again as we waited.
            window = _VERIFY_WINDOW.get() or 2 * float(self.settings.timeout)
        deadline = time.monotonic() + window
        while True:
            try:
                found = await change.verify()
            except Exception as failure:
                raise errors.OutcomeUnknown(
                    f"{self.instance} may or may not have applied the change of "
                    f"{change.subject}: its answer was lost and reading it back failed",
                    debug={"error": error.message, "read_back": str(normalise(failure))},
                ) from exc
            if found.complete or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.1)
        if window and not found.complete and found.applied == ():
            # Still not there after the window: it may land later; only resume can tell.
            raise errors.OutcomeUnknown(
                f"{self.instance} did not answer the change of {change.subject} in time and "
                "does not show it yet",
                debug={"error": error.message, "state": found.state},
            ) from exc
        return found


#: Set by the journal: awaited with each change just before it is sent.
_CHANGE_OBSERVER: ContextVar[Callable[[Change[Any]], Awaitable[None]] | None] = ContextVar(
    "mailadmin_change_observer", default=None
)
#: How long a timed-out write is read back for while it may still land (seconds; 0: twice
#: the provider's timeout).
_VERIFY_WINDOW: ContextVar[float] = ContextVar("mailadmin_verify_window", default=0.0)


def _timed_out(exc: BaseException) -> bool:
    import httpx

    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:  # chains can loop
        if isinstance(seen, httpx.TimeoutException):
            return True
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return False


def _maybe_sent(exc: BaseException, error: errors.MailadminError) -> bool:
    """False for errors raised before anything could reach the platform."""
    from mailadmin.wire.dryrun import DryRunViolation

    return not isinstance(error, DryRunViolation | errors.ValidationError)


def normalise(exc: BaseException, provider: str = "the platform") -> errors.MailadminError:
    """Turn any exception raised by provider code into a user-safe mailadmin error."""
    if isinstance(exc, errors.MailadminError):
        return exc
    import httpx

    debug = {"exception": f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"}
    if isinstance(exc, httpx.TimeoutException):
        return errors.Unavailable(f"{provider} did not answer in time", debug=debug)
    if isinstance(exc, httpx.TransportError):
        return errors.Unavailable(f"{provider} could not be reached", debug=debug)
    if errors.store_unreachable(exc):
        # Not the platform's failure: the journal's database went away mid-call.
        return errors.StoreUnavailable(
            "The store (the journal's database) cannot be reached", debug=debug
        )
    if isinstance(exc, pydantic.ValidationError):
        return errors.ProtocolError(
            f"{provider} sent an answer that could not be read", debug=debug
        )
    log.exception("unexpected error in provider %s", provider)
    return errors.ProviderError(f"{provider} failed unexpectedly", debug=debug)


@contextmanager
def _log_call(call: CallInfo) -> Iterator[None]:
    log.debug("call %s %s.%s dry_run=%s", call.call_id, call.provider, call.operation, call.dry_run)
    yield


#: The longest password accepted (every platform's limit is at least this).
MAX_PASSWORD = 128


def check_password(password: object) -> pydantic.SecretStr:
    """A password as a secret, refused with a message that never shows it."""
    if isinstance(password, pydantic.SecretStr):
        password = password.get_secret_value()
    if not isinstance(password, str):
        raise errors.ValidationError("The password must be text")
    if not password:
        raise errors.ValidationError("The password must not be empty")
    if len(password) > MAX_PASSWORD:
        raise errors.ValidationError(f"The password must be at most {MAX_PASSWORD} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise errors.ValidationError("The password must not contain control characters")
    return pydantic.SecretStr(password)


#: Operations a plugin implements through shared hooks, not a ``_name`` method of its own.
_HOOKED = SETTINGS | {Operation.LIST_ALIASES.value}


def plugin_hooks(operation: Operation | str) -> tuple[str, ...]:
    """The methods a plugin writes to implement ``operation``: ``_set_plan`` for
    ``set_plan``; the settings read and write for the settings operations."""
    name = str(operation)
    if name in SETTINGS:
        return ("_read_settings", "_write_settings")
    if name == Operation.LIST_ALIASES.value:
        return ("_read_settings",)
    return (f"_{name}",)


#: The longest display name accepted (Exchange's limit, the smallest of the platforms).
MAX_DISPLAY_NAME = 256
#: The largest quota in MB accepted (a signed 32-bit number of MB on every platform).
MAX_QUOTA_MB = 2**31 - 1


def check_display_name(name: object) -> str:
    """A display name: one line of text, at most :data:`MAX_DISPLAY_NAME` characters."""
    if not isinstance(name, str):
        raise errors.ValidationError("The display name must be text")
    name = name.strip()
    if not name:
        raise errors.ValidationError("The display name must not be empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise errors.ValidationError(
            f"The display name must be at most {MAX_DISPLAY_NAME} characters"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise errors.ValidationError("The display name must not contain control characters")
    return name


def _address(value: object, what: str) -> str:
    from mailadmin.models import Address

    if not isinstance(value, str):
        raise errors.ValidationError(f"The {what} must be a mail address")
    try:
        return str(pydantic.TypeAdapter(Address).validate_python(value))
    except pydantic.ValidationError:
        raise errors.ValidationError(
            f"The {what} {value.strip()[:100]!r} is not a valid mail address"
        ) from None


def check_setting(operation: str, value: object, mailbox: MailboxRef | None = None) -> Any:
    """The value of a settings operation, checked (``ValidationError`` before anything is
    sent): a display name, a forwarding address (``""`` stops forwarding), a quota in MB,
    an alias (never the mailbox's own address)."""
    if operation == Operation.SET_DISPLAY_NAME:
        return check_display_name(value)
    if operation == Operation.SET_FORWARDING:
        if isinstance(value, str) and not value.strip():
            return ""
        address = _address(value, "forwarding address")
        if mailbox is not None and address == mailbox.address:
            raise errors.ValidationError("A mailbox cannot forward its mail to itself")
        return address
    if operation == Operation.SET_QUOTA:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUOTA_MB:
            raise errors.ValidationError(
                f"The quota must be a whole number of MB from 1 to {MAX_QUOTA_MB}"
            )
        return value
    if operation in (Operation.ADD_ALIAS, Operation.REMOVE_ALIAS):
        alias = _address(value, "alias")
        if mailbox is not None and alias == mailbox.address:
            raise errors.ValidationError("An alias cannot be the mailbox's own address")
        return alias
    raise errors.ValidationError(f"{operation!r} is not a mailbox setting")


def _normal(held: MailboxSettings) -> MailboxSettings:
    """Aliases as the contract compares them: lower case, sorted, once each."""
    aliases = tuple(sorted({a.strip().lower() for a in held.aliases if a.strip()}))
    return held if aliases == held.aliases else held.model_copy(update={"aliases": aliases})


def _wanted(operation: str, held: MailboxSettings, value: Any) -> tuple[str, Any]:
    """The settings field an operation writes, and the value it should hold."""
    if operation == Operation.SET_DISPLAY_NAME:
        return "display_name", value
    if operation == Operation.SET_FORWARDING:
        return "forwarding", value
    if operation == Operation.SET_QUOTA:
        return "quota_mb", value
    aliases = set(held.aliases)
    if operation == Operation.ADD_ALIAS:
        aliases.add(value)
    else:
        aliases.discard(value)
    return "aliases", tuple(sorted(aliases))


def _coerce(model: type[Any], value: Any, what: str) -> Any:
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        raise errors.ValidationError(
            f"Invalid {what}: " + "; ".join(_describe(e) for e in exc.errors())
        ) from None


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "value"
    return f"{where}: {error.get('msg', 'invalid')}"


def _validate_settings(
    cls: type[Provider[SettingsT]], settings: ProviderSettings | Mapping[str, Any] | None
) -> SettingsT:
    # _check_subclass made sure settings_model is the class's type parameter (or narrower).
    model = cast("type[SettingsT]", cls.settings_model)
    if isinstance(settings, model):
        return settings
    raw = settings.model_dump() if isinstance(settings, ProviderSettings) else dict(settings or {})
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise errors.ConfigurationError(
            f"Invalid settings for provider '{cls.name}': "
            + "; ".join(_describe(e) for e in exc.errors())
        ) from None


def _narrowed(cls: type[Provider[Any]], settings: ProviderSettings) -> Capabilities:
    """``cls.capabilities_for(settings)``, refused when it claims more than the class."""
    own = cls.capabilities_for(settings)
    if own is cls.capabilities or own._supported_keys() <= cls.capabilities._supported_keys():
        return own  # the usual case, checked without building the matrix (per instance)
    wider = [f.key for f in own.features() if f.supported and not cls.capabilities.supports(f.key)]
    if wider:
        raise TypeError(
            f"{cls.__qualname__}.capabilities_for widens the class's capabilities: "
            + ", ".join(wider)
        )
    return own


def _check_subclass(cls: type[Provider]) -> None:
    """Refuse a provider class that drifts from the contract."""
    declared = _settings_parameter(cls)
    if declared is not None and not issubclass(cls.settings_model, declared):
        raise TypeError(
            f"{cls.__qualname__}.settings_model is {cls.settings_model.__qualname__}, "
            f"not the {declared.__qualname__} its Provider[...] base names"
        )
    for public in _PUBLIC:
        if public in cls.__dict__:
            raise TypeError(
                f"{cls.__qualname__} overrides the final method '{public}'; "
                f"implement '_{public}' instead"
            )
    for public in _PUBLIC:
        protected = f"_{public}"
        impl = cls.__dict__.get(protected)
        if impl is None:
            continue
        if not inspect.iscoroutinefunction(impl):
            raise TypeError(f"{cls.__qualname__}.{protected} must be 'async def'")
        expected = [
            p.name for p in inspect.signature(getattr(Provider, protected)).parameters.values()
        ]
        got = [p.name for p in inspect.signature(impl).parameters.values()]
        if got != expected:
            raise TypeError(
                f"{cls.__qualname__}.{protected} takes ({', '.join(got)}); "
                f"the contract says ({', '.join(expected)})"
            )
    if not cls.name:
        return  # an abstract intermediate class
    missing = [
        f"_{op.value}"
        for op in Operation
        if (op in REQUIRED or op in cls.capabilities.operations)
        and op.value not in _HOOKED
        and getattr(cls, f"_{op.value}") is getattr(Provider, f"_{op.value}")
        and not (op is Operation.GET_LICENCE and cls.capabilities.licence.kind is LicenceKind.NONE)
    ]
    for op in cls.capabilities.operations:
        if op.value in _HOOKED:
            missing += [
                hook
                for hook in plugin_hooks(op)
                if getattr(cls, hook) is getattr(Provider, hook) and hook not in missing
            ]
    if missing:
        raise TypeError(f"{cls.__qualname__} declares but does not implement: {', '.join(missing)}")


def _settings_parameter(cls: type[Provider]) -> type[ProviderSettings] | None:
    """The settings model named in ``Provider[...]`` among the bases of ``cls``, if any."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            args = getattr(base, "__args__", ())
            origin = getattr(base, "__origin__", None)
            if (
                isinstance(origin, type)
                and issubclass(origin, Provider)
                and args
                and isinstance(args[0], type)
                and issubclass(args[0], ProviderSettings)
            ):
                return args[0]
    return None
