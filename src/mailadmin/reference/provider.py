"""The reference provider: the whole contract over the memory platform's JSON API.

Plugin authors: copy this file. It imports from :mod:`mailadmin.sdk` only. Each write
reads what is there, describes the write as a :class:`~mailadmin.sdk.Change` and returns
``await self.change(...)`` (the base class decides unchanged, dry run or change);
answers are parsed into small tolerant models; the platform's error codes map to
mailadmin errors in one :class:`~mailadmin.sdk.ErrorTable` with user-safe messages, the
platform's own words kept in ``error.debug``.

Settings (``[instances.<name>]``, provider ``"memory"``)::

    endpoint = "http://127.0.0.1:8080"     # none: a private in-process memory platform
    credentials = { username = "admin", secret = "secret" }   # the defaults
    plans.mail = { native = "basic", quota_mb = 2048 }        # the defaults: mail, sync,
    plans.sync = { native = "standard", quota_mb = 5120 }     # collaborate on basic,
    plans.collaborate = { native = "premium", quota_mb = 10240 }   # standard, premium

Without an endpoint, ``MemoryProvider({})`` talks to a fresh in-process
:class:`~mailadmin.mock.MockServer` of the memory platform (its default state: tenant
``example.com``; see :mod:`mailadmin.reference.mock.state`), kept in ``mock_server``.

Add-ons map to the platform's tenant allocations: ``mailboxes`` -> ``user_seats``,
``mailboxes:<plan>`` -> ``user_seats:<native plan>``, ``shared_mailbox`` ->
``shared_mailboxes``, ``resource_mailbox`` -> ``resource_mailboxes`` (rooms and
equipment), ``storage_gb`` -> ``extra_storage_gb``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mailadmin.sdk import (
    KNOWN_ADDONS,
    AddonRef,
    Applied,
    CallHooks,
    Capabilities,
    Change,
    ChangeResult,
    ConnectionStatus,
    Credentials,
    ErrorRule,
    ErrorTable,
    JsonClient,
    Licence,
    LicenceFeature,
    LicenceKind,
    LicenceModel,
    LicenceState,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    NativePlan,
    NewMailbox,
    OffsetPage,
    Operation,
    PlanMapping,
    Provider,
    ProviderSettings,
    TenantRef,
    Verified,
    errors,
    offset_pages,
)

if TYPE_CHECKING:
    import httpx

    from mailadmin.mock import MockServer

__all__ = ["DEFAULT_PLANS", "ERRORS", "MemoryPlan", "MemoryProvider", "MemorySettings"]

_MAX_PAGES = 1000
_PAGE = 100  # asked for; the platform picks its page size and says when more follow


class MemoryPlan(PlanMapping):
    """A neutral plan on the memory platform: its ``native`` plan and ``quota_mb``."""

    native: str


#: The neutral catalogue on the platform's default plans.
DEFAULT_PLANS: dict[str, MemoryPlan] = {
    "mail": MemoryPlan(native="basic", quota_mb=2048),
    "sync": MemoryPlan(native="standard", quota_mb=5120),
    "collaborate": MemoryPlan(native="premium", quota_mb=10240),
}


class MemorySettings(ProviderSettings):
    """Settings of a memory provider instance; credentials default to the mock's admin."""

    credentials: Credentials = Credentials(username="admin", secret=SecretStr("secret"))
    plans: dict[str, MemoryPlan] = Field(default_factory=lambda: dict(DEFAULT_PLANS))  # type: ignore[assignment]


# -- the platform's answers, read tolerantly (unknown fields ignored) -------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Mailbox(_Wire):
    address: str
    kind: MailboxKind
    plan: str | None = None
    quota_mb: int | None = None
    display_name: str = ""
    status: str = "active"
    forwarding: str = ""
    aliases: list[str] = Field(default_factory=list)


class _Page(_Wire):
    mailboxes: list[_Mailbox]
    next: str | None = None


class _Tenant(_Wire):
    allocations: dict[str, int]
    usage: dict[str, int]
    status: str = "active"


class _Plan(_Wire):
    name: str
    description: str = ""
    quota_mb: int | None = None
    features: list[str] = Field(default_factory=list)


class _Seats(_Wire):
    licensed: int | None
    used: int


class _PlanUse(_Wire):
    name: str
    used: int


class _Licence(_Wire):
    seats: _Seats
    state: LicenceState
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    maintenance_until: datetime | None = None
    plans: list[_PlanUse] = Field(default_factory=list)


class _PlanState(_Wire):
    plan: str | None


class _Operation(_Wire):
    id: str
    state: str
    error: str | None = None


_W = TypeVar("_W", bound=BaseModel)


def _write_answer(model: type[_W], answer: Any, operation: str) -> _W:
    """A write's answer read as ``model``; fields of the wrong type say nothing about
    whether the write landed: OutcomeUnknown, so the change is read back."""
    try:
        return model.model_validate(answer)
    except pydantic.ValidationError as exc:
        raise errors.OutcomeUnknown(
            f"The platform answered {operation} with fields of the wrong type",
            debug={"errors": exc.errors(include_url=False, include_input=False)},
        ) from None


class _PlanChange(_Wire):
    changed: bool = True
    before: _PlanState
    after: _PlanState | None = None
    operation: _Operation | None = None


class _AllocationChange(_Wire):
    before: int | None
    after: int


_ADDON_ALLOCATIONS = {
    "mailboxes": "user_seats",
    "shared_mailbox": "shared_mailboxes",
    "resource_mailbox": "resource_mailboxes",
    "storage_gb": "extra_storage_gb",
}
_KIND_ALLOCATIONS = {
    MailboxKind.SHARED: "shared_mailboxes",
    MailboxKind.ROOM: "resource_mailboxes",
    MailboxKind.EQUIPMENT: "resource_mailboxes",
}


class MemoryProvider(Provider[MemorySettings]):
    """Provider of the in-memory reference platform (every operation, all four kinds)."""

    name = "memory"
    platform = "In-memory reference platform"
    capabilities = Capabilities(
        operations=frozenset(
            {
                Operation.LIST_MAILBOXES,
                Operation.CREATE_MAILBOX,
                Operation.DELETE_MAILBOX,
                Operation.SET_PASSWORD,
                Operation.SUSPEND_MAILBOX,
                Operation.RESUME_MAILBOX,
                Operation.SUSPEND_TENANT,
                Operation.RESUME_TENANT,
                Operation.SET_DISPLAY_NAME,
                Operation.SET_FORWARDING,
                Operation.SET_QUOTA,
                Operation.ADD_ALIAS,
                Operation.REMOVE_ALIAS,
                Operation.LIST_ALIASES,
                Operation.LIST_TENANTS,
                Operation.CREATE_TENANT,
                Operation.DELETE_TENANT,
            }
        ),
        mailbox_kinds=frozenset(MailboxKind),
        addons=frozenset(KNOWN_ADDONS),
        unsupported={"single_sign_on": "the reference platform has no web sign-in"},
        # A seat count the platform reports, like most hosted platforms.
        licence=LicenceModel(kind=LicenceKind.PER_SEAT),
    )
    settings_model = MemorySettings

    def __init__(
        self,
        settings: ProviderSettings | Mapping[str, Any] | None = None,
        *,
        instance: str | None = None,
        http: httpx.AsyncBaseTransport | None = None,
        hooks: CallHooks | None = None,
    ) -> None:
        """As :class:`~mailadmin.sdk.Provider`; with neither ``endpoint`` nor ``http``, a
        private in-process memory platform answers (``mock_server``)."""
        self.mock_server: MockServer | None = None
        if http is None and not _endpoint_of(settings):
            from mailadmin.mock import MockServer
            from mailadmin.reference.mock import MemoryMock

            self.mock_server = MockServer(MemoryMock)
            http = self.mock_server.transport()
        super().__init__(settings, instance=instance, http=http, hooks=hooks)

    @property
    def api(self) -> JsonClient:
        """The platform's JSON API, signed in with HTTP Basic (cheap to build)."""
        import httpx

        credentials = self.settings.credentials
        auth = httpx.BasicAuth(credentials.username, credentials.secret.get_secret_value())
        return JsonClient(self.http, name=self.instance, errors=ERRORS, auth=auth)

    # -- required operations -------------------------------------------------------------

    async def _test_connection(self) -> ConnectionStatus:
        answer = await self.api.get("/api/ping", operation="ping")
        return ConnectionStatus(ok=True, platform=self.platform, version=answer.get("version"))

    async def _list_plans(self) -> list[NativePlan]:
        answer = await self.api.get("/api/plans", operation="list_plans")
        plans = [_Plan.model_validate(item) for item in answer.get("plans", [])]
        return [
            NativePlan(
                native_name=plan.name,
                description=plan.description,
                quota_mb=plan.quota_mb,
                features=tuple(plan.features),
                neutral_name=self._neutral(plan.name),
            )
            for plan in plans
        ]

    async def _get_licence(self) -> Licence:
        licence = _Licence.model_validate(await self.api.get("/api/licence", operation="licence"))
        return Licence(
            seats_licensed=licence.seats.licensed,
            seats_used=licence.seats.used,
            features=tuple(LicenceFeature(name=p.name, used=p.used) for p in licence.plans),
            valid_from=licence.valid_from,
            valid_until=licence.valid_until,
            state=licence.state,
            maintenance_until=licence.maintenance_until,
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        by_kind = dict.fromkeys(MailboxKind, 0)
        by_plan: dict[str, int] = {}
        async for mailbox in self._mailboxes(tenant):
            by_kind[mailbox.kind] += 1
            if mailbox.kind is MailboxKind.USER:
                plan = self._neutral(mailbox.plan) or "unmapped"
                by_plan[plan] = by_plan.get(plan, 0) + 1
        return MailboxCount(tenant=tenant.name, by_kind=by_kind, by_plan=by_plan)

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        target = self._plan(plan)
        current = await self._get_mailbox(mailbox)
        if current is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")
        if current.kind is not MailboxKind.USER:
            raise errors.ConflictError(
                f"{mailbox.address} is a {current.kind.value} mailbox; only user mailboxes "
                "have a plan"
            )

        async def put_plan() -> str | None:
            answer = await self.api.put(
                f"{_mailbox_path(mailbox)}/plan",
                json={"plan": target.native, "quota_mb": target.quota_mb},
                idempotent=True,  # an absolute target: sending it twice changes nothing more
                operation="change_plan",
                subject=mailbox.address,
            )
            change = _write_answer(_PlanChange, answer, "change_plan")
            if change.operation is None:
                return None
            if change.operation.state == "failed":
                raise errors.ProviderError(
                    f"The plan change of {mailbox.address} failed",
                    debug={"operation": change.operation.model_dump()},
                )
            return change.operation.id  # the platform finishes it later: accepted

        async def verify() -> Verified:
            # Read back after a lost answer: one step, so all or nothing.
            now = await self._get_mailbox(mailbox)
            held = now is not None and now.plan == target.native
            held = held and now is not None and target.quota_mb in (None, now.quota_mb)
            state = {"plan": now.plan, "quota_mb": now.quota_mb} if now else None
            return Verified(("plan",), (), state) if held else Verified((), ("plan",), state)

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self._neutral(current.plan) or current.plan,
                after=plan,
                apply=put_plan,
                # The plan name alone hides a quota that drifted: compare both.
                same=current.plan == target.native and target.quota_mb in (None, current.quota_mb),
                verify=verify,
            )
        )

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        allocation = self._allocation(addon)
        state = await self._tenant(tenant)
        current = state.allocations.get(allocation)
        in_use = state.usage.get(allocation, 0)
        if current != quantity and quantity < in_use:
            raise errors.ConflictError(
                f"The {addon} add-on of {tenant.name} cannot go below the {in_use} in use"
            )

        async def put_allocation() -> Applied[int]:
            answer = await self.api.put(
                f"{_tenant_path(tenant)}/allocations/{quote(allocation, safe=':')}",
                json={"quantity": quantity},
                idempotent=True,  # absolute, so a retry is harmless
                operation="set_allocation",
                subject=tenant.name,
            )
            change = _write_answer(_AllocationChange, answer, "change_allocation")
            return Applied(before=change.before, after=change.after)

        return await self.change(
            Change(subject=tenant.name, before=current, after=quantity, apply=put_allocation)
        )

    # -- optional operations --------------------------------------------------------------

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        return [self._to_mailbox(m) async for m in self._mailboxes(tenant)]

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        ref = MailboxRef(tenant=tenant, address=mailbox.address)
        existing = await self._get_mailbox(ref)
        if existing is not None:
            if existing.kind is not mailbox.kind or (
                mailbox.plan is not None and existing.plan != self._plan(mailbox.plan).native
            ):
                raise errors.ConflictError(f"{mailbox.address} already exists, set up otherwise")
            found = self._to_mailbox(existing)
            return await self.change(
                Change(subject=mailbox.address, before=found, after=found, apply=_nothing)
            )
        user = mailbox.kind is MailboxKind.USER
        target = self._plan(mailbox.plan) if user and mailbox.plan else None
        planned = Mailbox(
            address=mailbox.address,
            kind=mailbox.kind,
            display_name=mailbox.display_name,
            plan=mailbox.plan,
            quota_mb=target.quota_mb if target else None,
        )

        async def post_mailbox() -> Applied[Mailbox]:
            body: dict[str, Any] = {
                "address": mailbox.address,
                "kind": mailbox.kind.value,
                "display_name": mailbox.display_name,
            }
            if target is not None:
                body |= {"plan": target.native, "quota_mb": target.quota_mb}
            if mailbox.password is not None:
                password = mailbox.password.get_secret_value()
                self.http.add_secret(password)  # never in a log line or an error's debug
                body["password"] = password
            answer = await self.api.post(
                f"{_tenant_path(tenant)}/mailboxes",
                json=body,
                operation="create_mailbox",
                subject=mailbox.address,
            )
            return Applied(after=self._to_mailbox(_Mailbox.model_validate(answer)))

        return await self.change(
            Change(
                subject=mailbox.address,
                before=None,
                after=planned,
                apply=post_mailbox,
                # a dry run reports what the write would do, refusals included
                check=lambda: self._check_room(tenant, mailbox, target),
            )
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        existing = await self._get_mailbox(mailbox)

        async def delete() -> None:
            await self.api.delete(
                _mailbox_path(mailbox),
                operation="delete_mailbox",
                subject=mailbox.address,
                missing="mailbox_not_found",  # deleted meanwhile: the target holds
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self._to_mailbox(existing) if existing else None,
                after=None,
                apply=delete,
            )
        )

    async def _set_password(self, mailbox: MailboxRef, password: str) -> ChangeResult[str]:
        async def put_password() -> None:
            await self.api.put(
                f"{_mailbox_path(mailbox)}/password",
                json={"password": password},
                idempotent=True,
                operation="set_password",
                subject=mailbox.address,
            )

        async def check() -> None:
            if await self._get_mailbox(mailbox) is None:
                raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")

        # A password cannot be read back: the change is always sent, and harmless again.
        return await self.change(
            Change(
                subject=mailbox.address,
                before="set",
                after="set",
                same=False,
                apply=put_password,
                check=check,
            )
        )

    async def _list_tenants(self) -> list[TenantRef]:
        answer = await self.api.get("/api/tenants", operation="list_tenants")
        names = answer.get("tenants", []) if isinstance(answer, dict) else []
        return [TenantRef(name=str(n)) for n in names]

    async def _read_settings(self, mailbox: MailboxRef) -> MailboxSettings:
        found = await self._get_mailbox(mailbox)
        if found is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")
        return MailboxSettings(
            display_name=found.display_name,
            forwarding=found.forwarding,
            quota_mb=found.quota_mb,
            aliases=tuple(found.aliases),
        )

    async def _write_settings(
        self, mailbox: MailboxRef, held: MailboxSettings, wanted: MailboxSettings
    ) -> None:
        # Only what differs is sent; every field is replaced whole, so a retry is harmless.
        body = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in wanted.model_dump().items()
            if value != getattr(held, name)
        }
        await self.api.patch(
            _mailbox_path(mailbox),
            json=body,
            idempotent=True,
            operation="change_settings",
            subject=mailbox.address,
        )

    async def _suspend_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._mailbox_status(mailbox, "suspended")

    async def _resume_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._mailbox_status(mailbox, "active")

    async def _mailbox_status(self, mailbox: MailboxRef, wanted: str) -> ChangeResult[str]:
        found = await self._get_mailbox(mailbox)
        if found is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")
        change = self._status_change(mailbox.address, found.status, wanted, _mailbox_path(mailbox))
        return await self.change(change)

    async def _suspend_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._tenant_status(tenant, "suspended")

    async def _resume_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._tenant_status(tenant, "active")

    async def _tenant_status(self, tenant: TenantRef, wanted: str) -> ChangeResult[str]:
        found = await self._tenant(tenant)
        return await self.change(
            self._status_change(tenant.name, found.status, wanted, _tenant_path(tenant))
        )

    async def _create_tenant(
        self, tenant: TenantRef, plan: str | None, max_mailboxes: int | None
    ) -> ChangeResult[str]:
        # The memory platform has no default plan per tenant: its limit is its seats.
        allocations = {} if max_mailboxes is None else {"user_seats": max_mailboxes}

        async def post() -> None:
            await self.api.post(
                "/api/tenants",
                json={"name": tenant.key.lower(), "allocations": allocations},
                operation="create_tenant",
                subject=tenant.name,
            )

        held = _PRESENT if await self._find_tenant(tenant) else _ABSENT
        return await self.change(
            Change(subject=tenant.name, before=held, after=_PRESENT, apply=post)
        )

    async def _delete_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        async def delete() -> None:
            await self.api.delete(
                _tenant_path(tenant),
                operation="delete_tenant",
                subject=tenant.name,
                missing="tenant_not_found",  # removed meanwhile: the target holds
            )

        held = _PRESENT if await self._find_tenant(tenant) else _ABSENT
        return await self.change(
            Change(subject=tenant.name, before=held, after=_ABSENT, apply=delete)
        )

    async def _find_tenant(self, tenant: TenantRef) -> bool:
        answer = await self.api.get(
            _tenant_path(tenant),
            operation="get_tenant",
            subject=tenant.name,
            missing="tenant_not_found",
        )
        return answer is not None

    def _status_change(self, subject: str, held: str, wanted: str, path: str) -> Change[str]:
        """``PUT {path}/status``; read back from ``GET {path}`` (a tenant or a mailbox, both
        answer their ``status``)."""

        async def put_status() -> None:
            await self.api.put(
                f"{path}/status",
                json={"status": wanted},
                idempotent=True,
                operation="set_status",
                subject=subject,
            )

        async def verify() -> Verified:
            answer = await self.api.get(path, operation="get_status", subject=subject)
            now = dict(answer or {}).get("status")
            state = {"status": now}
            if now == wanted:
                return Verified(("status",), (), state)
            return Verified((), ("status",), state)

        return Change(subject=subject, before=held, after=wanted, apply=put_status, verify=verify)

    # -- mapping ---------------------------------------------------------------------------

    def _plan(self, name: str) -> MemoryPlan:
        self.plan(name)  # a user-safe error for an unknown plan
        return self.settings.plans[name]

    def _neutral(self, native: str | None) -> str | None:
        for neutral, plan in self.settings.plans.items():
            if plan.native == native:
                return neutral
        return None

    def _allocation(self, addon: AddonRef) -> str:
        allocation = _ADDON_ALLOCATIONS[addon.name]
        if addon.plan is None:
            return allocation
        if addon.name != "mailboxes":
            raise errors.ValidationError(f"The add-on '{addon.name}' is not sold per plan")
        return f"{allocation}:{self._plan(addon.plan).native}"

    def _to_mailbox(self, wire: _Mailbox) -> Mailbox:
        return Mailbox(
            address=wire.address,
            kind=wire.kind,
            # The vocabulary of count_mailboxes: a neutral plan, or "unmapped".
            plan=(self._neutral(wire.plan) or "unmapped")
            if wire.kind is MailboxKind.USER
            else None,
            display_name=wire.display_name,
            quota_mb=wire.quota_mb,
        )

    async def _check_room(
        self, tenant: TenantRef, mailbox: NewMailbox, target: MemoryPlan | None
    ) -> None:
        """Refuse, as the platform would, a mailbox the tenant's allocations leave no room
        for."""
        state = await self._tenant(tenant)
        if mailbox.kind is MailboxKind.USER:
            native = target.native if target else "basic"
            needed = ["user_seats", f"user_seats:{native}"]
        else:
            needed = [_KIND_ALLOCATIONS[mailbox.kind]]
        for allocation in needed:
            limit = state.allocations.get(allocation)
            if limit is not None and state.usage.get(allocation, 0) >= limit:
                raise errors.QuotaExceeded(
                    f"No add-on allocation is left for {mailbox.address}; buy more to continue"
                )

    # -- reading the platform --------------------------------------------------------------

    async def _mailboxes(self, tenant: TenantRef) -> AsyncIterator[_Mailbox]:
        """Every mailbox of the tenant, one page in memory at a time."""
        url = f"{_tenant_path(tenant)}/mailboxes"

        async def fetch(offset: int, limit: int) -> OffsetPage[_Mailbox]:
            answer = await self.api.get(
                url,
                params={"offset": offset} if offset else None,
                operation="list_mailboxes",
                subject=tenant.name,
            )
            page = _Page.model_validate(answer)
            return OffsetPage(page.mailboxes, more=page.next is not None)

        async for page in offset_pages(fetch, page_size=_PAGE, max_pages=_MAX_PAGES):
            for mailbox in page:
                yield mailbox

    async def _tenant(self, tenant: TenantRef) -> _Tenant:
        answer = await self.api.get(
            _tenant_path(tenant), operation="get_tenant", subject=tenant.name
        )
        return _Tenant.model_validate(answer)

    async def _get_mailbox(self, mailbox: MailboxRef) -> _Mailbox | None:
        answer = await self.api.get(
            _mailbox_path(mailbox),
            operation="get_mailbox",
            subject=mailbox.address,
            missing="mailbox_not_found",
        )
        return None if answer is None else _Mailbox.model_validate(answer)


#: Platform error code -> the mailadmin error and its user-safe message; any other error
#: answer maps by its HTTP status.
ERRORS = ErrorTable(
    [
        ErrorRule(
            code="unauthorized",
            error=errors.AuthenticationError,
            message="{provider} rejected the credentials",
        ),
        ErrorRule(
            code="tenant_not_found",
            error=errors.NotFoundError,
            message="The tenant of {subject} does not exist",
        ),
        ErrorRule(
            code="mailbox_not_found",
            error=errors.NotFoundError,
            message="The mailbox {subject} does not exist",
        ),
        ErrorRule(
            code="allocation_exceeded",
            error=errors.QuotaExceeded,
            message="No add-on allocation is left for {subject}; buy more to continue",
        ),
        ErrorRule(
            code="tenant_not_empty",
            error=errors.ConflictError,
            message="{provider} keeps {subject} while it has mailboxes: delete them first",
        ),
        ErrorRule(
            code="tenant_exists", error=errors.ConflictError, message="{subject} already exists"
        ),
        ErrorRule(
            code="mailbox_exists", error=errors.ConflictError, message="{subject} already exists"
        ),
        ErrorRule(
            code="not_a_user_mailbox",
            error=errors.ConflictError,
            message="{subject} is not a user mailbox",
        ),
        ErrorRule(
            code="allocation_below_usage",
            error=errors.ConflictError,
            message="The add-on of {subject} cannot go below what is in use",
        ),
        ErrorRule(
            code="unknown_plan",
            error=errors.ConfigurationError,
            message="A plan configured for {provider} does not exist on the platform",
        ),
        ErrorRule(
            code="password_too_short",
            error=errors.ValidationError,
            message="{provider} refused the password of {subject}: it is too short "
            "(at least 6 characters)",
        ),
        ErrorRule(
            code="invalid_request",
            error=errors.ValidationError,
            message="{provider} refused a value sent for {subject} as invalid",
        ),
    ]
)


async def _nothing() -> None:
    """The apply of a change that is never needed."""


def _endpoint_of(settings: ProviderSettings | Mapping[str, Any] | None) -> str | None:
    if isinstance(settings, ProviderSettings):
        return settings.endpoint
    return (settings or {}).get("endpoint")


#: A tenant's creation and removal (the contract's before and after).
_PRESENT, _ABSENT = "present", "absent"


def _tenant_path(tenant: TenantRef) -> str:
    return f"/api/tenants/{quote(tenant.key.lower(), safe='')}"


def _mailbox_path(mailbox: MailboxRef) -> str:
    return f"{_tenant_path(mailbox.tenant)}/mailboxes/{quote(mailbox.address, safe='@')}"
