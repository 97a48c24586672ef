"""The reference provider: the whole contract over the memory platform's JSON API.

Plugin authors: copy this file. Each operation reads what it needs, decides (unchanged,
dry run, change), then writes once; answers are parsed into small tolerant models; every
platform error code maps to one mailadmin error with a user-safe message, the platform's
own words kept in ``error.debug``.

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

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mailadmin.contract import errors
from mailadmin.contract.capabilities import KNOWN_ADDONS, Capabilities, Operation
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    LicenceFeature,
    LicenceState,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Outcome,
    TenantRef,
)
from mailadmin.contract.provider import CallHooks, Provider
from mailadmin.contract.settings import Credentials, PlanMapping, ProviderSettings
from mailadmin.wire.transport import raise_for_status

if TYPE_CHECKING:
    import httpx

    from mailadmin.mock import MockServer

__all__ = ["DEFAULT_PLANS", "MemoryPlan", "MemoryProvider", "MemorySettings"]

_MAX_PAGES = 1000


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


class _Page(_Wire):
    mailboxes: list[_Mailbox]
    next: str | None = None


class _Tenant(_Wire):
    allocations: dict[str, int]
    usage: dict[str, int]


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
    plans: list[_PlanUse] = Field(default_factory=list)


class _PlanState(_Wire):
    plan: str | None


class _Operation(_Wire):
    id: str
    state: str
    error: str | None = None


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


class MemoryProvider(Provider):
    """Provider of the in-memory reference platform (every operation, all four kinds)."""

    name = "memory"
    platform = "In-memory reference platform"
    capabilities = Capabilities(
        operations=frozenset(
            {Operation.LIST_MAILBOXES, Operation.CREATE_MAILBOX, Operation.DELETE_MAILBOX}
        ),
        mailbox_kinds=frozenset(MailboxKind),
        addons=frozenset(KNOWN_ADDONS),
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
        """As :class:`~mailadmin.contract.provider.Provider`; with neither ``endpoint`` nor
        ``http``, a private in-process memory platform answers (``mock_server``)."""
        self.mock_server: MockServer | None = None
        if http is None and not _endpoint_of(settings):
            from mailadmin.mock import MockServer
            from mailadmin.reference.mock import MemoryMock

            self.mock_server = MockServer(MemoryMock)
            http = self.mock_server.transport()
        super().__init__(settings, instance=instance, http=http, hooks=hooks)

    # -- required operations -------------------------------------------------------------

    async def _test_connection(self) -> ConnectionStatus:
        answer = await self._get("/api/ping", operation="ping")
        return ConnectionStatus(ok=True, platform=self.platform, version=answer.get("version"))

    async def _list_plans(self) -> list[NativePlan]:
        answer = await self._get("/api/plans", operation="list_plans")
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
        licence = _Licence.model_validate(await self._get("/api/licence", operation="licence"))
        return Licence(
            seats_licensed=licence.seats.licensed,
            seats_used=licence.seats.used,
            features=tuple(LicenceFeature(name=p.name, used=p.used) for p in licence.plans),
            valid_from=licence.valid_from,
            valid_until=licence.valid_until,
            state=licence.state,
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        by_kind = dict.fromkeys(MailboxKind, 0)
        by_plan: dict[str, int] = {}
        for mailbox in await self._mailboxes(tenant):
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
        before = self._neutral(current.plan) or current.plan
        result = ChangeResult[str](
            operation="set_plan",
            subject=mailbox.address,
            outcome=Outcome.CHANGED,
            before=before,
            after=plan,
        )
        if current.plan == target.native and target.quota_mb in (None, current.quota_mb):
            return result.model_copy(update={"outcome": Outcome.UNCHANGED})
        if self.dry_run:
            return result.model_copy(update={"dry_run": True})
        response = await self._send(
            "PUT",
            f"{_mailbox_path(mailbox)}/plan",
            operation="change_plan",
            json={"plan": target.native, "quota_mb": target.quota_mb},
            idempotent=True,  # an absolute target: sending it twice changes nothing more
            subject=mailbox.address,
        )
        change = _PlanChange.model_validate(self._json(response))
        if change.operation is not None:
            if change.operation.state == "failed":
                raise errors.ProviderError(
                    f"The plan change of {mailbox.address} failed",
                    debug={"operation": change.operation.model_dump()},
                )
            return result.model_copy(
                update={"outcome": Outcome.ACCEPTED, "operation_id": change.operation.id}
            )
        if not change.changed:
            return result.model_copy(update={"outcome": Outcome.UNCHANGED})
        return result

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        allocation = self._allocation(addon)
        state = await self._tenant(tenant)
        current = state.allocations.get(allocation)
        result = ChangeResult[int](
            operation="apply_addon",
            subject=tenant.name,
            outcome=Outcome.CHANGED,
            before=current,
            after=quantity,
        )
        if current == quantity:
            return result.model_copy(update={"outcome": Outcome.UNCHANGED})
        in_use = state.usage.get(allocation, 0)
        if quantity < in_use:
            raise errors.ConflictError(
                f"The {addon} add-on of {tenant.name} cannot go below the {in_use} in use"
            )
        if self.dry_run:
            return result.model_copy(update={"dry_run": True})
        response = await self._send(
            "PUT",
            f"{_tenant_path(tenant)}/allocations/{quote(allocation, safe=':')}",
            operation="set_allocation",
            json={"quantity": quantity},
            idempotent=True,  # absolute, so a retry is harmless
            subject=tenant.name,
        )
        change = _AllocationChange.model_validate(self._json(response))
        return result.model_copy(update={"before": change.before, "after": change.after})

    # -- optional operations --------------------------------------------------------------

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        return [self._to_mailbox(m) for m in await self._mailboxes(tenant)]

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
            return ChangeResult[Mailbox](
                operation="create_mailbox",
                subject=mailbox.address,
                outcome=Outcome.UNCHANGED,
                before=found,
                after=found,
            )
        user = mailbox.kind is MailboxKind.USER
        target = self._plan(mailbox.plan) if user and mailbox.plan else None
        if self.dry_run:
            await self._check_room(tenant, mailbox, target)
            planned = Mailbox(
                address=mailbox.address,
                kind=mailbox.kind,
                display_name=mailbox.display_name,
                plan=mailbox.plan,
                quota_mb=target.quota_mb if target else None,
            )
            return ChangeResult[Mailbox](
                operation="create_mailbox",
                subject=mailbox.address,
                outcome=Outcome.CHANGED,
                after=planned,
                dry_run=True,
            )
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
        response = await self._send(
            "POST",
            f"{_tenant_path(tenant)}/mailboxes",
            operation="create_mailbox",
            json=body,
            subject=mailbox.address,
        )
        created = self._to_mailbox(_Mailbox.model_validate(self._json(response)))
        return ChangeResult[Mailbox](
            operation="create_mailbox",
            subject=mailbox.address,
            outcome=Outcome.CHANGED,
            after=created,
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        existing = await self._get_mailbox(mailbox)
        result = ChangeResult[Mailbox](
            operation="delete_mailbox",
            subject=mailbox.address,
            outcome=Outcome.CHANGED,
            before=self._to_mailbox(existing) if existing else None,
        )
        if existing is None:
            return result.model_copy(update={"outcome": Outcome.UNCHANGED})
        if self.dry_run:
            return result.model_copy(update={"dry_run": True})
        response = await self._send(
            "DELETE",
            _mailbox_path(mailbox),
            operation="delete_mailbox",
            idempotent=True,
            subject=mailbox.address,
            missing_ok=True,
        )
        if response.status_code == 404:  # deleted meanwhile: the target holds
            return result.model_copy(update={"outcome": Outcome.UNCHANGED})
        return result

    # -- mapping ---------------------------------------------------------------------------

    def _plan(self, name: str) -> MemoryPlan:
        plan = self.plan(name)
        assert isinstance(plan, MemoryPlan)  # settings_model types every plan
        return plan

    def _neutral(self, native: str | None) -> str | None:
        for neutral, plan in self.settings.plans.items():
            if isinstance(plan, MemoryPlan) and plan.native == native:
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
            plan=self._neutral(wire.plan) or wire.plan,
            display_name=wire.display_name,
            quota_mb=wire.quota_mb,
        )

    async def _check_room(
        self, tenant: TenantRef, mailbox: NewMailbox, target: MemoryPlan | None
    ) -> None:
        """Refuse, as the platform would, a mailbox the tenant's allocations leave no room
        for (dry runs must report what the write would do)."""
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

    # -- talking to the platform ----------------------------------------------------------

    async def _mailboxes(self, tenant: TenantRef) -> list[_Mailbox]:
        url: str | None = f"{_tenant_path(tenant)}/mailboxes"
        found: list[_Mailbox] = []
        for _ in range(_MAX_PAGES):
            if url is None:
                return found
            page = _Page.model_validate(
                await self._get(url, operation="list_mailboxes", subject=tenant.name)
            )
            found.extend(page.mailboxes)
            url = page.next
        raise errors.ProtocolError(f"{self.instance} kept sending more pages of mailboxes")

    async def _tenant(self, tenant: TenantRef) -> _Tenant:
        answer = await self._get(_tenant_path(tenant), operation="get_tenant", subject=tenant.name)
        return _Tenant.model_validate(answer)

    async def _get_mailbox(self, mailbox: MailboxRef) -> _Mailbox | None:
        response = await self._send(
            "GET",
            _mailbox_path(mailbox),
            operation="get_mailbox",
            subject=mailbox.address,
            missing_ok=True,
        )
        if response.status_code == 404:
            return None
        return _Mailbox.model_validate(self._json(response))

    async def _get(self, path: str, *, operation: str, subject: str = "") -> dict[str, Any]:
        response = await self._send("GET", path, operation=operation, subject=subject)
        return self._json(response)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        subject: str = "",
        json: Any = None,
        idempotent: bool | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response:
        """One call; any error answer raises (a 404 of the mailbox itself returns when
        ``missing_ok``)."""
        import httpx

        credentials = self.settings.credentials
        response = await self.http.request(
            method,
            path,
            write=method != "GET",
            idempotent=idempotent,
            operation=operation,
            json=json,
            auth=httpx.BasicAuth(credentials.username, credentials.secret.get_secret_value()),
        )
        if response.status_code >= 400:
            code = _error_code(response)
            if not (missing_ok and code == "mailbox_not_found"):
                self._raise(response, code, subject)
        return response

    def _raise(self, response: httpx.Response, code: str | None, subject: str) -> None:
        debug = {
            "status": response.status_code,
            "code": code,
            "body": self.http.redact(response.text[:2000]),
        }
        known = _ERRORS.get(code or "")
        if known is not None:
            error, message = known
            raise error(message.format(instance=self.instance, subject=subject), debug=debug)
        raise_for_status(response, provider=self.instance, redactor=self.http)
        raise errors.ProviderError(f"{self.instance} refused the request", debug=debug)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise errors.ProtocolError(
                f"{self.instance} sent an answer that could not be read",
                debug={
                    "status": response.status_code,
                    "body": self.http.redact(response.text[:2000]),
                },
            )
        return data


#: Platform error code -> the mailadmin error and its user-safe message.
_ERRORS: dict[str, tuple[type[errors.MailadminError], str]] = {
    "unauthorized": (errors.AuthenticationError, "{instance} rejected the credentials"),
    "tenant_not_found": (errors.NotFoundError, "The tenant of {subject} does not exist"),
    "mailbox_not_found": (errors.NotFoundError, "The mailbox {subject} does not exist"),
    "allocation_exceeded": (
        errors.QuotaExceeded,
        "No add-on allocation is left for {subject}; buy more to continue",
    ),
    "mailbox_exists": (errors.ConflictError, "{subject} already exists"),
    "not_a_user_mailbox": (errors.ConflictError, "{subject} is not a user mailbox"),
    "allocation_below_usage": (
        errors.ConflictError,
        "The add-on of {subject} cannot go below what is in use",
    ),
    "unknown_plan": (
        errors.ConfigurationError,
        "A plan configured for {instance} does not exist on the platform",
    ),
}


def _endpoint_of(settings: ProviderSettings | Mapping[str, Any] | None) -> str | None:
    if isinstance(settings, ProviderSettings):
        return settings.endpoint
    return (settings or {}).get("endpoint")


def _tenant_path(tenant: TenantRef) -> str:
    return f"/api/tenants/{quote(tenant.key.lower(), safe='')}"


def _mailbox_path(mailbox: MailboxRef) -> str:
    return f"{_tenant_path(mailbox.tenant)}/mailboxes/{quote(mailbox.address, safe='@')}"


def _error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None
