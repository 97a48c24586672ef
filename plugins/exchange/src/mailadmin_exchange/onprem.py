"""Exchange Server 2016/2019 on-premises: the Exchange provider with cmdlets over remote
PowerShell instead of the admin API.

The on-premises mode is the Online provider with two things swapped: how a cmdlet
travels (:class:`~mailadmin_exchange.remoting.RemoteShell`, one runspace pool per
instance, instead of ``InvokeCommand``) and what Graph did (licences become CAL reports;
passwords and sign-in, which Graph set, are not offered). The plan, quota, flag and
add-on mapping is the Online provider's own code, run unchanged.

Tenancy as hosters run Exchange on their own servers: a tenant is an organizational unit,
its accepted domain(s) and an address book policy. ``TenantRef.native_id`` (or the
instance's ``tenancy`` table) names the OU; listings and counts pass
``-OrganizationalUnit``, New-Mailbox passes the OU and the tenant's address book policy,
and a mailbox outside the tenant's OU is not the tenant's.

Example (TOML)::

    [instances.hosted]
    provider = "exchserver"
    endpoint = "https://ex1.example.net/PowerShell"
    auth = "negotiate"
    credentials = { username = "svc-mailadmin@example.net", secret = "..." }
    cals = { standard = 500, enterprise = 50 }

    [instances.hosted.tenancy."fabrikam.com"]
    organizational_unit = "example.net/Hosting/Fabrikam"
    address_book_policy = "Fabrikam ABP"
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mailadmin.sdk import (
    AddonRef,
    Capabilities,
    ChangeResult,
    ConnectionStatus,
    Licence,
    LicenceFeature,
    LicenceKind,
    LicenceModel,
    LicenceState,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Operation,
    TenantRef,
    errors,
)
from mailadmin_exchange.provider import ExchangeProvider
from mailadmin_exchange.remoting import RemoteShell
from mailadmin_exchange.settings import ExchangeSettings
from mailadmin_exchange.wire import AdminAnswer

__all__ = ["ExchangeServerProvider", "ExchangeServerSettings", "Tenancy"]

#: The OU (and address book policy) of the tenant a call works in.
_TENANCY: contextvars.ContextVar[Tenancy | None] = contextvars.ContextVar(
    "exchange_server_tenancy", default=None
)
_LISTINGS = {"get-mailbox", "get-casmailbox"}
_QUOTAS = {"IssueWarningQuota", "ProhibitSendQuota", "ProhibitSendReceiveQuota"}
_DEFAULT_PORTS = {"https": 443, "http": 80}


class Tenancy(BaseModel):
    """A hosted tenant on the organisation: its OU and its address book policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    organizational_unit: str = Field(min_length=1)
    address_book_policy: str | None = None


class CalCounts(BaseModel):
    """CALs the host owns (bought outside Exchange); ``None``: not said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    standard: int | None = Field(default=None, ge=0)
    enterprise: int | None = Field(default=None, ge=0)


class ExchangeServerSettings(ExchangeSettings):
    """Settings of one Exchange Server organisation reached over remote PowerShell.

    ``endpoint``: the PowerShell virtual directory (``https://SERVER/PowerShell``);
    ``auth``: ``basic`` (over TLS), ``negotiate`` or ``kerberos``, as pypsrp supports;
    ``credentials``: the account (UPN) and its password; ``tenant``: the organisation's
    name (reports name it); ``tenancy``: per tenant name, its OU and address book policy
    (without an entry a tenant's ``native_id`` is its OU); ``version``: Exchange's
    version in CAL names; ``cals``: CALs owned, for the licence report. Plans are quota
    plans (Set-Mailbox + Set-CASMailbox); on-premises Exchange has no licence SKUs.
    """

    tenant: str = Field(default="on-premises", min_length=3)
    auth: Literal["basic", "negotiate", "kerberos"] = "negotiate"
    tenancy: dict[str, Tenancy] = Field(default_factory=dict)
    version: Literal["2016", "2019"] = "2019"
    cals: CalCounts = CalCounts()

    @model_validator(mode="after")
    def _onprem(self) -> ExchangeServerSettings:
        if not self.endpoint:
            raise ValueError("endpoint is required: the URL of https://SERVER/PowerShell")
        parts = urlsplit(self.endpoint)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("endpoint must be an http(s) URL such as https://SERVER/PowerShell")
        if parts.scheme == "http" and self.auth == "basic" and not _local(parts.hostname):
            raise ValueError(
                "Basic authentication needs https (only loopback or a reserved test name "
                "may use http)"
            )
        if any(plan.sku for plan in self.plans.values()):
            raise ValueError("Exchange Server has no licence SKUs; plans are quota plans")
        return self


def _local(host: str) -> bool:
    """Loopback, or a name reserved for tests (RFC 2606: never a real server)."""
    host = host.lower()
    return host in ("127.0.0.1", "::1", "localhost") or host.endswith(
        (".test", ".invalid", ".localhost", ".example")
    )


_NO_GRAPH = "on-premises Exchange manages accounts in Active Directory, which mailadmin does not"


class ExchangeServerProvider(ExchangeProvider):
    """Microsoft Exchange Server 2016/2019 over remote PowerShell (see ``README.md``)."""

    name = "exchserver"
    platform = "Microsoft Exchange Server"
    capabilities = Capabilities(
        operations=frozenset(
            {Operation.LIST_MAILBOXES, Operation.CREATE_MAILBOX, Operation.DELETE_MAILBOX}
        ),
        mailbox_kinds=frozenset({MailboxKind.SHARED, MailboxKind.ROOM, MailboxKind.EQUIPMENT}),
        addons=frozenset({"storage_gb"}),
        unsupported={
            "create_mailbox:user": "a user mailbox needs an Active Directory account and its "
            "password; create it in the directory",
            "delete_mailbox:user": "removing a user mailbox removes its Active Directory "
            "account; that is done in the directory",
            "set_password": _NO_GRAPH,
            "suspend_mailbox": _NO_GRAPH,
            "resume_mailbox": _NO_GRAPH,
            "addon:mailboxes": "CALs are bought from Microsoft, outside Exchange",
            "addon:shared_mailbox": "Exchange has no shared mailbox limit",
            "addon:resource_mailbox": "Exchange has no resource mailbox limit",
            "suspend_tenant": "a tenant has no switch that stops all its users",
            "resume_tenant": "a tenant has no switch that stops all its users",
        },
        # Client access licences, bought outside Exchange; Exchange reports their use.
        licence=LicenceModel(kind=LicenceKind.CALS),
    )
    settings_model = ExchangeServerSettings

    _remote: RemoteShell | None = None

    @classmethod
    def capabilities_for(cls, settings: ExchangeSettings) -> Capabilities:
        """Without quota plans there is no storage add-on."""
        if settings.plans:
            return cls.capabilities
        return cls.capabilities.narrowed(["addon:storage_gb"], "no quota plans are configured")

    # -- the remote shell ---------------------------------------------------------------------

    @property
    def remote(self) -> RemoteShell:
        """The instance's one remote shell (its runspace pool opens on first use)."""
        if self._remote is None:
            settings = self.settings
            assert isinstance(settings, ExchangeServerSettings)
            parts = urlsplit(settings.endpoint or "")
            self._remote = RemoteShell(
                server=parts.hostname or "",
                port=parts.port or _DEFAULT_PORTS[parts.scheme],
                path=parts.path.strip("/") or "PowerShell",
                ssl=parts.scheme == "https",
                auth=settings.auth,
                username=settings.credentials.username,
                password=settings.credentials.secret.get_secret_value(),
                cert_validation=settings.verify_tls,
                provider=self.instance,
                operation_timeout=max(int(settings.timeout), 5),
                # A transport given to the provider (a mock's router in tests) answers
                # instead of the network, as it does for every other provider.
                http=self._http_override,
                retries=settings.retries,
            )
        return self._remote

    async def aclose(self) -> None:
        """Close the runspace pool (its session counts against the user's limit)."""
        if self._remote is not None:
            await self._remote.close()
        await super().aclose()

    async def _invoke(
        self,
        cmdlet: str,
        parameters: dict[str, Any],
        *,
        write: bool,
        select: str | None = None,
        idempotent: bool | None = None,
    ) -> AdminAnswer:
        """One cmdlet over remote PowerShell, scoped to the current tenant's OU."""
        scoped = dict(parameters)
        tenancy = _TENANCY.get()
        name = cmdlet.lower()
        if tenancy is not None and name in _LISTINGS and "Identity" not in scoped:
            scoped["OrganizationalUnit"] = tenancy.organizational_unit
        if tenancy is not None and name == "new-mailbox":
            scoped["OrganizationalUnit"] = tenancy.organizational_unit
            if tenancy.address_book_policy:
                scoped["AddressBookPolicy"] = tenancy.address_book_policy
        if name == "set-mailbox" and _QUOTAS & set(scoped):
            # Per-mailbox quotas count on-premises only with the database's defaults off.
            scoped["UseDatabaseQuotaDefaults"] = False
        identity = scoped.get("Identity") or scoped.get("PrimarySmtpAddress")
        subject = f"{cmdlet} {identity}" if identity else cmdlet
        output = await self.remote.run(cmdlet, scoped, subject=subject)
        rows = output.rows
        if tenancy is not None and name == "get-mailbox" and "Identity" in scoped:
            # Another tenant's mailbox is not this tenant's, whatever its address says.
            wanted = tenancy.organizational_unit.lower()
            if any(str(r.get("OrganizationalUnit", "")).lower() != wanted for r in rows):
                raise errors.NotFoundError(
                    f"{self.instance} could not find the object of {subject}"
                )
        if select:
            keep = set(select.split(","))
            rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
        return AdminAnswer(value=rows, warnings=tuple(output.warnings))

    async def _rows(
        self, cmdlet: str, parameters: dict[str, Any], *, select: str | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Remote PowerShell streams every object of one pipeline: one page."""
        yield (await self._invoke(cmdlet, parameters, write=False, select=select)).value

    def _tenancy(self, tenant: TenantRef) -> Tenancy:
        settings = self.settings
        assert isinstance(settings, ExchangeServerSettings)
        known = settings.tenancy.get(tenant.name)
        if known is not None:
            return known
        if tenant.native_id:
            return Tenancy(organizational_unit=tenant.native_id)
        raise errors.ConfigurationError(
            f"{self.instance}: tenant {tenant.name} names no organizational unit (set its "
            "native_id or the instance's tenancy table)"
        )

    # -- operations: the Online code, inside the tenant's OU ----------------------------------

    async def _test_connection(self) -> ConnectionStatus:
        try:
            await self._invoke("Get-AcceptedDomain", {}, write=False)
        except errors.AuthenticationError as exc:
            return ConnectionStatus(ok=False, platform=self.platform, detail=exc.message)
        return ConnectionStatus(ok=True, platform=self.platform)

    async def _list_plans(self) -> list[NativePlan]:
        return [
            NativePlan(
                native_name=plan.native_name(),
                description=plan.description,
                quota_mb=plan.quota_mb,
                features=plan.client_access.names(),
                neutral_name=name,
            )
            for name, plan in self.settings.plans.items()
        ]

    async def _get_licence(self) -> Licence:
        settings = self.settings
        assert isinstance(settings, ExchangeServerSettings)
        features = []
        used: dict[str, int] = {}
        for kind, owned in (
            ("Standard", settings.cals.standard),
            ("Enterprise", settings.cals.enterprise),
        ):
            name = f"Exchange Server {settings.version} {kind} CAL"
            rows = (
                await self._invoke(
                    "Get-ExchangeServerAccessLicenseUser", {"LicenseName": name}, write=False
                )
            ).value
            used[kind] = len(rows)
            # Short enough for an 80-column table; the version says which Exchange.
            short = f"{kind} CAL {settings.version}"
            features.append(LicenceFeature(name=short, quantity=owned, used=len(rows)))
        owned = settings.cals.standard
        return Licence(
            seats_licensed=owned,
            seats_used=used["Standard"],
            features=tuple(features),
            state=LicenceState.ACTIVE,
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        token = _TENANCY.set(self._tenancy(tenant))
        try:
            return await super()._count_mailboxes(tenant)
        finally:
            _TENANCY.reset(token)

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        token = _TENANCY.set(self._tenancy(tenant))
        try:
            return await super()._list_mailboxes(tenant)
        finally:
            _TENANCY.reset(token)

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        token = _TENANCY.set(self._tenancy(tenant))
        try:
            return await super()._create_mailbox(tenant, mailbox)
        finally:
            _TENANCY.reset(token)

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        token = _TENANCY.set(self._tenancy(mailbox.tenant))
        try:
            return await super()._delete_mailbox(mailbox)
        finally:
            _TENANCY.reset(token)

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        token = _TENANCY.set(self._tenancy(mailbox.tenant))
        try:
            return await super()._set_plan(mailbox, plan)
        finally:
            _TENANCY.reset(token)

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        token = _TENANCY.set(self._tenancy(tenant))
        try:
            return await super()._apply_addon(tenant, addon, quantity)
        finally:
            _TENANCY.reset(token)
