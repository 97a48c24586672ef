"""The Zextras / Carbonio provider: Zimbra admin SOAP (JSON form) plus the ``zextras`` request.

Plans are classes of service (COS): a neutral plan maps to a COS by name, and a mailbox's
plan is its *effective* COS (its own ``zimbraCOSId``, else its domain's
``zimbraDomainDefaultCOSId``, else ``default``). A tenant is a mail domain (its name, or
``native_id``). Seats are the domain's ``zimbraDomainMaxAccounts`` and, per plan,
``zimbraDomainCOSMaxAccounts``; storage is the domain's ``zimbraDomainAggregateQuota``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from mailadmin.sdk import (
    AddonRef,
    Applied,
    Capabilities,
    Change,
    ChangeResult,
    ConnectionStatus,
    Licence,
    LicenceKind,
    LicenceModel,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    NativePlan,
    NewMailbox,
    Operation,
    Provider,
    SignOn,
    TenantRef,
    Verified,
    bounded_int,
    errors,
    native_name,
    paging,
)
from mailadmin_zextras.client import AdminClient, TooManyResults, attributes, entries
from mailadmin_zextras.licence import decode_content, licence_of
from mailadmin_zextras.settings import ZextrasSettings

__all__ = ["LICENSED_MAILBOXES", "ZextrasProvider"]

log = logging.getLogger("mailadmin_zextras")

#: The mailboxes a Zextras licence must cover, as Zextras documents the query (licensing.rst).
LICENSED_MAILBOXES = (
    "(&(!(zimbraIsSystemAccount=*))(!(zimbraIsExternalVirtualAccount=*))"
    "(!(objectClass=zimbraCalendarResource))(objectClass=zimbraAccount)"
    "(zimbraMailDeliveryAddress=*))"
)
#: The zimbraId of the global ``default`` COS (the same on every server).
DEFAULT_COS_ID = "e00428a1-0c00-11d9-836a-000d93afea2a"
_GIB = 1024**3
_MIB = 1024**2
_UNMAPPED = "unmapped"
_RESOURCE_KINDS = {"Location": MailboxKind.ROOM, "Equipment": MailboxKind.EQUIPMENT}
_LIST_ATTRS = (
    "zimbraCOSId",
    "zimbraMailQuota",
    "displayName",
    "zimbraCalResType",
    "zimbraIsSystemAccount",
    "zimbraIsSystemResource",
    "zimbraIsExternalVirtualAccount",
    "zimbraMailDeliveryAddress",
    "zimbraACE",
)

#: First characters of ``uid`` a search too large for the server is split on; one more
#: slice holds every other uid, so the slices always cover the search exactly.
_UID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
#: How many characters deep a search is split at most (a slice is split only when the
#: server refused it, so depth costs requests only where names share long prefixes).
_MAX_SPLIT_DEPTH = 8


def _uid_slices(prefix: str) -> list[tuple[str | None, str]]:
    """The slices of the uids starting with ``prefix``: one per next character (which may
    be split again), then the rest (which may not)."""
    parts = [f"(uid={prefix}{char}*)" for char in _UID_CHARS]
    rest = f"(!(|{''.join(parts)}))"
    if prefix:
        rest = f"(&(uid={prefix}*){rest})"
    slices: list[tuple[str | None, str]] = [
        (prefix + char, part) for char, part in zip(_UID_CHARS, parts, strict=True)
    ]
    return [*slices, (None, rest)]


def _licensed(attrs: dict[str, list[str]]) -> bool:
    """Whether the licence filter counts an account (it is one, not a calendar resource)."""
    return (
        not attrs.get("zimbraIsSystemAccount")
        and not attrs.get("zimbraIsExternalVirtualAccount")
        and bool(attrs.get("zimbraMailDeliveryAddress"))
    )


#: Rights whose grant lets someone else use a mailbox (Zimbra's ``sendAs``,
#: ``sendOnBehalfOf``; ``zimbraACE`` values read ``{grantee-id} {grantee-type} {right}``,
#: a denied right prefixed with ``-``).
_DELEGATION_RIGHTS = frozenset({"sendas", "sendonbehalfof"})


def _delegates(aces: list[str]) -> bool:
    """Whether ``zimbraACE`` values grant (not deny) a delegation right."""
    return any(ace.split()[-1].lower() in _DELEGATION_RIGHTS for ace in aces if ace.split())


_ACTIVE, _LOCKED, _SUSPENDED = "active", "locked", "suspended"


def _neutral_status(status: str) -> str:
    """The contract's word: ``active``, or ``suspended`` for any status that refuses login
    (``locked``, ``closed``, ``maintenance``... of an account; ``suspended`` of a domain)."""
    return "active" if status == _ACTIVE else "suspended"


def _verified(part: str, held: str, wanted: str) -> Verified:
    state = {part: held}
    return Verified((part,), (), state) if held == wanted else Verified((), (part,), state)


#: The account attributes the settings operations read.
_SETTINGS_ATTRS = (
    "displayName",
    "zimbraPrefMailForwardingAddress",
    "zimbraMailQuota",
    "zimbraMailAlias",
)
_MB = 1024 * 1024


def _web_base(endpoint: str) -> str:
    """The webmail of an admin endpoint: its host, without the admin port."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.hostname}"


def _true(values: list[str] | None) -> bool:
    if not values:
        return False
    return values[0].strip().upper() in ("TRUE", "1")


class ZextrasProvider(Provider[ZextrasSettings]):
    """Carbonio / Zextras Suite (Zimbra admin SOAP): COS plans, domain limits, the licence."""

    name = "zextras"
    platform = "Zextras / Carbonio"
    settings_model = ZextrasSettings
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
                Operation.SINGLE_SIGN_ON,
                Operation.LIST_TENANTS,
                Operation.CREATE_TENANT,
                Operation.DELETE_TENANT,
            }
        ),
        mailbox_kinds=frozenset(MailboxKind),
        addons=frozenset({"mailboxes", "storage_gb"}),
        unsupported={
            "addon:shared_mailbox": "Zimbra sets no limit on shared mailboxes (they are "
            "ordinary accounts); mailadmin keeps that allocation",
            "addon:resource_mailbox": "Zimbra sets no limit on calendar resources; mailadmin "
            "keeps that allocation",
        },
        # Seed 002: every user mailbox needs a Zextras licence, at least 10 at a time.
        # Its licence filter (LICENSED_MAILBOXES) counts shared mailboxes: accounts too.
        licence=LicenceModel(
            kind=LicenceKind.PER_MAILBOX, minimum=10, counted_kinds=("user", "shared")
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: AdminClient | None = None
        self._cos_ids: dict[str, str] = {}
        self._cos_pending: dict[str, asyncio.Task[str]] = {}

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def api(self) -> AdminClient:
        """The admin SOAP client (one session per provider instance)."""
        if self._client is None:
            self._client = AdminClient(self.http, self.settings, self.instance)
        return self._client

    async def aclose(self) -> None:
        """Close the connections; the next call signs in again."""
        self._client = None
        await super().aclose()

    async def _cos_id(self, cos_name: str) -> str:
        # COS ids never change, so names are resolved once per instance; calls that start
        # together (a bulk run) wait for the one lookup in flight instead of each sending it.
        found = self._cos_ids.get(cos_name)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        pending = self._cos_pending.get(cos_name)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(self._fetch_cos_id(cos_name))
            self._cos_pending[cos_name] = pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done() and self._cos_pending.get(cos_name) is pending:
                del self._cos_pending[cos_name]  # a failed lookup is tried again

    async def _fetch_cos_id(self, cos_name: str) -> str:
        answer = await self.api.call(
            "GetCosRequest",
            {"cos": {"by": "name", "_content": cos_name}, "attrs": "cn"},
            subject=cos_name,
        )
        found = entries(answer, "cos")
        if not found:
            raise errors.ProtocolError(f"{self.instance} sent no COS for '{cos_name}'")
        self._cos_ids[cos_name] = str(found[0]["id"])
        return self._cos_ids[cos_name]

    async def _plan_ids(self) -> dict[str, str]:
        """COS id -> neutral plan, for every configured plan."""
        return {await self._cos_id(m.cos): name for name, m in self.settings.plans.items()}

    async def _plan_cos(self, plan: str) -> str:
        mapping = self.settings.plans[plan]
        try:
            return await self._cos_id(mapping.cos)
        except errors.NotFoundError:
            raise errors.ConfigurationError(
                f"The plan '{plan}' of '{self.instance}' names the COS '{mapping.cos}', "
                "which the server does not have"
            ) from None

    async def _domain(self, name: str) -> tuple[str, dict[str, list[str]]]:
        answer = await self.api.call(
            "GetDomainRequest", {"domain": {"by": "name", "_content": name}}, subject=name
        )
        found = entries(answer, "domain")
        if not found:
            raise errors.ProtocolError(f"{self.instance} sent no domain for '{name}'")
        return str(found[0]["id"]), attributes(found[0])

    async def _domain_default_cos(self, domain: str) -> str:
        _, attrs = await self._domain(domain)
        return (attrs.get("zimbraDomainDefaultCOSId") or [DEFAULT_COS_ID])[0] or DEFAULT_COS_ID

    async def _account(self, address: str) -> dict[str, Any] | None:
        try:
            answer = await self.api.call(
                "GetAccountRequest",
                {
                    "account": {"by": "name", "_content": address},
                    "applyCos": 1,
                    "attrs": ",".join((*_LIST_ATTRS, self.settings.shared_mailbox_attribute)),
                },
                subject=address,
            )
        except errors.NotFoundError:
            return None
        found = entries(answer, "account") or entries(answer, "calresource")
        return found[0] if found else None

    def _kind(self, attrs: dict[str, list[str]]) -> MailboxKind:
        resource = (attrs.get("zimbraCalResType") or [""])[0]
        if resource in _RESOURCE_KINDS:
            return _RESOURCE_KINDS[resource]
        if self._is_shared(attrs):
            return MailboxKind.SHARED
        if self.settings.delegated_accounts == "shared" and _delegates(attrs.get("zimbraACE", [])):
            return MailboxKind.SHARED
        return MailboxKind.USER

    def _is_shared(self, attrs: dict[str, list[str]]) -> bool:
        marker = attrs.get(self.settings.shared_mailbox_attribute, [])
        return any(v.lower() == self.settings.shared_mailbox_value.lower() for v in marker)

    def _mailbox(
        self, entry: dict[str, Any], default_cos: str, plans: dict[str, str], names: dict[str, str]
    ) -> Mailbox:
        attrs = attributes(entry)
        kind = self._kind(attrs)
        plan = None
        if kind is MailboxKind.USER:
            cos = (attrs.get("zimbraCOSId") or [default_cos])[0]
            # The vocabulary of count_mailboxes: a neutral plan, or "unmapped".
            plan = plans.get(cos) or _UNMAPPED
        quota = (attrs.get("zimbraMailQuota") or [""])[0]
        return Mailbox(
            address=str(entry["name"]),
            kind=kind,
            plan=plan,
            display_name=(attrs.get("displayName") or [""])[0],
            quota_mb=self._quota_mb(quota),
            native_id=str(entry.get("id")) if entry.get("id") else None,
        )

    async def _cos_names(self) -> dict[str, str]:
        answer = await self.api.call("GetAllCosRequest")
        return {str(c["id"]): self._cos_name(c.get("name")) for c in entries(answer, "cos")}

    def _cos_name(self, value: object) -> str:
        """A COS name read back, refused unless it looks like one (before it is compared,
        reported or journalled)."""
        return native_name(
            value if isinstance(value, str) else None, what="COS name", source=self.instance
        )

    def _quota_mb(self, quota: str) -> int | None:
        """``zimbraMailQuota`` (bytes, 0 or empty: unlimited) in MB, refused unless a
        plausible number ("²" passes isdigit(), and int() fails on 5,000 digits)."""
        if not quota:
            return None
        size = self._number(quota, "mail quota")
        return size // _MIB if size > 0 else None

    def _number(self, value: object, what: str) -> int:
        """A count read back, refused unless it is a plausible whole number."""
        return bounded_int(
            value if isinstance(value, int | str) else None, what=what, source=self.instance
        )

    async def _search(self, **params: Any) -> list[dict[str, Any]]:
        return [entry async for entry in self._walk(**params)]

    async def _walk(
        self, *, query: str, _prefix: str | None = "", _part: str = "", **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every entry ``query`` matches, one page at a time (nothing is kept).

        The server runs the whole search under its size limit before it pages, so a
        search that matches more than that answers ``TOO_MANY_SEARCH_RESULTS`` on its first
        page; it is then walked as slices by the first characters of ``uid``, which
        together cover it exactly."""
        sliced = f"(&{query}{_part})" if _part else query
        subject = str(params.get("domain", ""))

        async def page(offset: int, limit: int) -> paging.OffsetPage[dict[str, Any]]:
            answer = await self.api.call(
                "SearchDirectoryRequest",
                {"query": sliced, **params, "limit": limit, "offset": offset},
                subject=subject,
            )
            found = entries(answer, "account") + entries(answer, "calresource")
            return paging.OffsetPage(found, more=bool(answer.get("more")))

        started = False
        try:
            async for items in paging.offset_pages(page, page_size=self.settings.page_size):
                started = True
                for item in items:
                    yield item
        except TooManyResults:
            if started or _prefix is None or len(_prefix) >= _MAX_SPLIT_DEPTH:
                raise
            for prefix, part in _uid_slices(_prefix):
                async for item in self._walk(query=query, _prefix=prefix, _part=part, **params):
                    yield item

    async def _count(
        self,
        query: str,
        *,
        domain: str,
        types: str = "accounts",
        _prefix: str | None = "",
        _part: str = "",
    ) -> int:
        """``SearchDirectoryRequest countOnly=1``; split by ``uid`` like :meth:`_walk` when
        the server's size limit (which applies before counting) refuses the whole."""
        sliced = f"(&{query}{_part})" if _part else query
        try:
            answer = await self.api.call(
                "SearchDirectoryRequest",
                {"query": sliced, "types": types, "domain": domain, "countOnly": 1},
                subject=domain,
            )
        except TooManyResults:
            if _prefix is None or len(_prefix) >= _MAX_SPLIT_DEPTH:
                raise
            total = 0
            for prefix, part in _uid_slices(_prefix):
                total += await self._count(
                    query, domain=domain, types=types, _prefix=prefix, _part=part
                )
            return total
        return self._number(answer.get("num", 0), "account count")

    def _shared_filter(self) -> str:
        value = self.settings.shared_mailbox_value
        for char, escaped in (("\\", "\\5c"), ("*", "\\2a"), ("(", "\\28"), (")", "\\29")):
            value = value.replace(char, escaped)
        return f"({self.settings.shared_mailbox_attribute}={value})"

    # -- the contract ------------------------------------------------------------------------

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        target = await self._plan_cos(plan)
        account = await self._account(mailbox.address)
        if account is None:
            raise errors.NotFoundError(f"{self.instance}: no such mailbox {mailbox.address}")
        attrs = attributes(account)
        current = (attrs.get("zimbraCOSId") or [""])[0] or await self._domain_default_cos(
            mailbox.address.rpartition("@")[2]
        )
        plans = await self._plan_ids()
        before = plans.get(current) or (await self._cos_names()).get(current, current)
        account_id = str(account["id"])

        async def write() -> None:
            await self.api.call(
                "ModifyAccountRequest",
                {"id": account_id, "a": [{"n": "zimbraCOSId", "_content": target}]},
                write=True,
                idempotent=True,
                subject=mailbox.address,
            )

        async def verify() -> Verified:
            # One step: the account's COS. Read it back (the domain default when unset),
            # so a lost answer is reported as what the account now holds.
            now = await self._account(mailbox.address)
            if now is None:
                raise errors.NotFoundError(f"{self.instance}: no such mailbox {mailbox.address}")
            held = (attributes(now).get("zimbraCOSId") or [""])[0]
            held = held or await self._domain_default_cos(mailbox.address.rpartition("@")[2])
            on_target = held == target
            return Verified(
                applied=("cos",) if on_target else (),
                missing=() if on_target else ("cos",),
                state=plans.get(held) or held,
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=before,
                after=plan,
                apply=write,
                same=current == target,
                verify=verify,
            ),
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        domain = tenant.key
        by_cos = await self.api.call(
            "CountAccountRequest", {"domain": {"by": "name", "_content": domain}}, subject=domain
        )
        counts: dict[str, int] = {}
        for cos in entries(by_cos, "cos"):
            # The name is not used, but an answer carrying a hostile one is refused whole.
            self._cos_name(cos.get("name", cos["id"]))
            counts[str(cos["id"])] = self._number(cos.get("_content", 0), "account count")
        # CountAccount counts every account (server-side, with no size limit); take out
        # those that are not user mailboxes: the shared ones, those the licence filter
        # leaves out, and delegated ones (per the instance's setting). They are few, and
        # walked a page at a time, so memory stays flat however large the domain.
        shared_rule = self._shared_filter()
        shared_attr = self.settings.shared_mailbox_attribute
        default_cos: str | None = None
        shared = unclassified = 0
        async for account in self._walk(
            query=(
                # The licence filter's exclusions (presence tests, as Zextras writes them),
                # the shared rule, and accounts holding rights grants.
                f"(|{shared_rule}(zimbraIsSystemAccount=*)(zimbraIsExternalVirtualAccount=*)"
                "(!(zimbraMailDeliveryAddress=*))(zimbraACE=*))"
            ),
            types="accounts",
            domain=domain,
            applyCos=0,
            attrs=",".join(
                (
                    "zimbraCOSId",
                    "zimbraIsSystemResource",
                    "zimbraIsSystemAccount",
                    "zimbraIsExternalVirtualAccount",
                    "zimbraMailDeliveryAddress",
                    "zimbraACE",
                    shared_attr,
                )
            ),
        ):
            attrs = attributes(account)
            if _true(attrs.get("zimbraIsSystemResource")):
                continue  # CountAccount skipped it already
            kind = self._count_kind(attrs)
            if kind == "user":
                continue  # a grant that delegates no mailbox: still a user
            if default_cos is None:
                default_cos = await self._domain_default_cos(domain)
            cos = (attrs.get("zimbraCOSId") or [default_cos])[0]
            counts[cos] = counts.get(cos, 0) - 1
            if kind == "shared":
                shared += 1
            elif kind == "unclassified":
                unclassified += 1
        plans = await self._plan_ids()
        by_plan: dict[str, int] = {}
        for cos, count in counts.items():
            if count > 0:
                key = plans.get(cos, _UNMAPPED)
                by_plan[key] = by_plan.get(key, 0) + count
        users = sum(by_plan.values())
        rooms = await self._count("(zimbraCalResType=Location)", domain=domain, types="resources")
        equipment = await self._count(
            "(zimbraCalResType=Equipment)", domain=domain, types="resources"
        )
        return MailboxCount(
            tenant=tenant.name,
            by_kind={
                MailboxKind.USER: users,
                MailboxKind.SHARED: shared,
                MailboxKind.ROOM: rooms,
                MailboxKind.EQUIPMENT: equipment,
            },
            by_plan=by_plan,
            unclassified=unclassified,
        )

    def _count_kind(self, attrs: dict[str, list[str]]) -> str:
        """``user``, ``shared``, ``unclassified`` or ``none`` (not a licensed mailbox) for an
        account the count's walk found."""
        if not _licensed(attrs):
            return "none"
        if self._is_shared(attrs):
            return "shared"
        if _delegates(attrs.get("zimbraACE", [])):
            return self.settings.delegated_accounts
        return "user"

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        domain_id, attrs = await self._domain(tenant.key)
        if addon.name == "storage_gb":
            if addon.plan is not None:
                raise errors.ValidationError(
                    "storage_gb is a domain total on Zextras; it takes no plan (a plan's "
                    "storage is its COS quota)"
                )
            name = "zimbraDomainAggregateQuota"
            raw = (attrs.get(name) or [""])[0]
            before = int(raw) // _GIB if raw.isdigit() else None
            values = [str(quantity * _GIB)]
        elif addon.plan is None:
            name = "zimbraDomainMaxAccounts"
            raw = (attrs.get(name) or [""])[0]
            before = int(raw) if raw.isdigit() else None
            values = [str(quantity)]
        else:
            name = "zimbraDomainCOSMaxAccounts"
            cos = await self._plan_cos(addon.plan)
            others = [v for v in attrs.get(name, []) if v.partition(":")[0] != cos]
            mine = [v.partition(":")[2] for v in attrs.get(name, []) if v.partition(":")[0] == cos]
            before = int(mine[0]) if mine and mine[0].isdigit() else None
            # The whole list is sent: one value per COS, the others kept as they are.
            values = [*others, f"{cos}:{quantity}"]

        async def write() -> None:
            await self.api.call(
                "ModifyDomainRequest",
                {"id": domain_id, "a": [{"n": name, "_content": v} for v in values]},
                write=True,
                idempotent=True,
                subject=tenant.key,
            )

        async def verify() -> Verified:
            _, now = await self._domain(tenant.key)
            held = sorted(now.get(name, []))
            return _verified(name, ",".join(held), ",".join(sorted(values)))

        return await self.change(
            Change(subject=tenant.name, before=before, after=quantity, apply=write, verify=verify),
        )

    # -- passwords and suspensions ---------------------------------------------------------

    async def _set_password(self, mailbox: MailboxRef, password: str) -> ChangeResult[str]:
        account_id, _ = await self._status_of(mailbox)

        async def write() -> None:
            await self.api.call(
                "SetPasswordRequest",
                {"id": account_id, "newPassword": password},
                write=True,
                idempotent=True,
                subject=mailbox.address,
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before="set",
                after="set",
                same=False,  # a password cannot be read back; setting it again is harmless
                apply=write,
            )
        )

    async def _suspend_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._account_status(mailbox, _LOCKED)

    async def _resume_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._account_status(mailbox, _ACTIVE)

    async def _status_of(self, mailbox: MailboxRef) -> tuple[str, str]:
        """The account's id and ``zimbraAccountStatus`` (``active`` when unset)."""
        try:
            answer = await self.api.call(
                "GetAccountRequest",
                {
                    "account": {"by": "name", "_content": mailbox.address},
                    "attrs": "zimbraAccountStatus",
                },
                subject=mailbox.address,
            )
        except errors.NotFoundError:
            answer = None
        found = entries(answer, "account") if answer is not None else []
        if not found:
            raise errors.NotFoundError(f"{self.instance}: no such mailbox {mailbox.address}")
        status = (attributes(found[0]).get("zimbraAccountStatus") or [_ACTIVE])[0] or _ACTIVE
        return str(found[0]["id"]), status

    async def _account_status(self, mailbox: MailboxRef, wanted: str) -> ChangeResult[str]:
        """``zimbraAccountStatus``: ``locked`` refuses every login and keeps delivering
        mail (a suspension for non-payment); ``active`` gives the access back."""
        account_id, held = await self._status_of(mailbox)

        async def write() -> None:
            await self.api.call(
                "ModifyAccountRequest",
                {"id": account_id, "a": [{"n": "zimbraAccountStatus", "_content": wanted}]},
                write=True,
                idempotent=True,
                subject=mailbox.address,
            )

        async def verify() -> Verified:
            return _verified("zimbraAccountStatus", (await self._status_of(mailbox))[1], wanted)

        return await self.change(
            Change(
                subject=mailbox.address,
                before=_neutral_status(held),
                after=_neutral_status(wanted),
                apply=write,
                verify=verify,
            )
        )

    async def _suspend_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._domain_status(tenant, _SUSPENDED)

    async def _resume_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._domain_status(tenant, _ACTIVE)

    async def _create_tenant(
        self, tenant: TenantRef, plan: str | None, max_mailboxes: int | None
    ) -> ChangeResult[str]:
        """``CreateDomainRequest``: the plan's class of service as the domain's default
        (``zimbraDomainDefaultCOSId``) and ``max_mailboxes`` as ``zimbraDomainMaxAccounts``."""
        attrs = []
        if plan is not None:
            attrs.append({"n": "zimbraDomainDefaultCOSId", "_content": await self._plan_cos(plan)})
        if max_mailboxes is not None:
            attrs.append({"n": "zimbraDomainMaxAccounts", "_content": str(max_mailboxes)})
        name = tenant.key.lower()

        async def write() -> None:
            await self.api.call(
                "CreateDomainRequest", {"name": name, "a": attrs}, write=True, subject=name
            )

        async def verify() -> Verified:
            held = await self._has_domain(name)
            state = {"domain": held}
            return Verified(("domain",), (), state) if held else Verified((), ("domain",), state)

        held = "present" if await self._has_domain(name) else "absent"
        return await self.change(
            Change(subject=tenant.name, before=held, after="present", apply=write, verify=verify)
        )

    async def _delete_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        """``DeleteDomainRequest`` by the domain's id; the server refuses a domain that
        still has accounts (``account.DOMAIN_NOT_EMPTY``)."""
        name = tenant.key.lower()
        domain_id = await self._domain_id(name)

        async def write() -> None:
            assert domain_id is not None
            await self.api.call(
                "DeleteDomainRequest", {"id": domain_id}, write=True, idempotent=True, subject=name
            )

        async def verify() -> Verified:
            held = await self._has_domain(name)
            state = {"domain": held}
            return Verified((), ("domain",), state) if held else Verified(("domain",), (), state)

        held = "absent" if domain_id is None else "present"
        return await self.change(
            Change(subject=tenant.name, before=held, after="absent", apply=write, verify=verify)
        )

    async def _domain_id(self, name: str) -> str | None:
        try:
            domain_id, _ = await self._domain(name)
        except errors.NotFoundError:
            return None
        return domain_id

    async def _has_domain(self, name: str) -> bool:
        return await self._domain_id(name) is not None

    async def _domain_status(self, tenant: TenantRef, wanted: str) -> ChangeResult[str]:
        """``zimbraDomainStatus``: ``suspended`` refuses the logins of every account of the
        domain, deleting nothing; ``active`` gives the access back."""
        domain_id, attrs = await self._domain(tenant.key)
        held = (attrs.get("zimbraDomainStatus") or [_ACTIVE])[0] or _ACTIVE

        async def write() -> None:
            await self.api.call(
                "ModifyDomainRequest",
                {"id": domain_id, "a": [{"n": "zimbraDomainStatus", "_content": wanted}]},
                write=True,
                idempotent=True,
                subject=tenant.key,
            )

        async def verify() -> Verified:
            _, now = await self._domain(tenant.key)
            status = (now.get("zimbraDomainStatus") or [_ACTIVE])[0] or _ACTIVE
            return _verified("zimbraDomainStatus", status, wanted)

        return await self.change(
            Change(
                subject=tenant.name,
                before=_neutral_status(held),
                after=_neutral_status(wanted),
                apply=write,
                verify=verify,
            )
        )

    # -- mailbox settings and single sign-on ------------------------------------------------

    async def _settings_of(self, mailbox: MailboxRef) -> tuple[str, dict[str, list[str]]]:
        """The account's id and its settings attributes (the quota as the COS makes it)."""
        try:
            answer = await self.api.call(
                "GetAccountRequest",
                {
                    "account": {"by": "name", "_content": mailbox.address},
                    "applyCos": 1,
                    "attrs": ",".join(_SETTINGS_ATTRS),
                },
                subject=mailbox.address,
            )
        except errors.NotFoundError:
            answer = None
        found = entries(answer, "account") if answer is not None else []
        if not found:
            raise errors.NotFoundError(f"{self.instance}: no such mailbox {mailbox.address}")
        return str(found[0]["id"]), attributes(found[0])

    async def _read_settings(self, mailbox: MailboxRef) -> MailboxSettings:
        _, attrs = await self._settings_of(mailbox)
        quota = (attrs.get("zimbraMailQuota") or [""])[0]
        return MailboxSettings(
            display_name=(attrs.get("displayName") or [""])[0],
            forwarding=(attrs.get("zimbraPrefMailForwardingAddress") or [""])[0].lower(),
            quota_mb=self._quota_mb(quota),
            aliases=tuple(attrs.get("zimbraMailAlias") or ()),
        )

    async def _write_settings(
        self, mailbox: MailboxRef, held: MailboxSettings, wanted: MailboxSettings
    ) -> None:
        account_id, _ = await self._settings_of(mailbox)
        # Aliases are directory entries of their own: AddAccountAlias/RemoveAccountAlias
        # create and remove them (a bare zimbraMailAlias change would leave none).
        for alias in sorted(set(wanted.aliases) - set(held.aliases)):
            await self._alias("AddAccountAliasRequest", account_id, alias, mailbox)
        for alias in sorted(set(held.aliases) - set(wanted.aliases)):
            await self._alias("RemoveAccountAliasRequest", account_id, alias, mailbox)
        changes: list[dict[str, str]] = []
        if wanted.display_name != held.display_name:
            changes.append({"n": "displayName", "_content": wanted.display_name})
        if wanted.forwarding != held.forwarding:
            # An empty value removes the attribute; local delivery stays on (a copy is kept).
            changes.append({"n": "zimbraPrefMailForwardingAddress", "_content": wanted.forwarding})
        if wanted.quota_mb != held.quota_mb and wanted.quota_mb is not None:
            changes.append({"n": "zimbraMailQuota", "_content": str(wanted.quota_mb * _MB)})
        if changes:
            await self.api.call(
                "ModifyAccountRequest",
                {"id": account_id, "a": changes},
                write=True,
                idempotent=True,
                subject=mailbox.address,
            )

    async def _alias(self, request: str, account_id: str, alias: str, mailbox: MailboxRef) -> None:
        await self.api.call(
            request,
            {"id": account_id, "alias": alias},
            write=True,
            idempotent=False,  # a repeat is refused (exists, no such alias): read back instead
            subject=mailbox.address,
        )

    async def _list_tenants(self) -> list[TenantRef]:
        answer = await self.api.call(
            "SearchDirectoryRequest", {"types": "domains", "query": "", "limit": 0}
        )
        return [TenantRef(name=str(d["name"])) for d in entries(answer, "domain") if d.get("name")]

    async def _single_sign_on(self, mailbox: MailboxRef) -> SignOn:
        """Zimbra's preauth: an HMAC-SHA1, under the domain's ``zimbraPreAuthKey``, of
        ``account|by|expires|timestamp``, checked by ``/service/preauth`` of the webmail."""
        await self._settings_of(mailbox)  # the account exists
        domain = mailbox.address.rpartition("@")[2]
        _, attrs = await self._domain(domain)
        key = (attrs.get("zimbraPreAuthKey") or [""])[0]
        if not key:
            raise errors.ValidationError(
                f"The domain {domain} has no preauth key on {self.instance}: generate one "
                "(zmprov generateDomainPreAuthKey) to hand out sign-on links"
            )
        self.http.add_secret(key)
        timestamp = str(int(time.time() * 1000))
        message = f"{mailbox.address}|name|0|{timestamp}"
        digest = hmac.new(key.encode(), message.encode(), hashlib.sha1).hexdigest()
        query = urlencode(
            {
                "account": mailbox.address,
                "by": "name",
                "timestamp": timestamp,
                "expires": "0",
                "preauth": digest,
            }
        )
        base = (self.settings.web_url or _web_base(str(self.settings.endpoint))).rstrip("/")
        # Zimbra refuses a preauth whose timestamp is more than 5 minutes off.
        expires = datetime.fromtimestamp(int(timestamp) / 1000, UTC) + timedelta(minutes=5)
        return SignOn(url=f"{base}/service/preauth?{query}", expires=expires)

    async def _get_licence(self) -> Licence:
        body: dict[str, Any] = {"module": "ZxCore", "action": "getLicenseInfo"}
        server = self.settings.licence_server
        if server:
            body["targetServers"] = server
        answer = await self.api.call("zextras", body, subject="the licence")
        return licence_of(decode_content(answer, server=server, provider=self.instance))

    async def _test_connection(self) -> ConnectionStatus:
        try:
            answer = await self.api.call("GetVersionInfoRequest")
        except (errors.AuthenticationError, errors.Unavailable) as exc:
            return ConnectionStatus(ok=False, platform=self.platform, detail=str(exc))
        info = answer.get("info")
        if isinstance(info, list):
            info = info[0] if info else {}
        version = (
            str(info.get("version")) if isinstance(info, dict) and info.get("version") else None
        )
        return ConnectionStatus(
            ok=True, platform=self.platform, version=version, detail="signed in as an admin"
        )

    async def _list_plans(self) -> list[NativePlan]:
        answer = await self.api.call("GetAllCosRequest")
        by_cos = {m.cos: (name, m) for name, m in self.settings.plans.items()}
        plans = []
        for cos in entries(answer, "cos"):
            attrs = attributes(cos)
            name = self._cos_name(cos.get("name"))
            neutral, mapping = by_cos.get(name, (None, None))
            quota = (attrs.get("zimbraMailQuota") or [""])[0]
            features = sorted(
                key[len("zimbraFeature") : -len("Enabled")]
                for key, values in attrs.items()
                if key.startswith("zimbraFeature") and key.endswith("Enabled") and _true(values)
            )
            description = (attrs.get("description") or [""])[0]
            plans.append(
                NativePlan(
                    native_name=name,
                    description=description or (mapping.description if mapping else ""),
                    quota_mb=self._quota_mb(quota),
                    features=tuple(features),
                    neutral_name=neutral,
                )
            )
        return plans

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        domain = tenant.key
        found = await self._search(
            query=(
                "(&(!(zimbraIsSystemAccount=*))(!(zimbraIsSystemResource=TRUE))"
                "(!(zimbraIsExternalVirtualAccount=*))(zimbraMailDeliveryAddress=*))"
            ),
            types="accounts,resources",
            domain=domain,
            applyCos=1,
            attrs=",".join((*_LIST_ATTRS, self.settings.shared_mailbox_attribute)),
        )
        default_cos = await self._domain_default_cos(domain)
        plans, names = await self._plan_ids(), await self._cos_names()
        # As the count: a mailbox it reports unclassified has no kind to be listed under.
        return [
            self._mailbox(entry, default_cos, plans, names)
            for entry in found
            if "zimbraCalResType" in attributes(entry)
            or self._count_kind(attributes(entry)) != "unclassified"
        ]

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        if await self._account(mailbox.address) is not None:
            raise errors.ConflictError(
                f"{self.instance}: the address {mailbox.address} already exists"
            )
        display = mailbox.display_name or mailbox.address.partition("@")[0]
        attrs = [{"n": "displayName", "_content": display}]
        request = "CreateAccountRequest"
        plan = None
        if mailbox.kind is MailboxKind.USER:
            plan = mailbox.plan
            if plan is not None:
                attrs.append({"n": "zimbraCOSId", "_content": await self._plan_cos(plan)})
            else:
                cos = await self._domain_default_cos(tenant.key)
                plan = (await self._plan_ids()).get(cos, _UNMAPPED)
        elif mailbox.kind is MailboxKind.SHARED:
            attrs.append(
                {
                    "n": self.settings.shared_mailbox_attribute,
                    "_content": self.settings.shared_mailbox_value,
                }
            )
        else:
            request = "CreateCalendarResourceRequest"
            kind = "Location" if mailbox.kind is MailboxKind.ROOM else "Equipment"
            attrs.append({"n": "zimbraCalResType", "_content": kind})
        body: dict[str, Any] = {"name": mailbox.address, "a": attrs}
        if mailbox.password is not None:
            body["password"] = mailbox.password.get_secret_value()
        after = Mailbox(address=mailbox.address, kind=mailbox.kind, plan=plan, display_name=display)

        async def write() -> Applied[Mailbox]:
            answer = await self.api.call(request, body, write=True, subject=mailbox.address)
            made = (entries(answer, "account") or entries(answer, "calresource") or [{}])[0]
            return Applied(after=after.model_copy(update={"native_id": made.get("id")}))

        return await self.change(
            Change(
                subject=mailbox.address,
                before=None,
                after=after,
                apply=write,
                verify=self._presence(mailbox.address, wanted=True),
            ),
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        entry = await self._account(mailbox.address)
        before = None
        request = "DeleteAccountRequest"
        if entry is not None:
            domain = mailbox.address.rpartition("@")[2]
            default_cos = await self._domain_default_cos(domain)
            before = self._mailbox(entry, default_cos, await self._plan_ids(), {})
            if before.kind in (MailboxKind.ROOM, MailboxKind.EQUIPMENT):
                request = "DeleteCalendarResourceRequest"
        account_id = str(entry["id"]) if entry is not None else ""

        async def write() -> None:
            await self.api.call(
                request, {"id": account_id}, write=True, idempotent=True, subject=mailbox.address
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=before,
                after=None,
                apply=write,
                verify=self._presence(mailbox.address, wanted=False),
            ),
        )

    def _presence(self, address: str, *, wanted: bool) -> Callable[[], Awaitable[Verified]]:
        """The read-back of a creation (``wanted``) or a deletion: is the account there."""

        async def verify() -> Verified:
            held = await self._account(address) is not None
            return _verified("account", str(held), str(wanted))

        return verify
