"""The Exchange mock's state and business rules: tenants, apps and tokens, mailboxes with
quotas and client-access flags, SKUs with prepaid units and licence assignment.

No HTTP here: handlers turn requests into calls and the errors raised here
(:class:`CmdletError`, :class:`GraphError`) into the platform's error bodies. Tokens come
from the core's OAuth2 mock (:class:`~mailadmin.mock.oauth.TokenIssuer`), fed with the
apps of every tenant.

Defaults (``reset``): tenant ``contoso.onmicrosoft.com`` (GUID
``6babcaad-604b-40ac-a9d7-9fd97c0b779f``); app ``mock-client``/``secret`` with every
cmdlet; SKUs ``EXCHANGESTANDARD`` (25 prepaid) and ``EXCHANGEENTERPRISE`` (10 prepaid);
user mailboxes ``anna`` and ``carla`` on Plan 1 and ``ben`` on Plan 2, the shared mailbox
``info``, the room ``boardroom`` (12 seats) and the equipment ``projector``, all
``@contoso.onmicrosoft.com``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mailadmin.mock import ModelState, SeedError
from mailadmin.mock.oauth import IssuedToken, TokenIssuer
from mailadmin_exchange.mock.model import (
    DEFAULT_TENANT,
    DEFAULT_TENANT_ID,
    ENTERPRISE,
    STANDARD,
    ExchangeData,
    ExchangeSeed,
    MockApp,
    MockMailbox,
    MockSku,
    MockTenant,
    RecipientType,
)
from mailadmin_exchange.sizes import format_size, parse_size

__all__ = [
    "ADMIN_SCOPE",
    "GRAPH_SCOPE",
    "CmdletError",
    "ExchangeState",
    "GraphError",
    "Listing",
]

ADMIN_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_GB = 1 << 30
_CAS_PARAMETERS = {
    "ActiveSyncEnabled": "activesync",
    "OWAEnabled": "owa",
    "MAPIEnabled": "mapi",
    "PopEnabled": "pop",
    "ImapEnabled": "imap",
    "EwsEnabled": "ews",
    "ECPEnabled": "ecp",
}
_QUOTAS = ("IssueWarningQuota", "ProhibitSendQuota", "ProhibitSendReceiveQuota")
_NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
_SERVER = "AM0PR01MB1234.eurprd01.PROD.OUTLOOK.COM"


class CmdletError(Exception):
    """A cmdlet failed: the admin API's OData error (reference 1.7).

    ``status``: 400 or 404; ``error_id``, ``exception`` and ``text`` make the
    ``details[].message`` ``Id|Type|Text``; ``in_details``: whether ``details`` is filled
    (a bad enum fills only ``innererror.internalexception``).
    """

    def __init__(
        self, status: int, exception: str, text: str, *, error_id: str = "", in_details: bool = True
    ) -> None:
        super().__init__(text)
        self.status = status
        self.exception = exception
        self.text = text
        self.error_id = error_id
        self.in_details = in_details


class GraphError(Exception):
    """A Graph call failed: ``{"error": {"code", "message", "innerError"}}`` (reference 3)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Listing:
    """The last listing a tenant's client paged, so a next link followed by GET (which
    carries no body) continues it."""

    cmdlet: str
    parameters: dict[str, Any]


def _guid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailadmin-exchange-mock:{seed}"))


def _default_skus() -> list[MockSku]:
    return [
        MockSku(
            sku_id=STANDARD,
            part_number="EXCHANGESTANDARD",
            enabled=25,
            mailbox_plan="ExchangeOnline",
            mailbox_plan_guid=_guid("plan:ExchangeOnline"),
            quota=50 * _GB,
            service_plan="EXCHANGE_S_STANDARD",
            service_plan_id="9aaf7827-d63c-4b61-89c3-182f06f82e5c",
        ),
        MockSku(
            sku_id=ENTERPRISE,
            part_number="EXCHANGEENTERPRISE",
            enabled=10,
            mailbox_plan="ExchangeOnlineEnterprise",
            mailbox_plan_guid=_guid("plan:ExchangeOnlineEnterprise"),
            quota=100 * _GB,
            service_plan="EXCHANGE_S_ENTERPRISE",
            service_plan_id="efb87545-963c-4e0d-99df-69c6916d9eb0",
        ),
    ]


def new_mailbox(
    address: str,
    kind: RecipientType = "UserMailbox",
    *,
    display_name: str = "",
    licenses: list[str] | None = None,
    resource_capacity: int | None = None,
    quota: int | None = 50 * _GB,
) -> MockMailbox:
    """A mailbox with Exchange's defaults for its kind and licence."""
    local = address.split("@", 1)[0]
    mailbox = MockMailbox(
        name=local,
        display_name=display_name or local.capitalize(),
        alias=local,
        address=address.lower(),
        upn=address.lower(),
        type=kind,
        exchange_guid=_guid(f"mailbox:{address.lower()}"),
        object_id=_guid(f"user:{address.lower()}"),
        resource_capacity=resource_capacity,
        licenses=list(licenses or []),
        account_enabled=kind == "UserMailbox",
    )
    _set_quota_defaults(mailbox, quota)
    return mailbox


def _set_quota_defaults(mailbox: MockMailbox, quota: int | None) -> None:
    """The quotas a mailbox plan applies: warning at 98 %, send at 99 % (as BURP shows)."""
    if quota is None:
        mailbox.issue_warning_quota = mailbox.prohibit_send_quota = None
    else:
        mailbox.issue_warning_quota = quota * 98 // 100
        mailbox.prohibit_send_quota = quota * 99 // 100
    mailbox.prohibit_send_receive_quota = quota


@functools.lru_cache(maxsize=16)
def _filler_template(domain: str) -> MockMailbox:
    return new_mailbox(f"user000000@{domain}")


def default_tenant() -> MockTenant:
    """The documented default tenant with its sample mailboxes."""
    domain = DEFAULT_TENANT
    tenant = MockTenant(
        id=DEFAULT_TENANT_ID,
        name=DEFAULT_TENANT,
        domains=[domain],
        skus=_default_skus(),
        apps=[MockApp(client_id="mock-client", secret="secret")],
    )
    big = 100 * _GB
    samples = [
        new_mailbox(f"anna@{domain}", display_name="Anna Andersen", licenses=[STANDARD]),
        new_mailbox(f"ben@{domain}", display_name="Ben Berg", licenses=[ENTERPRISE], quota=big),
        new_mailbox(f"carla@{domain}", display_name="Carla Conti", licenses=[STANDARD]),
        new_mailbox(f"info@{domain}", "SharedMailbox", display_name="Info"),
        new_mailbox(
            f"boardroom@{domain}", "RoomMailbox", display_name="Boardroom", resource_capacity=12
        ),
        new_mailbox(f"projector@{domain}", "EquipmentMailbox", display_name="Projector"),
    ]
    tenant.mailboxes = {m.address: m for m in samples}
    return tenant


class ExchangeState(ModelState[ExchangeData]):
    """Tenants, tokens and mailboxes of one Exchange mock server."""

    model = ExchangeData
    seed_model = ExchangeSeed

    def defaults(self) -> ExchangeData:
        """The documented default tenant."""
        return ExchangeData(tenants={DEFAULT_TENANT_ID: default_tenant()})

    def reset(self) -> None:
        """Back to the documented defaults; issued tokens are forgotten."""
        super().reset()
        self.oauth = TokenIssuer({}, clock=self.clock)
        self._sync_apps()
        #: Admin API calls answered, for the rate-limit headers.
        self.admin_calls = 0
        #: Per tenant GUID, the listing a GET of a next link continues.
        self.listings: dict[str, Listing] = {}

    def apply_seed(self, seed: BaseModel) -> None:
        """Merge tenant by tenant: each field a seeded tenant sets replaces the stored one."""
        assert isinstance(seed, ExchangeSeed)
        for key, given in seed.tenants.items():
            if given.id is not None and given.id != key:
                raise SeedError(f"invalid seed: tenants.{key}.id: differs from its key")
            stored = self.data.tenants.get(key)
            if stored is None:
                if given.name is None:
                    raise SeedError(f"invalid seed: tenants.{key}: a new tenant needs a name")
                stored = MockTenant(id=key, name=given.name)
                self.data.tenants[key] = stored
            for field in given.model_fields_set - {"id"}:
                setattr(stored, field, getattr(given, field))
        self._sync_apps()

    # -- tenants and sign-in -------------------------------------------------------------

    def tenant(self, key: str) -> MockTenant | None:
        """A tenant by GUID, ``*.onmicrosoft.com`` name or one of its domains."""
        key = key.lower()
        found = self.data.tenants.get(key)
        if found is not None:
            return found
        for tenant in self.data.tenants.values():
            if key == tenant.name.lower() or key in (d.lower() for d in tenant.domains):
                return tenant
        return None

    def issuer(self) -> TokenIssuer:
        """The token endpoint's issuer, knowing the apps and tenants as they are now."""
        self._sync_apps()
        return self.oauth

    def _sync_apps(self) -> None:
        # Apps live in the data model (seeded, snapshotted); the issuer reads a flat map.
        self.oauth.clients = {
            app.client_id: app.secret for t in self.data.tenants.values() for app in t.apps
        }
        names: set[str] = set()
        for tenant in self.data.tenants.values():
            names |= {tenant.id.lower(), tenant.name.lower(), *(d.lower() for d in tenant.domains)}
        self.oauth.tenants = names

    def token_tenant(self, token: IssuedToken) -> MockTenant | None:
        """The tenant a token was issued in (its token URL named it by GUID or name)."""
        return self.tenant(token.tenant) if token.tenant else None

    def may_run(self, tenant: MockTenant, client_id: str, cmdlet: str) -> bool:
        """Whether the app's role covers ``cmdlet``."""
        app = next((a for a in tenant.apps if a.client_id == client_id), None)
        if app is None:
            return False
        return "*" in app.cmdlets or cmdlet.lower() in (c.lower() for c in app.cmdlets)

    # -- mailboxes -----------------------------------------------------------------------

    def mailboxes(self, tenant: MockTenant) -> Iterator[MockMailbox]:
        """Every mailbox, stored ones first, then the fillers nobody touched."""
        yield from list(tenant.mailboxes.values())
        yield from self.fillers(tenant)

    def fillers(self, tenant: MockTenant, skip: int = 0) -> Iterator[MockMailbox]:
        """The untouched fillers in order, the first ``skip`` of them passed over unbuilt."""
        taken = sorted(set(tenant.filler_taken))
        number = 1
        # The skip-th untouched number: step over taken numbers below it.
        number += skip
        for used in taken:
            if used <= number:
                number += 1
        taken_set = set(taken)
        while number <= tenant.filler_users:
            if number not in taken_set:
                yield self._filler(tenant, number)
            number += 1

    def filler_count(self, tenant: MockTenant) -> int:
        """How many fillers nobody touched."""
        taken = {n for n in tenant.filler_taken if 1 <= n <= tenant.filler_users}
        return tenant.filler_users - len(taken)

    def count(self, tenant: MockTenant) -> int:
        """How many mailboxes the tenant has."""
        return len(tenant.mailboxes) + self.filler_count(tenant)

    def _filler(self, tenant: MockTenant, number: int) -> MockMailbox:
        # Copied from one template without validation or hashing: a count pages through
        # 100,000 of these.
        domain = (tenant.domains[0] if tenant.domains else tenant.name).lower()
        local = f"user{number:06d}"
        return _filler_template(domain).model_copy(
            update={
                "name": local,
                "display_name": f"User {number}",
                "alias": local,
                "address": f"{local}@{domain}",
                "upn": f"{local}@{domain}",
                "exchange_guid": f"00000000-0000-4000-8000-{number:012d}",
                "object_id": f"00000000-0000-4000-9000-{number:012d}",
                "licenses": [],
            }
        )

    def _filler_number(self, tenant: MockTenant, identity: str) -> int | None:
        local, _, domain = identity.lower().partition("@")
        first = (tenant.domains[0] if tenant.domains else tenant.name).lower()
        if domain not in ("", first) or not local.startswith("user") or len(local) != 10:
            return None
        digits = local[4:]
        if not digits.isdigit():
            return None
        number = int(digits)
        if 1 <= number <= tenant.filler_users and number not in tenant.filler_taken:
            return number
        return None

    def find(self, tenant: MockTenant, identity: str) -> MockMailbox:
        """A mailbox by address, UPN, alias, name, Exchange GUID or directory object id.

        Raises the 404 ``ManagementObjectNotFoundException`` Exchange sends.
        """
        key = identity.strip().lower()
        found = tenant.mailboxes.get(key)
        if found is not None:
            return found
        for mailbox in tenant.mailboxes.values():
            if key in (
                mailbox.upn,
                mailbox.alias.lower(),
                mailbox.name.lower(),
                mailbox.exchange_guid,
                mailbox.object_id,
            ):
                return mailbox
        number = self._filler_number(tenant, key)
        if number is not None:
            # A write is coming or a read wants it: store it from now on.
            mailbox = self._filler(tenant, number)
            tenant.filler_taken = [*tenant.filler_taken, number]
            tenant.mailboxes[mailbox.address] = mailbox
            return mailbox
        raise CmdletError(
            404,
            _NOT_FOUND,
            f"The operation couldn't be performed because object '{identity}' couldn't be "
            f"found on '{_SERVER}'.",
            error_id="Ex6F9304",
        )

    def set_mailbox(self, tenant: MockTenant, parameters: Mapping[str, Any]) -> bool:
        """``Set-Mailbox``: quotas (ordered, capped by the licence) and display name.

        Returns whether anything changed.
        """
        mailbox = self.find(tenant, _identity(parameters))
        new = {
            "IssueWarningQuota": mailbox.issue_warning_quota,
            "ProhibitSendQuota": mailbox.prohibit_send_quota,
            "ProhibitSendReceiveQuota": mailbox.prohibit_send_receive_quota,
        }
        for name in _QUOTAS:
            if name in parameters:
                new[name] = _size_parameter(name, parameters[name])
        _check_quota_order(new)
        for name, value in parameters.items():
            if name.startswith("CustomAttribute"):
                _check_custom_attribute(value)  # before anything changes
        aliases = self._proxy_addresses(tenant, mailbox, parameters.get("EmailAddresses"))
        forwarding = mailbox.forwarding
        if "ForwardingSmtpAddress" in parameters:
            forwarding = _smtp(parameters["ForwardingSmtpAddress"])
        cap = self.quota_cap(tenant, mailbox)
        for name in _QUOTAS:
            value = new[name]
            if name in parameters and (value is None or value > cap):
                raise CmdletError(
                    400,
                    "Microsoft.Exchange.Data.DataValidationException",
                    f"The value of property '{name}' can't exceed the maximum allowed by the "
                    f"mailbox's license. {name}: '{format_size(value)}', maximum: "
                    f"'{format_size(cap)}'.",
                )
        before = mailbox.model_dump()
        mailbox.issue_warning_quota = new["IssueWarningQuota"]
        mailbox.prohibit_send_quota = new["ProhibitSendQuota"]
        mailbox.prohibit_send_receive_quota = new["ProhibitSendReceiveQuota"]
        if "UseDatabaseQuotaDefaults" in parameters:
            mailbox.use_database_quota_defaults = _boolean(
                "UseDatabaseQuotaDefaults", parameters["UseDatabaseQuotaDefaults"]
            )
        if "DisplayName" in parameters:
            mailbox.display_name = str(parameters["DisplayName"])
        mailbox.aliases = aliases
        mailbox.forwarding = forwarding
        if "DeliverToMailboxAndForward" in parameters:
            mailbox.deliver_and_forward = _boolean(
                "DeliverToMailboxAndForward", parameters["DeliverToMailboxAndForward"]
            )
        for name, value in parameters.items():
            if name.startswith("CustomAttribute"):
                _set_custom_attribute(mailbox, name, value)
        return mailbox.model_dump() != before

    def _proxy_addresses(self, tenant: MockTenant, mailbox: MockMailbox, value: Any) -> list[str]:
        """The secondary addresses after an ``EmailAddresses`` value: a hashtable with
        ``Add``/``Remove`` lists (each ``smtp:`` or bare). An address another recipient
        holds is refused as Exchange refuses it."""
        aliases = list(mailbox.aliases)
        if value is None:
            return aliases
        if not isinstance(value, dict) or not set(value) <= {"@odata.type", "Add", "Remove"}:
            raise CmdletError(
                400,
                "System.Management.Automation.ParameterBindingException",
                "Cannot bind parameter 'EmailAddresses': expected a hashtable with Add/Remove.",
            )
        for address in map(_smtp, value.get("Remove") or []):
            if address in aliases:
                aliases.remove(address)
        for address in map(_smtp, value.get("Add") or []):
            if address == mailbox.address.lower() or address in aliases:
                continue
            for other in tenant.mailboxes.values():
                if other is not mailbox and address in (other.address.lower(), *other.aliases):
                    raise CmdletError(
                        400,
                        "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                        f'The proxy address "SMTP:{address}" is already being used by the '
                        f'proxy addresses or LegacyExchangeDN of "{other.name}". Please choose '
                        "another proxy address.",
                    )
            aliases.append(address)
        return aliases

    def quota_cap(self, tenant: MockTenant, mailbox: MockMailbox) -> int:
        """The highest quota the mailbox's licence allows (50 GB without a licence)."""
        caps = [s.quota for s in tenant.skus if s.sku_id in mailbox.licenses]
        return max(caps, default=50 * _GB)

    def set_cas_mailbox(self, tenant: MockTenant, parameters: Mapping[str, Any]) -> bool:
        """``Set-CASMailbox``: the client-access flags. Returns whether anything changed."""
        mailbox = self.find(tenant, _identity(parameters))
        changed = False
        for name, field in _CAS_PARAMETERS.items():
            if name in parameters:
                value = _boolean(name, parameters[name])
                if getattr(mailbox, field) != value:
                    setattr(mailbox, field, value)
                    changed = True
        return changed

    def create_mailbox(self, tenant: MockTenant, parameters: Mapping[str, Any]) -> MockMailbox:
        """``New-Mailbox`` in the ``Shared``, ``Room``, ``Equipment`` or
        ``MicrosoftOnlineServicesID`` (user) parameter set (reference 2.1)."""
        name = str(parameters.get("Name") or "").strip()
        if not name:
            raise CmdletError(
                400,
                "System.Management.Automation.ParameterBindingException",
                "Cannot process command because of one or more missing mandatory parameters: Name.",
            )
        switches = [s for s in ("Shared", "Room", "Equipment") if parameters.get(s) is True]
        if len(switches) > 1:
            raise CmdletError(
                400,
                "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
                "Parameter set cannot be resolved using the specified named parameters.",
            )
        kind: RecipientType = {
            "Shared": "SharedMailbox",
            "Room": "RoomMailbox",
            "Equipment": "EquipmentMailbox",
        }.get(switches[0] if switches else "", "UserMailbox")  # type: ignore[assignment]
        domain = tenant.domains[0] if tenant.domains else tenant.name
        address = str(
            parameters.get("PrimarySmtpAddress")
            or parameters.get("MicrosoftOnlineServicesID")
            or f"{parameters.get('Alias') or name}@{domain}"
        ).lower()
        if kind == "UserMailbox" and not parameters.get("MicrosoftOnlineServicesID"):
            raise CmdletError(
                400,
                "System.Management.Automation.ParameterBindingException",
                "Parameter set cannot be resolved using the specified named parameters.",
            )
        if "ResourceCapacity" in parameters and kind != "RoomMailbox":
            raise CmdletError(
                400,
                "System.Management.Automation.ParameterBindingException",
                "A parameter cannot be found that matches parameter name 'ResourceCapacity'.",
            )
        if self._filler_number(tenant, name) or self._filler_number(tenant, address):
            self.find(tenant, address if "@" in address else name)  # stored from now on
        for existing in list(tenant.mailboxes.values()):
            if existing.name.lower() == name.lower():
                raise CmdletError(
                    400,
                    "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                    f"The object '{name}' already exists.",
                )
            if existing.address == address or existing.upn == address:
                raise CmdletError(
                    400,
                    "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException",
                    f'The proxy address "SMTP:{address}" is already being used by the proxy '
                    f'addresses or LegacyExchangeDN of "{existing.name}". Please choose '
                    "another proxy address.",
                )
        capacity = parameters.get("ResourceCapacity")
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
            raise CmdletError(
                400,
                "System.Management.Automation.ParameterBindingException",
                f"Cannot bind parameter 'ResourceCapacity'. Cannot convert value \"{capacity}\" "
                'to type "System.Int32".',
                in_details=False,
            )
        mailbox = new_mailbox(
            address,
            kind,
            display_name=str(parameters.get("DisplayName") or name),
            resource_capacity=capacity,
        )
        mailbox.name = name
        mailbox.alias = str(parameters.get("Alias") or address.split("@", 1)[0])
        tenant.mailboxes[mailbox.address] = mailbox
        return mailbox

    def remove_mailbox(self, tenant: MockTenant, parameters: Mapping[str, Any]) -> MockMailbox:
        """``Remove-Mailbox``: the mailbox and its directory user go."""
        mailbox = self.find(tenant, _identity(parameters))
        del tenant.mailboxes[mailbox.address]
        return mailbox

    def mailbox_plan_of(self, tenant: MockTenant, mailbox: MockMailbox) -> MockSku | None:
        """The SKU whose mailbox plan applies to the mailbox (its highest licence)."""
        skus = [s for s in tenant.skus if s.sku_id in mailbox.licenses]
        return max(skus, key=lambda s: s.quota, default=None)

    # -- licences (Graph) ----------------------------------------------------------------

    def consumed(self, tenant: MockTenant, sku: MockSku) -> int:
        """Licences of ``sku`` assigned to users (fillers hold none)."""
        return sum(1 for m in tenant.mailboxes.values() if sku.sku_id in m.licenses)

    def user(self, tenant: MockTenant, identity: str) -> MockMailbox:
        """A directory user by object id or UPN; Graph's 404 otherwise."""
        try:
            return self.find(tenant, identity)
        except CmdletError:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{identity}' does not exist or one of its queried reference-property "
                "objects are not present.",
            ) from None

    def assign_license(
        self, tenant: MockTenant, identity: str, add: list[str], remove: list[str]
    ) -> MockMailbox:
        """Graph ``assignLicense``: prepaid units enforced, usage location required.

        Assigning a licence applies its mailbox plan's quotas (reference 2.5).
        """
        user = self.user(tenant, identity)
        by_id = {s.sku_id: s for s in tenant.skus}
        for sku_id in [*add, *remove]:
            if sku_id not in by_id:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"License {sku_id} does not correspond to a valid company License.",
                )
        adding = [s for s in add if s not in user.licenses]
        if adding and not user.usage_location:
            raise GraphError(
                400,
                "Request_BadRequest",
                "License assignment cannot be done for user with invalid usage location.",
            )
        for sku_id in adding:
            sku = by_id[sku_id]
            if sku.capability_status != "Enabled" or self.consumed(tenant, sku) >= sku.enabled:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Subscription with SKU {sku_id} does not have any available licenses.",
                )
        licenses = [s for s in user.licenses if s not in remove]
        licenses += [s for s in adding if s not in licenses]
        if licenses != user.licenses:
            user.licenses = licenses
            plan = self.mailbox_plan_of(tenant, user)
            if plan is not None and user.type == "UserMailbox":
                _set_quota_defaults(user, plan.quota)
        return user

    def update_user(
        self,
        tenant: MockTenant,
        identity: str,
        *,
        account_enabled: bool | None = None,
        password: str | None = None,
    ) -> MockMailbox:
        """Graph ``PATCH /users/{id}``: ``accountEnabled`` (false blocks every sign-in,
        deleting nothing) and ``passwordProfile.password`` (Entra's complexity rule)."""
        user = self.user(tenant, identity)
        if password is not None:
            _check_complexity(password)
            user.password = password
        if account_enabled is not None:
            user.account_enabled = account_enabled
        return user


def _check_complexity(password: str) -> None:
    """Entra ID's rule: 8 to 256 characters, three of lower, upper, digit and symbol."""
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if not 8 <= len(password) <= 256 or sum(classes) < 3:
        raise GraphError(
            400,
            "Request_BadRequest",
            "The specified password does not comply with password complexity requirements. "
            "Please provide a different password.",
        )


def _smtp(value: Any) -> str:
    """An address as ``smtp:x@y``, ``SMTP:x@y`` or bare, lower case ("" for none)."""
    if value is None:
        return ""
    text = str(value).strip()
    if text[:5].lower() == "smtp:":
        text = text[5:]
    return text.lower()


def _identity(parameters: Mapping[str, Any]) -> str:
    identity = parameters.get("Identity")
    if not isinstance(identity, str) or not identity.strip():
        raise CmdletError(
            400,
            "System.Management.Automation.ParameterBindingException",
            "Cannot process command because of one or more missing mandatory parameters: Identity.",
        )
    return identity


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise CmdletError(
        400,
        "System.Management.Automation.ParameterBindingException",
        f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
        f'"{value}" to type "System.Boolean".',
        in_details=False,
    )


def _size_parameter(name: str, value: Any) -> int | None:
    try:
        return parse_size(value)
    except ValueError:
        raise CmdletError(
            400,
            "System.Management.Automation.ParameterBindingException",
            f"Cannot process argument transformation on parameter '{name}'. Cannot convert "
            f'value "{value}" to type "Microsoft.Exchange.Data.Unlimited`1[Microsoft.Exchange.'
            'Data.ByteQuantifiedSize]".',
            in_details=False,
        ) from None


def _check_quota_order(quotas: Mapping[str, int | None]) -> None:
    """``IssueWarningQuota`` and ``ProhibitSendQuota`` <= ``ProhibitSendReceiveQuota``."""
    limit = quotas["ProhibitSendReceiveQuota"]
    if limit is None:
        return
    for name in ("IssueWarningQuota", "ProhibitSendQuota"):
        value = quotas[name]
        if value is None or value > limit:
            raise CmdletError(
                400,
                "Microsoft.Exchange.Data.DataValidationException",
                f"The value of property '{name}' must be less than or equal to that of "
                f"property 'ProhibitSendReceiveQuota'. {name}: '{format_size(value)}', "
                f"ProhibitSendReceiveQuota: '{format_size(limit)}'.",
            )


def _set_custom_attribute(mailbox: MockMailbox, name: str, value: Any) -> None:
    """``Set-Mailbox -CustomAttributeN``: empty or null clears it. A new dict each time:
    untouched filler mailboxes are copies of one template and may share the old one."""
    kept = {k: v for k, v in mailbox.custom_attributes.items() if k != name}
    if value is not None and value != "":
        kept[name] = str(value)
    mailbox.custom_attributes = kept


def _check_custom_attribute(value: Any) -> None:
    """A custom attribute is a string of at most 1,024 characters (PSDOC Set-Mailbox)."""
    if value is None:
        return
    if not isinstance(value, str) or len(value) > 1024:
        raise CmdletError(
            400,
            "Microsoft.Exchange.Data.DataValidationException",
            f"The length of the property is too long. The maximum length is 1024 and the "
            f"length of the value provided is {len(str(value))}.",
        )
