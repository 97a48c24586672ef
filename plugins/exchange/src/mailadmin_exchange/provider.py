"""The Exchange Online provider: the admin API's ``InvokeCommand`` for mailboxes, Microsoft
Graph for licences, an OAuth2 client-credentials token for each.

What each operation sends is listed in ``README.md`` ("What each operation sends").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mailadmin.sdk import (
    AddonRef,
    Capabilities,
    Change,
    ChangeResult,
    ClientCredentialsAuth,
    ConnectionStatus,
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
    Operation,
    Provider,
    TenantRef,
    Transport,
    Verified,
    bounded_int,
    errors,
    native_name,
    next_link_pages,
    parse_json,
)
from mailadmin_exchange.settings import ClientAccess, ExchangePlan, ExchangeSettings
from mailadmin_exchange.sizes import parse_size
from mailadmin_exchange.wire import (
    ADMIN_ANSWERS,
    ADMIN_ERRORS,
    ANCHOR_SYSTEM_MAILBOX,
    GRAPH_ANSWERS,
    GRAPH_ERRORS,
    AdminAnswer,
    cmdlet_body,
    invoke_headers,
    read_admin,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["ExchangeProvider"]

_MB = 1 << 20
_GB = 1 << 30
#: ``RecipientTypeDetails`` of the four kinds mailadmin counts (reference 2.2).
KINDS: dict[str, MailboxKind] = {
    "UserMailbox": MailboxKind.USER,
    "SharedMailbox": MailboxKind.SHARED,
    "RoomMailbox": MailboxKind.ROOM,
    "EquipmentMailbox": MailboxKind.EQUIPMENT,
}
#: Every other mailbox ``RecipientTypeDetails`` Get-Mailbox takes (Get-Mailbox.md) but
#: ``GroupMailbox`` (Microsoft 365 groups, listed only with -GroupMailbox): a count names
#: them ``unclassified`` rather than guess a kind (a linked mailbox may be a user's or a
#: shared one; a linked room is a room in another forest).
_OTHER_MAILBOXES = (
    "LinkedMailbox",
    "LinkedRoomMailbox",
    "SchedulingMailbox",
    "TeamMailbox",
    "DiscoveryMailbox",
    "LegacyMailbox",
)
_SWITCH = {
    MailboxKind.SHARED: "Shared",
    MailboxKind.ROOM: "Room",
    MailboxKind.EQUIPMENT: "Equipment",
}
_QUOTAS = ("IssueWarningQuota", "ProhibitSendQuota", "ProhibitSendReceiveQuota")
_FLAGS = ("ActiveSyncEnabled", "OWAEnabled", "MAPIEnabled", "PopEnabled", "ImapEnabled")
#: How the storage add-on kept on a mailbox reads: ``mailadmin-storage-gb=5``.
_STORAGE_MARK = "mailadmin-storage-gb="
_SKU_SELECT = "skuId,skuPartNumber,capabilityStatus,consumedUnits,prepaidUnits"
_WRITE_CONCURRENCY = 4
ADMIN_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_KEPT = "Exchange has no shared or resource mailbox limit; mailadmin keeps the allocation"
#: Why a tenant is neither created nor removed here.
_TENANT_IS_A_SUBSCRIPTION = (
    "an Exchange Online tenant is a Microsoft 365 subscription, signed up for and closed "
    "at Microsoft; an accepted domain added to it (New-AcceptedDomain) is one more domain "
    "of the same tenant, not a new customer"
)
_WHOLE_TENANT = (
    "an Exchange Online tenant has no switch that stops all its users; suspend each "
    "mailbox (Graph accountEnabled)"
)
Quotas = tuple[int | None, int | None, int | None]


class ExchangeProvider(Provider[ExchangeSettings]):
    """Microsoft Exchange Online through the admin API and Graph (see ``README.md``)."""

    name = "exchange"
    platform = "Microsoft Exchange Online"
    capabilities = Capabilities(
        operations=frozenset(
            {
                Operation.LIST_MAILBOXES,
                Operation.CREATE_MAILBOX,
                Operation.DELETE_MAILBOX,
                Operation.SET_PASSWORD,
                Operation.SUSPEND_MAILBOX,
                Operation.RESUME_MAILBOX,
                Operation.SET_DISPLAY_NAME,
                Operation.SET_FORWARDING,
                Operation.SET_QUOTA,
                Operation.ADD_ALIAS,
                Operation.REMOVE_ALIAS,
                Operation.LIST_ALIASES,
            }
        ),
        mailbox_kinds=frozenset({MailboxKind.SHARED, MailboxKind.ROOM, MailboxKind.EQUIPMENT}),
        addons=frozenset({"storage_gb"}),
        unsupported={
            "create_mailbox:user": "a user mailbox comes with a licensed Entra user, created in "
            "the directory, not with New-Mailbox",
            "delete_mailbox:user": "removing a user mailbox removes its Entra user; that is done "
            "in the directory",
            "addon:mailboxes": "seats are licences (prepaid units) bought from Microsoft; Graph "
            "cannot change them",
            "addon:shared_mailbox": _KEPT,
            "addon:resource_mailbox": _KEPT,
            "suspend_tenant": _WHOLE_TENANT,
            "resume_tenant": _WHOLE_TENANT,
            "list_tenants": "an instance is one Microsoft 365 tenant, its own configured one",
            "single_sign_on": "Microsoft 365 users sign in through Entra ID; no admin API "
            "hands out a sign-in link",
            "create_tenant": _TENANT_IS_A_SUBSCRIPTION,
            "delete_tenant": _TENANT_IS_A_SUBSCRIPTION,
        },
        # Subscriptions (SKUs) with prepaid units, assigned to users.
        licence=LicenceModel(kind=LicenceKind.PER_SEAT),
    )
    settings_model = ExchangeSettings

    _auth_on: Transport | None = None
    _sku_ids: dict[str, str] | None = None

    @classmethod
    def capabilities_for(cls, settings: ExchangeSettings) -> Capabilities:
        """Licence plans take the quota from the licence: no storage add-on then."""
        if settings.plan_mode == "quota" and settings.plans:
            return cls.capabilities
        return cls.capabilities.narrowed(
            ["addon:storage_gb"],
            "with licence plans the quota is the licence's; sell a larger SKU instead",
        )

    # -- required operations -------------------------------------------------------------

    async def _test_connection(self) -> ConnectionStatus:
        try:
            answer = await self._invoke("Get-MailboxPlan", {"ResultSize": 1}, write=False)
            await self._graph("GET", f"/v1.0/subscribedSkus?$select={_SKU_SELECT}")
        except errors.AuthenticationError as exc:
            return ConnectionStatus(ok=False, platform=self.platform, detail=exc.message)
        version = answer.headers.get("x-exchangeversion")
        return ConnectionStatus(ok=True, platform=self.platform, version=version)

    async def _list_plans(self) -> list[NativePlan]:
        plans: list[NativePlan] = []
        if self.settings.plan_mode == "licence":
            for sku in await self._skus():
                part = self._sku_name(sku)
                plans.append(
                    NativePlan(
                        native_name=part,
                        description=f"SKU {sku.get('skuId', '')}",
                        neutral_name=self._neutral_by_sku(part, str(sku.get("skuId", ""))),
                    )
                )
            return plans
        for name, plan in self.settings.plans.items():
            plans.append(
                NativePlan(
                    native_name=plan.native_name(),
                    description=plan.description,
                    quota_mb=plan.quota_mb,
                    features=plan.client_access.names(),
                    neutral_name=name,
                )
            )
        async for rows in self._rows("Get-MailboxPlan", {}, select=None):
            for row in rows:
                quota = _size(row.get("ProhibitSendReceiveQuota"))
                plans.append(
                    NativePlan(
                        native_name=self._plan_name(row.get("DisplayName") or row.get("Name")),
                        description="Exchange mailbox plan (applied with its licence)",
                        quota_mb=quota // _MB if quota is not None else None,
                    )
                )
        return plans

    async def _get_licence(self) -> Licence:
        wanted = {s.upper() for s in self.settings.licence_skus}
        wanted |= {p.sku.upper() for p in self.settings.plans.values() if p.sku}
        features: list[LicenceFeature] = []
        licensed = used = warning = 0
        statuses: set[str] = set()
        for sku in await self._skus():
            part = self._sku_name(sku)
            if part.upper() not in wanted and str(sku.get("skuId", "")).upper() not in wanted:
                continue
            units = sku.get("prepaidUnits") or {}
            enabled = self._units(units.get("enabled"), "prepaid units")
            consumed = self._units(sku.get("consumedUnits"), "consumed units")
            licensed += enabled
            used += consumed
            warning += self._units(units.get("warning"), "units in warning")
            statuses.add(str(sku.get("capabilityStatus", "")))
            features.append(LicenceFeature(name=part, quantity=enabled, used=consumed))
        if not features:
            state = LicenceState.NONE
        elif licensed > 0:
            state = LicenceState.ACTIVE
        elif warning > 0 or "Warning" in statuses:
            state = LicenceState.GRACE
        else:
            state = LicenceState.EXPIRED
        return Licence(
            seats_licensed=licensed, seats_used=used, features=tuple(features), state=state
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        by_kind = dict.fromkeys(MailboxKind, 0)
        by_plan: dict[str, int] = {}
        licence = self.settings.plan_mode == "licence" and bool(self.settings.plans)
        quota_plans = not licence and bool(self.settings.plans)
        select = "RecipientTypeDetails"
        if licence:
            select += ",MailboxPlan"
        elif quota_plans:
            # A quota plan is read from the quotas and the flags together (as set_plan
            # does): keep each user mailbox's quota properties for the flags that follow.
            select += ",PrimarySmtpAddress," + self._quota_select()
        quota_rows: dict[str, dict[str, Any]] = {}
        wanted = self._quota_select().split(",")
        parameters = {
            "RecipientTypeDetails": [*KINDS, *_OTHER_MAILBOXES],
            "ResultSize": self.settings.result_size,
        }
        unclassified = 0
        async for rows in self._rows("Get-Mailbox", parameters, select=select):
            for row in rows:
                kind = KINDS.get(str(row.get("RecipientTypeDetails")))
                if kind is None:
                    unclassified += 1
                    continue
                by_kind[kind] += 1
                if kind is MailboxKind.USER and licence:
                    plan = self._neutral_by_mailbox_plan(row.get("MailboxPlan")) or "unmapped"
                    by_plan[plan] = by_plan.get(plan, 0) + 1
                elif kind is MailboxKind.USER and quota_plans:
                    address = str(row.get("PrimarySmtpAddress", "")).lower()
                    quota_rows[address] = {name: row.get(name) for name in wanted}
        if quota_plans:
            async for address, features in self._user_features():
                plan = self._plan_of_row(quota_rows.get(address, {}), features) or "unmapped"
                by_plan[plan] = by_plan.get(plan, 0) + 1
        elif not licence and by_kind[MailboxKind.USER]:
            by_plan["unmapped"] = by_kind[MailboxKind.USER]
        return MailboxCount(
            tenant=tenant.name, by_kind=by_kind, by_plan=by_plan, unclassified=unclassified
        )

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        target = self._mapping(plan)
        if target.mode == "licence":
            return await self._set_licence_plan(mailbox, plan, target)
        return await self._set_quota_plan(mailbox, plan, target)

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        if addon.name != "storage_gb" or addon.plan is not None:
            raise errors.UnsupportedOperation(f"addon:{addon}", self.instance)
        if self.settings.plan_mode != "quota" or not self.settings.plans:
            raise errors.UnsupportedOperation(
                "addon:storage_gb",
                self.instance,
                "with licence plans the quota is the licence's; sell a larger SKU instead",
            )
        features_of: dict[str, ClientAccess] = {}
        async for address, flags in self._user_features():
            features_of[address] = flags
        extras: list[int] = []
        pending: list[tuple[str, Quotas]] = []
        parameters = {
            "RecipientTypeDetails": ["UserMailbox"],
            "ResultSize": self.settings.result_size,
        }
        async for rows in self._rows(
            "Get-Mailbox",
            parameters,
            select="PrimarySmtpAddress,UserPrincipalName," + self._quota_select(),
        ):
            for row in rows:
                address = str(row.get("PrimarySmtpAddress", "")).lower()
                held = features_of.get(address)
                name, extra = self._reading(row, held) if held is not None else (None, 0)
                if name is None:
                    continue  # not on a configured plan: its quota is not mailadmin's
                current = _quotas(row)
                extras.append(extra // _GB)
                wanted = self._quotas(self._mapping(name), quantity * _GB)
                if current != wanted:
                    pending.append((address, wanted))
        before = min(extras) if extras else 0

        async def apply() -> None:
            gate = asyncio.Semaphore(_WRITE_CONCURRENCY)

            async def one(address: str, quotas: Quotas) -> None:
                async with gate:
                    await self._set_quotas(address, quotas, quantity * _GB)

            # Every mailbox's write runs to its end before a failure is raised, so the
            # read-back below sees settled quotas, not writes still on their way.
            results = await asyncio.gather(*(one(a, q) for a, q in pending), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result

        async def verify() -> Verified:
            # One request per mailbox: after a failure some may hold the new quota and
            # some not, which is a partial change, not a failed one.
            wanted = dict(pending)
            held: dict[str, Quotas] = {}
            async for rows in self._rows(
                "Get-Mailbox", parameters, select="PrimarySmtpAddress," + ",".join(_QUOTAS)
            ):
                for row in rows:
                    address = str(row.get("PrimarySmtpAddress", "")).lower()
                    if address in wanted:
                        held[address] = _quotas(row)
            return Verified(
                applied=tuple(a for a in wanted if held.get(a) == wanted[a]),
                missing=tuple(a for a in wanted if held.get(a) != wanted[a]),
                state={a: list(q) for a, q in held.items()},
            )

        note = "" if extras else "no mailbox is on a configured plan; nothing holds the add-on"
        change = Change[int](
            subject=f"{tenant.name} storage_gb",
            before=before,
            after=quantity,
            apply=apply,
            note=note,
            same=not pending and before == quantity,
            verify=verify,
        )
        return await self.change(change)

    # -- optional operations -------------------------------------------------------------

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        licence = self.settings.plan_mode == "licence"
        features_of: dict[str, ClientAccess] = {}
        if not licence and self.settings.plans:
            async for address, features in self._user_features():
                features_of[address] = features
        found: list[Mailbox] = []
        parameters = {"RecipientTypeDetails": list(KINDS), "ResultSize": self.settings.result_size}
        select = (
            "PrimarySmtpAddress,DisplayName,RecipientTypeDetails,MailboxPlan,"
            "ExternalDirectoryObjectId," + self._quota_select()
        )
        async for rows in self._rows("Get-Mailbox", parameters, select=select):
            for row in rows:
                mailbox = self._mailbox(row)
                if mailbox is None:
                    continue
                plan = None
                if mailbox.kind is MailboxKind.USER:
                    # The vocabulary of count_mailboxes: a neutral plan, or "unmapped".
                    plan = (
                        self._neutral_by_mailbox_plan(row.get("MailboxPlan"))
                        if licence
                        else self._plan_of_row(row, features_of.get(mailbox.address.lower()))
                    ) or "unmapped"
                found.append(mailbox.model_copy(update={"plan": plan}))
        return found

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        switch = _SWITCH.get(mailbox.kind)
        if switch is None:
            raise errors.UnsupportedOperation("create_mailbox:user", self.instance)
        existing = await self._find(mailbox.address)
        if existing is not None and existing.kind is not mailbox.kind:
            raise errors.ConflictError(
                f"{mailbox.address} already exists as a {existing.kind.value} mailbox"
            )
        name = mailbox.address.split("@", 1)[0]
        parameters: dict[str, Any] = {
            "Name": name,
            "DisplayName": mailbox.display_name or name,
            "PrimarySmtpAddress": mailbox.address,
            switch: True,
        }
        wanted = Mailbox(
            address=mailbox.address, kind=mailbox.kind, display_name=mailbox.display_name or name
        )
        created: list[Mailbox] = []

        async def apply() -> None:
            answer = await self._invoke("New-Mailbox", parameters, write=True)
            rows = answer.value
            made = self._mailbox(rows[0]) if rows else None
            if rows and (made is None or made.address.lower() != mailbox.address.lower()):
                # Another mailbox's row, or no mailbox's: not New-Mailbox's answer to this.
                raise errors.OutcomeUnknown(
                    f"{self.instance} answered New-Mailbox with another mailbox; whether "
                    f"{mailbox.address} was created is not known",
                    debug={"operation": "New-Mailbox"},
                )
            created.append(made or wanted)

        change = Change[Mailbox](
            subject=mailbox.address,
            before=existing,
            after=existing or wanted,
            apply=apply,
            same=existing is not None,
            verify=self._presence(mailbox.address, wanted=True),
        )
        result = await self.change(change)
        if created:
            result = result.model_copy(update={"after": created[0]})
        return result

    # -- passwords and sign-in (Graph) ---------------------------------------------------

    async def _set_password(self, mailbox: MailboxRef, password: str) -> ChangeResult[str]:
        """Graph ``PATCH /users/{upn}`` with ``passwordProfile`` (the user keeps it: no
        change forced at the next sign-in); Entra's complexity rule is the platform's."""
        await self._account_enabled(mailbox)  # a missing user is refused, dry run or not

        async def apply() -> None:
            body = {
                "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": False}
            }
            try:
                await self._graph_patch(mailbox, body)
            except errors.MailadminError as exc:
                if "complexity" in str(exc.debug):
                    raise errors.ValidationError(
                        f"{self.instance} refused the password of {mailbox.address}: it must "
                        "have 8 to 256 characters, with three of lower case, upper case, "
                        "digits and symbols"
                    ) from None
                raise

        return await self.change(
            Change[str](
                subject=mailbox.address,
                before="set",
                after="set",
                same=False,  # a password cannot be read back; setting it again is harmless
                apply=apply,
            )
        )

    async def _suspend_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._sign_in(mailbox, enabled=False)

    async def _resume_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._sign_in(mailbox, enabled=True)

    async def _sign_in(self, mailbox: MailboxRef, *, enabled: bool) -> ChangeResult[str]:
        """Graph ``accountEnabled``: false blocks every sign-in (mail stays, as do
        licences); what Microsoft and CIPP use to block a user."""
        held = await self._account_enabled(mailbox)

        async def apply() -> None:
            await self._graph_patch(mailbox, {"accountEnabled": enabled})

        async def verify() -> Verified:
            now = await self._account_enabled(mailbox)
            state = {"accountEnabled": now}
            if now == enabled:
                return Verified(("accountEnabled",), (), state)
            return Verified((), ("accountEnabled",), state)

        return await self.change(
            Change[str](
                subject=mailbox.address,
                before=_access(held),
                after=_access(enabled),
                apply=apply,
                verify=verify,
            )
        )

    async def _account_enabled(self, mailbox: MailboxRef) -> bool:
        user = await self._graph(
            "GET",
            f"/v1.0/users/{quote(mailbox.address)}?$select=id,accountEnabled",
            subject=mailbox.address,
        )
        return user.get("accountEnabled") is not False

    async def _graph_patch(self, mailbox: MailboxRef, body: dict[str, Any]) -> None:
        """A Graph ``PATCH`` of the user (204, no body)."""
        graph = JsonClient(
            self._wire, name=self.instance, errors=GRAPH_ERRORS, answers=GRAPH_ANSWERS
        )
        await graph.request(
            "PATCH",
            f"/v1.0/users/{quote(mailbox.address)}",
            json=body,
            write=True,
            idempotent=True,
            endpoint="graph",
            operation="update user",
            subject=mailbox.address,
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        existing = await self._find(mailbox.address)
        if existing is not None and existing.kind is MailboxKind.USER:
            raise errors.UnsupportedOperation(
                "delete_mailbox:user",
                self.instance,
                self.capabilities.reason("delete_mailbox:user"),
            )

        async def apply() -> None:
            await self._invoke(
                "Remove-Mailbox", {"Identity": mailbox.address, "Confirm": False}, write=True
            )

        change = Change[Mailbox](
            subject=mailbox.address,
            before=existing,
            after=None,
            apply=apply,
            verify=self._presence(mailbox.address, wanted=False),
        )
        return await self.change(change)

    def _presence(self, address: str, *, wanted: bool) -> Callable[[], Awaitable[Verified]]:
        """The read-back of a creation (``wanted``) or a deletion: is the mailbox there."""

        async def verify() -> Verified:
            held = await self._find(address) is not None
            state = {"mailbox": held}
            if held == wanted:
                return Verified(("mailbox",), (), state)
            return Verified((), ("mailbox",), state)

        return verify

    # -- mailbox settings ----------------------------------------------------------------

    async def _settings_row(self, mailbox: MailboxRef) -> dict[str, Any]:
        return await self._one("Get-Mailbox", mailbox.address, _SETTINGS_SELECT)

    async def _read_settings(self, mailbox: MailboxRef) -> MailboxSettings:
        row = await self._settings_row(mailbox)
        # EmailAddresses: "SMTP:" is the primary address, "smtp:" the others (and other
        # prefixes, X500: or SIP:, are no mail addresses).
        aliases = [
            str(a)[5:].lower()
            for a in row.get("EmailAddresses") or []
            if str(a).startswith("smtp:")
        ]
        forwarding = str(row.get("ForwardingSmtpAddress") or "")
        if forwarding[:5].lower() == "smtp:":
            forwarding = forwarding[5:]
        quota = _size(row.get("ProhibitSendReceiveQuota"))
        return MailboxSettings(
            display_name=str(row.get("DisplayName") or ""),
            forwarding=forwarding.lower(),
            quota_mb=None if quota is None else quota // _MB,
            aliases=tuple(aliases),
        )

    async def _write_settings(
        self, mailbox: MailboxRef, held: MailboxSettings, wanted: MailboxSettings
    ) -> None:
        parameters: dict[str, Any] = {"Identity": mailbox.address}
        if wanted.display_name != held.display_name:
            parameters["DisplayName"] = wanted.display_name
        if wanted.forwarding != held.forwarding:
            # A copy stays in the mailbox, as the other platforms keep one.
            parameters["ForwardingSmtpAddress"] = (
                f"smtp:{wanted.forwarding}" if wanted.forwarding else None
            )
            parameters["DeliverToMailboxAndForward"] = bool(wanted.forwarding)
        if wanted.aliases != held.aliases:
            parameters["EmailAddresses"] = {
                "@odata.type": "#Exchange.GenericHashTable",
                "Add": [f"smtp:{a}" for a in sorted(set(wanted.aliases) - set(held.aliases))],
                "Remove": [f"smtp:{a}" for a in sorted(set(held.aliases) - set(wanted.aliases))],
            }
        if wanted.quota_mb != held.quota_mb and wanted.quota_mb is not None:
            # The warning and send quotas must not pass the send-and-receive quota.
            limit = wanted.quota_mb * _MB
            warning, send, _ = _quotas(
                await self._one("Get-Mailbox", mailbox.address, ",".join(_QUOTAS))
            )
            parameters["IssueWarningQuota"] = limit if warning is None else min(warning, limit)
            parameters["ProhibitSendQuota"] = limit if send is None else min(send, limit)
            parameters["ProhibitSendReceiveQuota"] = limit
        await self._invoke("Set-Mailbox", parameters, write=True, idempotent=True)

    # -- set_plan, both modes ------------------------------------------------------------

    async def _set_quota_plan(
        self, mailbox: MailboxRef, plan: str, target: ExchangePlan
    ) -> ChangeResult[str]:
        """Quota mode: ``Set-Mailbox`` quotas and ``Set-CASMailbox`` flags, each only when
        it differs. A storage add-on's extra on the mailbox is kept across plans."""
        row = await self._one(
            "Get-Mailbox", mailbox.address, "RecipientTypeDetails," + self._quota_select()
        )
        cas = await self._one("Get-CASMailbox", mailbox.address, ",".join(_FLAGS))
        features = ClientAccess.from_cas(cas)
        # The plan is read from the quotas and the flags together: after a change that
        # stopped between them, the mailbox is on no plan, and its add-on is what was kept.
        current, extra = self._reading(row, features)
        quotas = _quotas(row)
        wanted = self._quotas(target, extra)
        quotas_differ = quotas != wanted
        flags_differ = features != target.client_access

        async def apply() -> None:
            if quotas_differ:
                await self._set_quotas(mailbox.address, wanted, extra)
            if flags_differ:
                await self._invoke(
                    "Set-CASMailbox",
                    {"Identity": mailbox.address, **target.client_access.parameters()},
                    write=True,
                    idempotent=True,
                )

        async def verify() -> Verified:
            # Two steps (Set-Mailbox, then Set-CASMailbox): read both back, so a failure
            # between them is reported as the half it is, a lost answer as what landed.
            parts: dict[str, bool] = {}
            state: dict[str, object] = {}
            if quotas_differ:
                held = _quotas(await self._one("Get-Mailbox", mailbox.address, ",".join(_QUOTAS)))
                parts["quota"] = held == wanted
                state["quotas"] = list(held)
            if flags_differ:
                now = await self._one("Get-CASMailbox", mailbox.address, ",".join(_FLAGS))
                flags = ClientAccess.from_cas(now)
                parts["client_access"] = flags == target.client_access
                state["plan"] = self._neutral_by_features(flags)
            return Verified(
                applied=tuple(name for name, done in parts.items() if done),
                missing=tuple(name for name, done in parts.items() if not done),
                state=state,
            )

        change = Change[str](
            subject=mailbox.address,
            before=current,
            after=plan,
            apply=apply,
            same=not quotas_differ and not flags_differ,
            verify=verify,
        )
        return await self.change(change)

    async def _set_licence_plan(
        self, mailbox: MailboxRef, plan: str, target: ExchangePlan
    ) -> ChangeResult[str]:
        """Licence mode: one Graph ``assignLicense`` adding the plan's SKU and removing the
        other plans' SKUs the user holds (a swap in one call)."""
        user = await self._graph(
            "GET",
            f"/v1.0/users/{quote(mailbox.address)}?$select=id,userPrincipalName,assignedLicenses",
            subject=mailbox.address,
        )
        ids = await self._sku_id_map()
        target_id = self._sku_id(target, ids)
        assigned = {
            str(item.get("skuId", "")).lower()
            for item in (user.get("assignedLicenses") or [])
            if isinstance(item, dict)
        }
        others = {
            self._sku_id(p, ids)
            for name, p in self.settings.plans.items()
            if name != plan and p.sku is not None
        }
        remove = sorted(others & assigned)
        current = next(
            (name for name, p in self.settings.plans.items() if self._sku_id(p, ids) in assigned),
            None,
        )
        if target_id in assigned:
            current = plan if not remove else current
        user_id = str(user.get("id") or mailbox.address)

        async def apply() -> None:
            add = [] if target_id in assigned else [{"skuId": target_id, "disabledPlans": []}]
            await self._graph(
                "POST",
                f"/v1.0/users/{quote(user_id)}/assignLicense",
                json={"addLicenses": add, "removeLicenses": remove},
                write=True,
                subject=mailbox.address,
            )

        async def verify() -> Verified:
            # One call, but read back all the same: a lost answer is reported as landed
            # or not from the licences the user now holds.
            now = await self._graph(
                "GET",
                f"/v1.0/users/{quote(user_id)}?$select=id,assignedLicenses",
                subject=mailbox.address,
            )
            held = {
                str(item.get("skuId", "")).lower()
                for item in (now.get("assignedLicenses") or [])
                if isinstance(item, dict)
            }
            on_target = target_id in held and not (held & set(remove))
            return Verified(
                applied=("licence",) if on_target else (),
                missing=() if on_target else ("licence",),
                state=sorted(held),
            )

        change = Change[str](
            subject=mailbox.address,
            before=current,
            after=plan,
            apply=apply,
            same=target_id in assigned and not remove,
            verify=verify,
        )
        return await self.change(change)

    # -- mapping -------------------------------------------------------------------------

    def _mapping(self, plan: str) -> ExchangePlan:
        mapping = self.plan(plan)
        assert isinstance(mapping, ExchangePlan)  # settings_model types every plan
        return mapping

    def _quotas(self, plan: ExchangePlan, extra: int) -> Quotas:
        """The three quotas of a quota plan plus ``extra`` bytes of add-on storage."""
        if plan.quota_mb is None:
            return (None, None, None)
        limit = plan.quota_mb * _MB + extra
        return (limit * plan.warning_percent // 100, limit * plan.send_percent // 100, limit)

    def _extra(self, plan: ExchangePlan, quotas: Quotas) -> int:
        """Bytes of add-on storage a mailbox on ``plan`` holds above the plan's quota.

        Only quotas mailadmin wrote count: all three at the plan's proportions. A mailbox
        whose quotas were set some other way (Exchange's 98 %/99 % defaults) holds none.
        """
        limit = quotas[2]
        base = self._quotas(plan, 0)[2]
        if limit is None or base is None or limit <= base:
            return 0
        extra = limit - base
        return extra if self._quotas(plan, extra) == quotas else 0

    def _plan_of_row(self, row: Mapping[str, Any], features: ClientAccess | None) -> str | None:
        """A listed user mailbox's plan (quota mode), from its quotas and flags."""
        return None if features is None else self._reading(row, features)[0]

    def _quota_select(self) -> str:
        """The ``Get-Mailbox`` properties a plan's quotas are read from."""
        attribute = self.settings.storage_attribute
        return ",".join((*_QUOTAS, attribute) if attribute else _QUOTAS)

    def _storage_kept(self, row: Mapping[str, Any]) -> int | None:
        """The storage add-on (bytes) kept on a mailbox apart from its quotas, or ``None``
        when none is kept there (a mailbox mailadmin has not written yet)."""
        attribute = self.settings.storage_attribute
        value = row.get(attribute) if attribute else None
        if not isinstance(value, str) or not value.startswith(_STORAGE_MARK):
            return None
        digits = value[len(_STORAGE_MARK) :]
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 7):
            return None
        return int(digits) * _GB

    def _reading(self, row: Mapping[str, Any], features: ClientAccess) -> tuple[str | None, int]:
        """The plan a mailbox is on, read from every attribute that defines it (quotas
        and client-access flags), and the storage add-on (bytes) it holds. The plan is
        ``None`` when they disagree: a change that stopped between its two steps."""
        quotas = _quotas(row)
        by_flags = self._neutral_by_features(features)
        kept = self._storage_kept(row)
        if kept is None:
            # Never written by mailadmin with the add-on kept apart: infer the add-on from
            # the quotas of the plan the flags name.
            if by_flags is None:
                return None, 0
            return by_flags, self._extra(self._mapping(by_flags), quotas)
        if by_flags is not None and self._quotas(self._mapping(by_flags), kept) == quotas:
            return by_flags, kept
        return None, kept

    def _neutral_by_features(self, features: ClientAccess) -> str | None:
        for name, plan in self.settings.plans.items():
            if plan.mode == "quota" and plan.client_access == features:
                return name
        return None

    def _sku_name(self, sku: Mapping[str, Any]) -> str:
        """A SKU's part number read back, refused unless it looks like one."""
        part = sku.get("skuPartNumber")
        return native_name(
            part if isinstance(part, str) else None, what="SKU", source=self.instance
        )

    def _plan_name(self, value: object) -> str:
        """A mailbox plan name read back, refused unless it looks like one."""
        return native_name(
            value if isinstance(value, str) else None, what="mailbox plan", source=self.instance
        )

    def _units(self, value: object, what: str) -> int:
        """A licence count read back: absent is none; else a whole number in range
        (10**30 seats, -5 or "12" in a JSON number's place are refused, not reported)."""
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool):
            raise errors.ProtocolError(
                f"{self.instance} sent a value of {what} that is not a whole number"
            )
        return bounded_int(value, what=what, source=self.instance)

    def _neutral_by_mailbox_plan(self, value: object) -> str | None:
        """The plan whose licence applies the mailbox plan ``ExchangeOnline-<guid>``."""
        if value is None or value == "":
            return None
        value = self._plan_name(value)
        for name, plan in self.settings.plans.items():
            native = plan.mailbox_plan_name()
            if native and (value == native or value.startswith(native + "-")):
                # ExchangeOnline-<guid> must not match ExchangeOnlineEnterprise-<guid>.
                rest = value[len(native) :]
                if rest == "" or _is_guid(rest[1:]):
                    return name
        return None

    def _neutral_by_sku(self, part: str, sku_id: str) -> str | None:
        for name, plan in self.settings.plans.items():
            if plan.sku and plan.sku.lower() in (part.lower(), sku_id.lower()):
                return name
        return None

    def _sku_id(self, plan: ExchangePlan, ids: Mapping[str, str]) -> str:
        sku = (plan.sku or "").lower()
        if _is_guid(sku):
            return sku
        try:
            return ids[sku]
        except KeyError:
            raise errors.ConfigurationError(
                f"{self.instance}: the tenant has no subscription to SKU '{plan.sku}'"
            ) from None

    async def _sku_id_map(self) -> dict[str, str]:
        if self._sku_ids is None:
            self._sku_ids = {
                self._sku_name(s).lower(): str(s.get("skuId", "")).lower()
                for s in await self._skus()
            }
        return self._sku_ids

    def _mailbox(self, row: Mapping[str, Any]) -> Mailbox | None:
        kind = KINDS.get(str(row.get("RecipientTypeDetails")))
        address = str(row.get("PrimarySmtpAddress") or "")
        if kind is None or "@" not in address:
            return None
        quota = _size(row.get("ProhibitSendReceiveQuota"))
        return Mailbox(
            address=address,
            kind=kind,
            display_name=str(row.get("DisplayName") or ""),
            quota_mb=quota // _MB if quota is not None else None,
            native_id=str(row.get("ExternalDirectoryObjectId") or "") or None,
        )

    # -- wire ----------------------------------------------------------------------------

    @property
    def _wire(self) -> Transport:
        """The transport, with a client-credentials token attached to the admin API and to
        Graph (one token per scope; the token endpoint is the ``token`` endpoint)."""
        transport = self.http
        if self._auth_on is not transport:
            # A closed provider builds a new transport on next use: attach to that one too.
            settings = self.settings
            token_url = f"/{settings.tenant_key}/oauth2/v2.0/token"
            for endpoint, scope in (("admin", ADMIN_SCOPE), ("graph", GRAPH_SCOPE)):
                auth = ClientCredentialsAuth(
                    token_url,
                    settings.credentials.username,
                    settings.credentials.secret.get_secret_value(),
                    scope,
                    endpoint="token",
                )
                transport.set_auth(auth, endpoint=endpoint)
            self._auth_on = transport
        return transport

    @property
    def _anchor(self) -> str:
        settings = self.settings
        if settings.anchor_mailbox:
            return settings.anchor_mailbox
        if settings.tenant_id:
            return f"APP:{ANCHOR_SYSTEM_MAILBOX}@{settings.tenant_id}"
        return f"UPN:{ANCHOR_SYSTEM_MAILBOX}@{settings.tenant}"

    def _invoke_path(self, select: str | None) -> str:
        path = f"/adminapi/beta/{self.settings.tenant_key}/InvokeCommand"
        return f"{path}?$select={select}" if select else path

    def _read_admin(
        self, subject: str, cmdlet: str = "", *, write: bool = False
    ) -> Callable[[httpx.Response], AdminAnswer]:
        def read(response: httpx.Response) -> AdminAnswer:
            ADMIN_ERRORS.raise_for(
                response, provider=self.instance, subject=subject, redactor=self._wire
            )
            body = _json(response, self.instance)
            # A refusal inside a 200, or an answer that is not this cmdlet's: the typed
            # error, or OutcomeUnknown after a write (never "changed").
            ADMIN_ANSWERS.settle(
                body, provider=self.instance, operation=cmdlet, subject=subject, write=write
            )
            return read_admin(body, source=self.instance, headers=dict(response.headers))

        return read

    async def _invoke(
        self,
        cmdlet: str,
        parameters: dict[str, Any],
        *,
        write: bool,
        select: str | None = None,
        idempotent: bool | None = None,
    ) -> AdminAnswer:
        """Run one cmdlet. ``idempotent``: a write that sets absolute values (Set-Mailbox,
        Set-CASMailbox), so the transport may resend it when it surely was not processed
        (a refused connection, 429, 503)."""
        response = await self._wire.request(
            "POST",
            self._invoke_path(select),
            endpoint="admin",
            json=cmdlet_body(cmdlet, parameters),
            headers=invoke_headers(cmdlet, self._anchor),
            write=write,
            idempotent=idempotent,
            operation=cmdlet,
        )
        return self._read_admin(_subject(cmdlet, parameters), cmdlet, write=write)(response)

    async def _rows(
        self, cmdlet: str, parameters: dict[str, Any], *, select: str | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The rows of a read cmdlet page by page; each next link gets the same body again."""
        pages = next_link_pages(
            self._wire,
            self._invoke_path(select),
            method="POST",
            follow="repost",
            json=cmdlet_body(cmdlet, parameters),
            headers=invoke_headers(cmdlet, self._anchor),
            endpoint="admin",
            page_size=self.settings.page_size,
            operation=cmdlet,
            read=self._read_admin(cmdlet, cmdlet),
            next_link=lambda answer: answer.next_link,
        )
        async for answer in pages:
            yield answer.value

    async def _one(self, cmdlet: str, identity: str, select: str) -> dict[str, Any]:
        answer = await self._invoke(cmdlet, {"Identity": identity}, write=False, select=select)
        if not answer.value:
            raise errors.NotFoundError(f"{self.instance} has no mailbox {identity}")
        return answer.value[0]

    async def _find(self, address: str) -> Mailbox | None:
        try:
            row = await self._one(
                "Get-Mailbox",
                address,
                "PrimarySmtpAddress,DisplayName,RecipientTypeDetails,ProhibitSendReceiveQuota,"
                "ExternalDirectoryObjectId",
            )
        except errors.NotFoundError:
            return None
        return self._mailbox(row)

    async def _user_features(self) -> AsyncIterator[tuple[str, ClientAccess]]:
        """Each user mailbox's address and client-access flags (``Get-CASMailbox``)."""
        parameters = {
            "RecipientTypeDetails": ["UserMailbox"],
            "ResultSize": self.settings.result_size,
        }
        async for rows in self._rows(
            "Get-CASMailbox", parameters, select="PrimarySmtpAddress," + ",".join(_FLAGS)
        ):
            for row in rows:
                yield str(row.get("PrimarySmtpAddress", "")).lower(), ClientAccess.from_cas(row)

    async def _set_quotas(self, address: str, quotas: Quotas, storage: int) -> None:
        """One ``Set-Mailbox``: the quotas, and the storage add-on (bytes) they include
        kept apart in the same request, so the two never disagree."""
        parameters: dict[str, Any] = {"Identity": address}
        for name, value in zip(_QUOTAS, quotas, strict=True):
            parameters[name] = "Unlimited" if value is None else value
        if self.settings.storage_attribute:
            parameters[self.settings.storage_attribute] = f"{_STORAGE_MARK}{storage // _GB}"
        await self._invoke("Set-Mailbox", parameters, write=True, idempotent=True)

    async def _graph(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        write: bool = False,
        subject: str = "",
    ) -> dict[str, Any]:
        graph = JsonClient(
            self._wire, name=self.instance, errors=GRAPH_ERRORS, answers=GRAPH_ANSWERS
        )
        data = await graph.request(
            method, path, json=json, write=write, endpoint="graph", operation=path, subject=subject
        )
        if not isinstance(data, dict):
            raise errors.ProtocolError(f"{self.instance} sent an answer that could not be read")
        return data

    async def _skus(self) -> list[dict[str, Any]]:
        data = await self._graph(
            "GET", f"/v1.0/subscribedSkus?$select={_SKU_SELECT}", subject="the licences"
        )
        value = data.get("value")
        if not isinstance(value, list):
            raise errors.ProtocolError(f"{self.instance} sent an answer that could not be read")
        return [s for s in value if isinstance(s, dict)]


def _access(enabled: bool) -> str:
    """The contract's word for sign-in allowed or blocked."""
    return "active" if enabled else "suspended"


def _subject(cmdlet: str, parameters: Mapping[str, Any]) -> str:
    """What an error message names: the object a cmdlet works on, else the cmdlet."""
    identity = parameters.get("Identity") or parameters.get("PrimarySmtpAddress")
    return f"{cmdlet} {identity}" if identity else cmdlet


def _json(response: httpx.Response, instance: str) -> Any:
    # The core's parser: NaN, Infinity, huge numbers and deep nesting are protocol errors.
    return parse_json(response.content, source=instance)


def _size(value: object) -> int | None:
    try:
        return parse_size(value)
    except ValueError:
        return None


_MB = 1024 * 1024
#: What the settings operations read of Get-Mailbox.
_SETTINGS_SELECT = "DisplayName,EmailAddresses,ForwardingSmtpAddress,ProhibitSendReceiveQuota"


def _quotas(row: Mapping[str, Any]) -> Quotas:
    values = [_size(row.get(name)) for name in _QUOTAS]
    return (values[0], values[1], values[2])


def _is_guid(text: str) -> bool:
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for p in parts for c in p
    )
