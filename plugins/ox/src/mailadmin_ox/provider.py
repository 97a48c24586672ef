"""The OX App Suite provider: mailadmin's contract over OX's provisioning SOAP services.

A plan is an access combination (``changeByModuleAccessName``) plus, where the plan says
so, the user's ``maxQuota`` and user attributes (class of service) set with ``change``.
Mailboxes are counted from ``listAll`` and each user's access combination; functional
accounts (shared mailboxes) from OXSecondaryAccountService; rooms and equipment from
OXResourceService. Seats and storage add-ons are reseller restrictions and the context's
``maxQuota``. Which services and credentials are used depends on the configured mode
(:data:`mailadmin_ox.settings.Mode`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar, TypeVar

from mailadmin.sdk import (
    AddonRef,
    Applied,
    Capabilities,
    Change,
    ChangeResult,
    ConnectionStatus,
    Credentials,
    Licence,
    LicenceFeature,
    LicenceKind,
    LicenceModel,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    NativePlan,
    NewMailbox,
    Node,
    Operation,
    Provider,
    ProviderSettings,
    TenantRef,
    Verified,
    child,
    child_text,
    children,
    errors,
    is_nil,
    node,
)
from mailadmin_ox.client import (
    CONTEXT,
    RESELLER,
    RESELLER_CONTEXT,
    RESELLER_USER,
    RESOURCE,
    SECONDARY_ACCOUNT,
    USER,
    OXSoap,
    Service,
    read_attributes,
    read_combination,
)
from mailadmin_ox.namespaces import RD, RR
from mailadmin_ox.settings import OXPlanMapping, OXSettings

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["OXProvider"]

log = logging.getLogger("mailadmin.ox")
K = TypeVar("K")
T = TypeVar("T")

_BATCH = 100  # users per getMultipleData call
# Users whose combination and data are held at once when plans share a combination.
_SLICE = 2_000
_MAX_USER = "Context.MaxUser"
_MAX_USER_BY = "Context.MaxUserByModuleaccess_"
_OVERALL = "Subadmin.MaxOverallUser"
_OVERALL_BY = "Subadmin.MaxOverallUserByModuleaccess_"
_MAX_CONTEXT = "Subadmin.MaxContext"
_UNMAPPED = "unmapped"


class OXProvider(Provider[OXSettings]):
    """OX App Suite through its provisioning SOAP API (``/webservices/``)."""

    name: ClassVar[str] = "ox"
    platform: ClassVar[str] = "OX App Suite"
    settings_model: ClassVar[type[ProviderSettings]] = OXSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
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
                Operation.SET_QUOTA,
                Operation.ADD_ALIAS,
                Operation.REMOVE_ALIAS,
                Operation.LIST_ALIASES,
                Operation.LIST_TENANTS,
            }
        ),
        mailbox_kinds=frozenset(MailboxKind),
        addons=frozenset({"mailboxes", "storage_gb"}),
        unsupported={
            "set_forwarding": "OX keeps forwarding as a mail filter rule the user owns, not "
            "a provisioning setting of OXUserService",
            "single_sign_on": "OX's provisioning SOAP hands out no sign-in token; single "
            "sign-on is set up on OX itself (OpenID Connect or SAML)",
            "addon:shared_mailbox": "OX sets no limit on functional accounts; "
            "mailadmin keeps that allocation itself",
            "addon:resource_mailbox": "OX sets no limit on resources; "
            "mailadmin keeps that allocation itself",
        },
        # The reseller restrictions bound the users a context may have (seats).
        licence=LicenceModel(kind=LicenceKind.PER_SEAT),
    )

    @classmethod
    def capabilities_for(cls, settings: OXSettings) -> Capabilities:
        """A context admin may not change its context's limits: no add-ons in that mode."""
        if settings.mode != "context_admin":
            return cls.capabilities
        return cls.capabilities.narrowed(
            [f"addon:{name}" for name in sorted(cls.capabilities.addons)],
            "a context admin cannot change context limits; "
            "configure mode 'master_admin' or 'reseller'",
        ).narrowed(
            [Operation.SUSPEND_TENANT, Operation.RESUME_TENANT],
            "a context admin cannot disable its own context; "
            "configure mode 'master_admin' or 'reseller'",
        )

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def soap(self) -> OXSoap:
        """The SOAP client over the shared transport."""
        return OXSoap(self.http, name=self.instance)

    @property
    def _users(self) -> Service:
        return RESELLER_USER if self.settings.mode == "reseller" else USER

    def _credentials(self, tenant: TenantRef | None = None) -> Credentials:
        if tenant is not None:
            for key in (tenant.native_id, tenant.name):
                if key is not None and key in self.settings.context_credentials:
                    return self.settings.context_credentials[key]
        return self.settings.credentials

    def _ctx(
        self,
        service: Service,
        tenant: TenantRef,
        element: str = "ctx",
        *,
        max_quota: int | None = None,
        restrictions: Sequence[Node] = (),
    ) -> Node:
        """The context reference: by id when the tenant carries one, else by name; with
        ``max_quota`` and (ResellerContext only) ``restrictions``, in the schema's order
        (Context: ``id``, ``maxQuota``, ``name``; then ResellerContext's own fields)."""
        if tenant.native_id is not None and not tenant.native_id.isdigit():
            raise errors.ValidationError(
                f"The OX context id of tenant '{tenant.name}' must be a number"
            )
        by_id = tenant.native_id is not None
        return service.field(
            element,
            None,
            service.data("id", int(tenant.native_id)) if tenant.native_id is not None else None,
            service.data("maxQuota", max_quota) if max_quota is not None else None,
            None if by_id else service.data("name", tenant.name),
            *restrictions,
        )

    def _login(self, mailbox: MailboxRef | NewMailbox) -> str:
        return (
            mailbox.address if self.settings.login == "address" else mailbox.address.split("@")[0]
        )

    def _user(self, service: Service, mailbox: MailboxRef, element: str = "user") -> Node:
        return service.field(element, None, service.data("name", self._login(mailbox)))

    async def _soap(
        self,
        service: Service,
        operation: str,
        tenant: TenantRef | None,
        *params: Node | None,
        write: bool = False,
        idempotent: bool | None = None,
        credentials: Credentials | None = None,
    ) -> list[Element]:
        creds = credentials or self._service_credentials(service, tenant)
        return await self.soap.call(
            service,
            operation,
            _with_auth(params, service.auth(creds)),
            write=write,
            idempotent=idempotent,
        )

    async def _stream(
        self,
        service: Service,
        operation: str,
        tenant: TenantRef | None,
        handle: Callable[[Element], object],
        *params: Node | None,
    ) -> None:
        """A read whose ``return`` elements go to ``handle`` as they arrive (a list of
        any length, held one element at a time)."""
        creds = self._service_credentials(service, tenant)
        await self.soap.stream(
            service, operation, _with_auth(params, service.auth(creds)), handle=handle
        )

    def _service_credentials(self, service: Service, tenant: TenantRef | None) -> Credentials:
        # Per-context logins apply to the context-level services only.
        per_context = service in (USER, RESOURCE, SECONDARY_ACCOUNT)
        return self._credentials(tenant) if per_context else self.settings.credentials

    async def _gather(self, calls: Iterable[Awaitable[T]]) -> list[T]:
        """Run calls with at most ``concurrency`` in flight, results in order."""
        results: dict[int, T] = {}
        await self._each(enumerate(calls), results.__setitem__)
        return [results[i] for i in range(len(results))]

    async def _each(
        self, calls: Iterable[tuple[K, Awaitable[T]]], handle: Callable[[K, T], object]
    ) -> None:
        """Run ``(key, call)`` pairs with at most ``concurrency`` in flight, passing each
        key and result to ``handle`` as the call ends (nothing else is kept)."""
        # Workers pulling from the (lazy) calls: no task per user up front, so counting
        # 100,000 users holds ``concurrency`` coroutines, not 100,000.
        source = iter(calls)
        stop = False

        async def worker() -> None:
            nonlocal stop
            for key, call in source:
                if stop:  # another call failed: start nothing more
                    getattr(call, "close", lambda: None)()
                    return
                try:
                    result = await call
                except BaseException:
                    stop = True
                    raise
                handle(key, result)

        await asyncio.gather(*(worker() for _ in range(self.settings.concurrency)))

    def _sender(
        self,
        service: Service,
        operation: str,
        tenant: TenantRef | None,
        *params: Node | None,
        idempotent: bool | None = None,
    ) -> Callable[[], Awaitable[None]]:
        """One write operation, as the ``apply`` of a :class:`Change`."""

        async def send() -> None:
            await self._soap(service, operation, tenant, *params, write=True, idempotent=idempotent)

        return send

    # -- plans -------------------------------------------------------------------------------

    def _neutral(
        self,
        combination: str | None,
        quota: int | None,
        attributes: dict[str, dict[str, str]] | None,
    ) -> str | None:
        """The neutral plan a user is on; quota and attributes decide between plans that
        share one access combination."""
        if combination is None:
            return None
        candidates = [
            (name, plan)
            for name, plan in self.settings.plans.items()
            if plan.access_combination == combination
        ]
        if not candidates:
            return None
        if len(candidates) > 1 and quota is not None:
            for name, plan in candidates:
                if plan.quota_mb == quota and _holds(attributes or {}, plan.attributes()):
                    return name
        return candidates[0][0]

    def _ambiguous(self) -> bool:
        combinations = [p.access_combination for p in self._plans().values()]
        return len(combinations) != len(set(combinations))

    def _plans(self) -> dict[str, OXPlanMapping]:
        return self.settings.plans

    def _mapping(self, plan: str) -> OXPlanMapping:
        self.plan(plan)  # the user-facing error for an unknown name
        return self.settings.plans[plan]

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        mapping = self._mapping(plan)
        users, tenant = self._users, mailbox.tenant
        ctx, user = self._ctx(users, tenant), self._user(users, mailbox)
        returned = await self._soap(users, "getAccessCombinationName", tenant, ctx, user)
        current = read_combination(returned[0], source=self.instance) if returned else None
        wanted_attributes = mapping.attributes()
        quota: int | None = None
        attributes: dict[str, dict[str, str]] = {}
        if mapping.quota_mb is not None or wanted_attributes:
            data = await self._soap(users, "getData", tenant, ctx, user)
            if data:
                quota = _int(child_text(data[0], "maxQuota"))
                attributes = read_attributes(child(data[0], "userAttributes"))
        needs_access = current != mapping.access_combination
        needs_quota = mapping.quota_mb is not None and quota != mapping.quota_mb
        needs_attributes = not _holds(attributes, wanted_attributes)

        async def write() -> None:
            if needs_access:
                await self._soap(
                    users,
                    "changeByModuleAccessName",
                    tenant,
                    ctx,
                    user,
                    users.field("access_combination_name", mapping.access_combination),
                    write=True,
                    idempotent=True,
                )
            if needs_quota or needs_attributes:
                usrdata = users.field(
                    "usrdata",
                    None,
                    users.data("maxQuota", mapping.quota_mb) if needs_quota else None,
                    users.data("name", self._login(mailbox)),
                    _attributes_node(users, wanted_attributes) if needs_attributes else None,
                )
                await self._soap(users, "change", tenant, ctx, usrdata, write=True, idempotent=True)

        async def verify() -> Verified:
            # Two steps: the access combination, then the quota and attributes. Read both
            # back so a failure between them is reported as what it is.
            now = await self._soap(users, "getAccessCombinationName", tenant, ctx, user)
            combination = _text(now[0]) if now else None
            parts = {"access_combination": combination == mapping.access_combination}
            state: dict[str, object] = {"access_combination": combination}
            if needs_quota or needs_attributes:
                data = await self._soap(users, "getData", tenant, ctx, user)
                held_quota = _int(child_text(data[0], "maxQuota")) if data else None
                held_attributes = read_attributes(child(data[0], "userAttributes")) if data else {}
                state["quota_mb"] = held_quota
                parts["quota"] = (not needs_quota or held_quota == mapping.quota_mb) and (
                    not needs_attributes or _holds(held_attributes, wanted_attributes)
                )
            wanted = [name for name in parts if name != "access_combination" or needs_access]
            return Verified(
                applied=tuple(name for name in wanted if parts[name]),
                missing=tuple(name for name in wanted if not parts[name]),
                state=state,
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self._neutral(current, quota, attributes) or current,
                after=plan,
                apply=write,
                verify=verify,
                # the plan's quota or attributes may have drifted under its combination
                same=not (needs_access or needs_quota or needs_attributes),
            )
        )

    async def _list_plans(self) -> list[NativePlan]:
        # OX has no call listing the combinations; the table is configuration.
        neutral: dict[str, tuple[str, OXPlanMapping]] = {}
        for name, plan in self._plans().items():
            neutral.setdefault(plan.access_combination, (name, plan))
        table = dict(self.settings.access_combinations)
        for combination in neutral:
            table.setdefault(combination, ())
        result = []
        for combination, tokens in table.items():
            mapped = neutral.get(combination)
            result.append(
                NativePlan(
                    native_name=combination,
                    description=mapped[1].description if mapped else "",
                    quota_mb=mapped[1].quota_mb if mapped else None,
                    features=tuple(tokens),
                    neutral_name=mapped[0] if mapped else None,
                )
            )
        return result

    # -- counting ----------------------------------------------------------------------------

    async def _user_ids(self, tenant: TenantRef, *, with_admin: bool) -> array[int]:
        """The ids of the tenant's users, read from ``listAll`` as it arrives (8 bytes per
        user: the answer and its elements are never held whole)."""
        users = self._users
        ids: array[int] = array("q")

        def keep(element: Element) -> None:
            user_id = _int(child_text(element, "id"))
            if user_id is None:
                return
            try:
                ids.append(user_id)
            except OverflowError:
                raise errors.ProtocolError(
                    f"{self.instance} listed a user id out of range",
                    debug={"operation": f"{users.name}.listAll", "id": str(user_id)[:40]},
                ) from None

        await self._stream(
            users,
            "listAll",
            tenant,
            keep,
            self._ctx(users, tenant),
            _AUTH,
            users.field("include_guests", False),
            users.field("exclude_users", False),
        )
        if not with_admin:
            admin = await self._soap(users, "getContextAdmin", tenant, self._ctx(users, tenant))
            admin_id = _int(child_text(admin[0], "id")) if admin else None
            while admin_id is not None and admin_id in ids:
                ids.remove(admin_id)
        return ids

    def _combination_call(self, tenant: TenantRef, user_id: int) -> Awaitable[str | None]:
        users = self._users

        async def one() -> str | None:
            returned = await self._soap(
                users,
                "getAccessCombinationName",
                tenant,
                self._ctx(users, tenant),
                users.field("user", None, users.data("id", user_id)),
            )
            return _text(returned[0]) if returned else None

        return one()

    async def _combinations(self, tenant: TenantRef, ids: Sequence[int]) -> list[str | None]:
        return await self._gather(self._combination_call(tenant, i) for i in ids)

    async def _combination_counts(
        self, tenant: TenantRef, ids: Sequence[int]
    ) -> Counter[str | None]:
        """How many of ``ids`` have each access combination (no per-user list is kept)."""
        counts: Counter[str | None] = Counter()

        def add(_: None, combination: str | None) -> None:
            counts[combination] += 1

        await self._each(((None, self._combination_call(tenant, i)) for i in ids), add)
        return counts

    async def _user_data(self, tenant: TenantRef, ids: Sequence[int]) -> list[Element]:
        users = self._users
        batches = [ids[i : i + _BATCH] for i in range(0, len(ids), _BATCH)]

        async def batch(chunk: Sequence[int]) -> list[Element]:
            refs = [users.field("users", None, users.data("id", i)) for i in chunk]
            return await self._soap(
                users, "getMultipleData", tenant, self._ctx(users, tenant), *refs
            )

        found = await self._gather(batch(chunk) for chunk in batches)
        return [element for chunk in found for element in chunk]

    async def _plan_counts(self, tenant: TenantRef, ids: Sequence[int]) -> dict[str, int]:
        counts = dict.fromkeys(self._plans(), 0)
        if not self._ambiguous():
            # One plan per combination: counting the combinations is enough.
            for combination, n in (await self._combination_counts(tenant, ids)).items():
                plan = self._neutral(combination, None, None) or _UNMAPPED
                counts[plan] = counts.get(plan, 0) + n
            return counts
        # Two plans share a combination: the quota and attributes tell them apart. Read a
        # slice of users at a time, so one slice's data is held, not every user's.
        for start in range(0, len(ids), _SLICE):
            chunk = ids[start : start + _SLICE]
            combinations = await self._combinations(tenant, chunk)
            details: dict[int, tuple[int | None, dict[str, dict[str, str]]]] = {}
            for element in await self._user_data(tenant, chunk):
                user_id = _int(child_text(element, "id"))
                if user_id is not None:
                    details[user_id] = (
                        _int(child_text(element, "maxQuota")),
                        read_attributes(child(element, "userAttributes")),
                    )
            for user_id, combination in zip(chunk, combinations, strict=True):
                quota, attributes = details.get(user_id, (None, {}))
                plan = self._neutral(combination, quota, attributes) or _UNMAPPED
                counts[plan] = counts.get(plan, 0) + 1
        return counts

    async def _accounts(self, tenant: TenantRef) -> list[Element]:
        return await self._soap(
            SECONDARY_ACCOUNT, "list", tenant, self._ctx(SECONDARY_ACCOUNT, tenant, "context")
        )

    async def _resources(self, tenant: TenantRef) -> list[Element]:
        listed = await self._soap(RESOURCE, "listAll", tenant, self._ctx(RESOURCE, tenant))
        if all(child(e, "email") is not None for e in listed):
            return listed
        # Only ids came back: fetch the details in one call.
        refs = [
            RESOURCE.field("resources", None, RESOURCE.data("id", child_text(e, "id")))
            for e in listed
        ]
        return await self._soap(
            RESOURCE, "getMultipleData", tenant, self._ctx(RESOURCE, tenant), *refs
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        ids = await self._user_ids(tenant, with_admin=self.settings.count_context_admin)
        by_plan, accounts, resources = await asyncio.gather(
            self._plan_counts(tenant, ids), self._accounts(tenant), self._resources(tenant)
        )
        kinds = [self._resource_kind(r) for r in resources]
        return MailboxCount(
            tenant=tenant.name,
            by_kind={
                MailboxKind.USER: len(ids),
                MailboxKind.SHARED: len(accounts),
                MailboxKind.ROOM: kinds.count(MailboxKind.ROOM),
                MailboxKind.EQUIPMENT: kinds.count(MailboxKind.EQUIPMENT),
            },
            by_plan={name: count for name, count in by_plan.items() if count or name != _UNMAPPED},
            unclassified=kinds.count(None),
        )

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        ids = await self._user_ids(tenant, with_admin=self.settings.count_context_admin)
        data, combinations, accounts, resources = await asyncio.gather(
            self._user_data(tenant, ids),
            self._combinations(tenant, ids),
            self._accounts(tenant),
            self._resources(tenant),
        )
        combination_of = dict(zip(ids, combinations, strict=True))
        found: list[Mailbox] = []
        for element in data:
            user_id = _int(child_text(element, "id"))
            quota = _int(child_text(element, "maxQuota"))
            attributes = read_attributes(child(element, "userAttributes"))
            combination = combination_of.get(user_id or -1)
            _append(
                found,
                child_text(element, "primaryEmail"),
                MailboxKind.USER,
                # The vocabulary of count_mailboxes: a neutral plan, or "unmapped".
                plan=self._neutral(combination, quota, attributes) or _UNMAPPED,
                display_name=child_text(element, "display_name") or "",
                quota_mb=quota if quota is not None and quota >= 0 else None,
                native_id=str(user_id),
            )
        for element in accounts:
            _append(
                found,
                child_text(element, "primaryAddress"),
                MailboxKind.SHARED,
                display_name=child_text(element, "name") or "",
                native_id=child_text(element, "login"),
            )
        for element in resources:
            kind = self._resource_kind(element)
            if kind is None:
                # Counted as unclassified; a listed mailbox needs a kind, and none is guessed.
                log.debug(
                    "not listing resource %r: its kind cannot be told", child_text(element, "id")
                )
                continue
            _append(
                found,
                child_text(element, "email"),
                kind,
                display_name=child_text(element, "displayname") or "",
                native_id=child_text(element, "id"),
            )
        return found

    def _resource_kind(self, element: Element) -> MailboxKind | None:
        """Room or equipment by the instance's convention (OX resources carry no kind);
        ``None`` when the resource matches none."""
        fields = {
            name: child_text(element, name)
            for name in ("description", "displayname", "name", "email")
        }
        return self.settings.resource_kinds.kind_of(fields)

    # -- add-ons -------------------------------------------------------------------------------

    @property
    def _contexts(self) -> Service:
        return RESELLER_CONTEXT if self.settings.mode == "reseller" else CONTEXT

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        if addon.name == "storage_gb":
            change = await self._storage(tenant, quantity)
        elif addon.name == "mailboxes":
            name = _MAX_USER
            if addon.plan is not None:
                name = _MAX_USER_BY + self._mapping(addon.plan).access_combination
            change = await self._restriction(tenant, name, quantity)
        else:  # the base class checked the capability; this is a guard for subclasses
            raise errors.UnsupportedOperation(f"addon:{addon.name}", self.instance)
        return await self.change(change)

    async def _storage(self, tenant: TenantRef, quantity: int) -> Change[int]:
        service = self._contexts
        data = await self._soap(service, "getData", None, self._ctx(service, tenant))
        current = _int(child_text(data[0], "maxQuota")) if data else None
        base = self.settings.storage_base_mb
        target = base + 1024 * quantity
        ctx = self._ctx(service, tenant, max_quota=target)

        async def verify() -> Verified:
            now = await self._soap(service, "getData", None, self._ctx(service, tenant))
            held = _int(child_text(now[0], "maxQuota")) if now else None
            return _verified("maxQuota", held == target, True)

        return Change(
            subject=tenant.name,
            verify=verify,
            before=None if current is None or current < 0 else max(0, (current - base) // 1024),
            after=quantity,
            apply=self._sender(service, "change", None, ctx, idempotent=True),
            same=current == target,  # a quota off the GB grid reads as the quantity below it
        )

    async def _restrictions(self, tenant: TenantRef) -> dict[str, str]:
        data = await self._soap(
            RESELLER_CONTEXT, "getData", None, self._ctx(RESELLER_CONTEXT, tenant)
        )
        found: dict[str, str] = {}
        for item in (e for e in (data[0] if data else ()) if e.tag.endswith("}restriction")):
            name = child_text(item, "name")
            if name:
                found[name] = child_text(item, "value") or ""
        return found

    async def _restriction(self, tenant: TenantRef, name: str, quantity: int) -> Change[int]:
        restrictions = await self._restrictions(tenant)
        before = _int(restrictions.get(name))
        restrictions[name] = str(quantity)
        # Sent whole: OX replaces a context's restriction list on change. ``restriction`` is
        # ResellerContext's own field (RD); its children are Restriction's (RR).
        items = tuple(
            node(RD, "restriction", None, node(RR, "name", key), node(RR, "value", value))
            for key, value in sorted(restrictions.items())
        )
        ctx = self._ctx(RESELLER_CONTEXT, tenant, restrictions=items)

        async def verify() -> Verified:
            held = _int((await self._restrictions(tenant)).get(name))
            return _verified(name, held == quantity, True)

        return Change(
            subject=tenant.name,
            verify=verify,
            before=before,
            after=quantity,
            apply=self._sender(RESELLER_CONTEXT, "change", None, ctx, idempotent=True),
        )

    # -- licence and connection ----------------------------------------------------------------

    async def _tenants(self) -> list[TenantRef]:
        """Every context this instance can see."""
        if self.settings.mode == "context_admin":
            keys = {str(self.settings.context_id)} if self.settings.context_id else set()
            keys |= set(self.settings.context_credentials)
            return [TenantRef(name=k, native_id=k if k.isdigit() else None) for k in sorted(keys)]
        listed = await self._soap(self._contexts, "listAll", None)
        return [
            TenantRef(
                name=child_text(e, "name") or str(child_text(e, "id")),
                native_id=child_text(e, "id"),
            )
            for e in listed
        ]

    async def _get_licence(self) -> Licence:
        tenants = await self._tenants()
        per_context = await self._gather(self._user_ids(t, with_admin=True) for t in tenants)
        used = sum(len(ids) for ids in per_context)
        limits: dict[str, str] = {}
        if self.settings.mode == "reseller":
            me = RESELLER.field(
                "adm", None, RESELLER.data("name", self.settings.credentials.username)
            )
            data = await self._soap(RESELLER, "getData", None, me)
            for item in (e for e in (data[0] if data else ()) if e.tag.endswith("}restrictions")):
                name = child_text(item, "name")
                if name:
                    limits[name] = child_text(item, "value") or ""
        features = [
            LicenceFeature(
                name="contexts", quantity=_int(limits.get(_MAX_CONTEXT)), used=len(tenants)
            )
        ]
        by_combination = {
            key.removeprefix(_OVERALL_BY): _int(value)
            for key, value in limits.items()
            if key.startswith(_OVERALL_BY)
        }
        if by_combination:
            combos = await self._gather(
                self._combination_counts(t, ids)
                for t, ids in zip(tenants, per_context, strict=True)
            )
            held = sum(combos, Counter[str | None]())
            for combination, quantity in sorted(by_combination.items()):
                features.append(
                    LicenceFeature(
                        name=f"users:{combination}", quantity=quantity, used=held[combination]
                    )
                )
        return Licence(
            seats_licensed=_int(limits.get(_OVERALL)),
            seats_used=used,
            features=tuple(features),
        )

    async def _test_connection(self) -> ConnectionStatus:
        try:
            if self.settings.mode == "reseller":
                me = RESELLER.field(
                    "adm", None, RESELLER.data("name", self.settings.credentials.username)
                )
                await self._soap(RESELLER, "getData", None, me)
            elif self.settings.mode == "master_admin":
                await self._soap(CONTEXT, "listAll", None)
            else:
                tenants = await self._tenants()
                if not tenants:
                    raise errors.ConfigurationError(
                        f"'{self.instance}' names no context to check (set context_id)"
                    )
                await self._soap(USER, "getContextAdmin", tenants[0], self._ctx(USER, tenants[0]))
        except errors.AuthenticationError as exc:
            return ConnectionStatus(ok=False, platform=self.platform, detail=str(exc))
        return ConnectionStatus(
            ok=True, platform=self.platform, detail=f"mode {self.settings.mode}"
        )

    # -- passwords and suspensions ---------------------------------------------------------------

    async def _set_password(self, mailbox: MailboxRef, password: str) -> ChangeResult[str]:
        users, tenant = self._users, mailbox.tenant
        await self._user_exists(mailbox)  # a dry run meets the refusal too
        # User's propOrder: name, then password.
        usrdata = users.field(
            "usrdata",
            None,
            users.data("name", self._login(mailbox)),
            users.data("password", password),
        )
        return await self.change(
            Change(
                subject=mailbox.address,
                before="set",
                after="set",
                same=False,  # a password cannot be read back; setting it again is harmless
                apply=self._sender(users, "change", tenant, self._ctx(users, tenant), usrdata),
            )
        )

    async def _suspend_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._mail_enabled(mailbox, enabled=False)

    async def _resume_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._mail_enabled(mailbox, enabled=True)

    async def _mail_enabled(self, mailbox: MailboxRef, *, enabled: bool) -> ChangeResult[str]:
        """A user's ``mailenabled``: false refuses the user every login, deleting nothing."""
        users, tenant = self._users, mailbox.tenant
        await self._user_exists(mailbox)

        async def held() -> bool:
            data = await self._soap(
                users, "getData", tenant, self._ctx(users, tenant), self._user(users, mailbox)
            )
            value = child_text(data[0], "mailenabled") if data else None
            return value is None or value.strip().lower() != "false"

        async def verify() -> Verified:
            return _verified("mailenabled", await held(), enabled)

        # User's propOrder: mailenabled, then name.
        usrdata = users.field(
            "usrdata",
            None,
            users.data("mailenabled", "true" if enabled else "false"),
            users.data("name", self._login(mailbox)),
        )
        ctx = self._ctx(users, tenant)
        return await self.change(
            Change(
                subject=mailbox.address,
                before=_status(await held()),
                after=_status(enabled),
                apply=self._sender(users, "change", tenant, ctx, usrdata, idempotent=True),
                verify=verify,
            )
        )

    async def _user_exists(self, mailbox: MailboxRef) -> None:
        users, tenant = self._users, mailbox.tenant
        exists = await self._soap(
            users, "exists", tenant, self._ctx(users, tenant), self._user(users, mailbox)
        )
        if not (exists and _text(exists[0]) == "true"):
            raise errors.NotFoundError(
                f"The mailbox {mailbox.address} does not exist as an OX user"
            )

    async def _suspend_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._context_enabled(tenant, enabled=False)

    async def _resume_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._context_enabled(tenant, enabled=True)

    async def _context_enabled(self, tenant: TenantRef, *, enabled: bool) -> ChangeResult[str]:
        """A context's ``disable``/``enable``: a disabled context lets none of its users
        log in; nothing of it is deleted."""
        service = self._contexts

        async def held() -> bool:
            data = await self._soap(service, "getData", None, self._ctx(service, tenant))
            value = child_text(data[0], "enabled") if data else None
            return value is None or value.strip().lower() != "false"

        async def verify() -> Verified:
            return _verified("enabled", await held(), enabled)

        operation = "enable" if enabled else "disable"
        ctx = self._ctx(service, tenant)
        return await self.change(
            Change(
                subject=tenant.name,
                before=_status(await held()),
                after=_status(enabled),
                apply=self._sender(service, operation, None, ctx, idempotent=True),
                verify=verify,
            )
        )

    # -- mailbox settings -------------------------------------------------------------------------

    async def _one_user(self, mailbox: MailboxRef) -> Element:
        """The user's ``getData`` (``NotFoundError`` when no such user)."""
        users, tenant = self._users, mailbox.tenant
        await self._user_exists(mailbox)
        data = await self._soap(
            users, "getData", tenant, self._ctx(users, tenant), self._user(users, mailbox)
        )
        if not data:
            raise errors.ProtocolError(f"{self.instance} sent no data for {mailbox.address}")
        return data[0]

    async def _list_tenants(self) -> list[TenantRef]:
        return await self._tenants()

    async def _read_settings(self, mailbox: MailboxRef) -> MailboxSettings:
        data = await self._one_user(mailbox)
        primary = (child_text(data, "primaryEmail") or mailbox.address).strip().lower()
        quota = _int(child_text(data, "maxQuota"))
        # OX lists the primary address among the aliases; the contract's aliases are the
        # other addresses.
        aliases = {
            (item.text or "").strip().lower() for item in children(data, "aliases") if item.text
        } - {primary, mailbox.address}
        return MailboxSettings(
            display_name=child_text(data, "display_name") or "",
            quota_mb=quota if quota is not None and quota >= 0 else None,
            aliases=tuple(sorted(aliases)),
        )

    async def _write_settings(
        self, mailbox: MailboxRef, held: MailboxSettings, wanted: MailboxSettings
    ) -> None:
        users, tenant = self._users, mailbox.tenant
        aliases: tuple[Node, ...] = ()
        if wanted.aliases != held.aliases:
            data = await self._one_user(mailbox)
            primary = (child_text(data, "primaryEmail") or mailbox.address).strip().lower()
            # ``change`` replaces the aliases whole; the primary address must stay one.
            aliases = tuple(users.data("aliases", a) for a in (primary, *wanted.aliases))
        # User's propOrder: aliases, display_name, maxQuota, name.
        usrdata = users.field(
            "usrdata",
            None,
            *aliases,
            users.data("display_name", wanted.display_name)
            if wanted.display_name != held.display_name
            else None,
            users.data("maxQuota", wanted.quota_mb) if wanted.quota_mb != held.quota_mb else None,
            users.data("name", self._login(mailbox)),
        )
        await self._soap(
            users, "change", tenant, self._ctx(users, tenant), usrdata, write=True, idempotent=True
        )

    # -- creating and deleting mailboxes ---------------------------------------------------------

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        display = mailbox.display_name or mailbox.address.split("@")[0]
        if mailbox.kind is MailboxKind.USER:
            change = self._new_user(tenant, mailbox, display)
        elif mailbox.kind is MailboxKind.SHARED:
            change = self._new_account(tenant, mailbox, display)
        else:
            change = self._new_resource(tenant, mailbox, display)
        return await self.change(change)

    def _new_user(self, tenant: TenantRef, mailbox: NewMailbox, display: str) -> Change[Mailbox]:
        users = self._users
        mapping = self._mapping(mailbox.plan) if mailbox.plan else None
        login = self._login(mailbox)
        planned = Mailbox(
            address=mailbox.address,
            kind=MailboxKind.USER,
            plan=mailbox.plan,
            display_name=display,
            quota_mb=mapping.quota_mb if mapping else None,
        )

        async def check() -> None:
            exists = await self._soap(
                users,
                "exists",
                tenant,
                self._ctx(users, tenant),
                users.field("user", None, users.data("name", login)),
            )
            if exists and _text(exists[0]) == "true":
                raise errors.ConflictError(f"The mailbox {mailbox.address} already exists")

        async def create() -> Applied[Mailbox]:
            given, _, sur = display.partition(" ")
            # The secret's text, not its masked form; a random one when none was given.
            if mailbox.password is not None:
                password = mailbox.password.get_secret_value()
            else:
                password = secrets.token_urlsafe(18)
            self.http.add_secret(password)  # never in a log line or an error's debug
            attributes = mapping.attributes() if mapping else {}
            # In User's propOrder (display_name ... userAttributes).
            usrdata = users.field(
                "usrdata",
                None,
                users.data("display_name", display),
                users.data("email1", mailbox.address),
                users.data("given_name", given or login),
                users.data("maxQuota", mapping.quota_mb)
                if mapping and mapping.quota_mb is not None
                else None,
                users.data("name", login),
                users.data("password", password),
                users.data("primaryEmail", mailbox.address),
                users.data("sur_name", sur or given or login),
                _attributes_node(users, attributes) if attributes else None,
            )
            ctx = self._ctx(users, tenant)
            if mapping is not None:
                combination = users.field("access_combination_name", mapping.access_combination)
                created = await self._soap(
                    users, "createByModuleAccessName", tenant, ctx, usrdata, combination, write=True
                )
            else:
                created = await self._soap(users, "create", tenant, ctx, usrdata, write=True)
            native = child_text(created[0], "id") if created else None
            return Applied(after=planned.model_copy(update={"native_id": native}))

        return Change(
            subject=mailbox.address,
            before=None,
            after=planned,
            apply=create,
            check=check,
            verify=self._presence(tenant, mailbox.address, wanted=True),
        )

    def _new_account(self, tenant: TenantRef, mailbox: NewMailbox, display: str) -> Change[Mailbox]:
        svc = SECONDARY_ACCOUNT

        async def check() -> None:
            if any(
                child_text(a, "primaryAddress") == mailbox.address
                for a in await self._accounts(tenant)
            ):
                raise errors.ConflictError(f"The mailbox {mailbox.address} already exists")

        data = svc.field(
            "accountDataOnCreate",
            None,
            svc.data("name", display),
            svc.data("primaryAddress", mailbox.address),
            svc.data("personal", display),
            svc.data("login", mailbox.address),
            svc.data("mailEndpointSource", "primary"),
        )
        groups = [
            svc.field("groups", None, svc.data("id", g))
            for g in self.settings.shared_mailbox_groups
        ]
        return Change(
            subject=mailbox.address,
            before=None,
            after=Mailbox(
                address=mailbox.address,
                kind=MailboxKind.SHARED,
                display_name=display,
                native_id=mailbox.address,
            ),
            apply=self._sender(
                svc, "create", tenant, self._ctx(svc, tenant, "context"), data, *groups
            ),
            check=check,
            verify=self._presence(tenant, mailbox.address, wanted=True),
        )

    def _new_resource(
        self, tenant: TenantRef, mailbox: NewMailbox, display: str
    ) -> Change[Mailbox]:
        kinds = self.settings.resource_kinds
        marker = kinds.marker(mailbox.kind)
        description: str | None = None
        if kinds.field == "description":
            description = marker
        elif kinds.field == "displayname" and not display.lower().startswith(marker):
            display = f"{marker} {display}"
        elif (
            kinds.field in ("name", "email")
            and kinds.kind_of({"name": mailbox.address, "email": mailbox.address})
            is not mailbox.kind
        ):
            raise errors.ValidationError(
                f"'{self.instance}' tells a {mailbox.kind.value} by its address starting with "
                f"'{marker}'; {mailbox.address} does not"
            )
        planned = Mailbox(address=mailbox.address, kind=mailbox.kind, display_name=display)

        async def check() -> None:
            if any(
                _same(child_text(r, "email"), mailbox.address)
                for r in await self._resources(tenant)
            ):
                raise errors.ConflictError(f"The mailbox {mailbox.address} already exists")

        async def create() -> Applied[Mailbox]:
            res = RESOURCE.field(
                "res",
                None,
                RESOURCE.data("available", True),
                RESOURCE.data("description", description) if description is not None else None,
                RESOURCE.data("displayname", display),
                RESOURCE.data("email", mailbox.address),
                RESOURCE.data("name", mailbox.address),
            )
            created = await self._soap(
                RESOURCE, "create", tenant, self._ctx(RESOURCE, tenant), res, write=True
            )
            native = child_text(created[0], "id") if created else None
            return Applied(after=planned.model_copy(update={"native_id": native}))

        return Change(
            subject=mailbox.address,
            before=None,
            after=planned,
            apply=create,
            check=check,
            verify=self._presence(tenant, mailbox.address, wanted=True),
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        before, remove = await self._find(mailbox)
        return await self.change(
            Change(
                subject=mailbox.address,
                before=before,
                after=None,
                apply=remove or _nothing,
                verify=self._presence(mailbox.tenant, mailbox.address, wanted=False),
            )
        )

    def _presence(
        self, tenant: TenantRef, address: str, *, wanted: bool
    ) -> Callable[[], Awaitable[Verified]]:
        """The read-back of a creation (``wanted``) or a deletion: is the mailbox there."""

        async def verify() -> Verified:
            found, _ = await self._find(MailboxRef(tenant=tenant, address=address))
            return _verified("mailbox", found is not None, wanted)

        return verify

    async def _find(
        self, mailbox: MailboxRef
    ) -> tuple[Mailbox | None, Callable[[], Awaitable[None]] | None]:
        """The mailbox as it is now and the call that deletes it (``None, None``: gone)."""
        tenant, users = mailbox.tenant, self._users
        user = self._user(users, mailbox)
        exists = await self._soap(users, "exists", tenant, self._ctx(users, tenant), user)
        if exists and _text(exists[0]) == "true":
            data = await self._soap(users, "getData", tenant, self._ctx(users, tenant), user)
            named = await self._soap(
                users, "getAccessCombinationName", tenant, self._ctx(users, tenant), user
            )
            combination = _text(named[0]) if named else None
            quota = _int(child_text(data[0], "maxQuota")) if data else None
            attributes = read_attributes(child(data[0], "userAttributes")) if data else {}
            found = Mailbox(
                address=mailbox.address,
                kind=MailboxKind.USER,
                plan=self._neutral(combination, quota, attributes) or combination,
                display_name=(child_text(data[0], "display_name") or "") if data else "",
                quota_mb=quota if quota is not None and quota >= 0 else None,
                native_id=child_text(data[0], "id") if data else None,
            )
            return found, self._sender(users, "delete", tenant, self._ctx(users, tenant), user)
        for account in await self._accounts(tenant):
            if _same(child_text(account, "primaryAddress"), mailbox.address):
                svc = SECONDARY_ACCOUNT
                found = Mailbox(
                    address=mailbox.address,
                    kind=MailboxKind.SHARED,
                    display_name=child_text(account, "name") or "",
                    native_id=child_text(account, "login"),
                )
                return found, self._sender(
                    svc,
                    "delete",
                    tenant,
                    self._ctx(svc, tenant, "context"),
                    svc.field("primaryAddress", child_text(account, "primaryAddress")),
                )
        for resource in await self._resources(tenant):
            if _same(child_text(resource, "email"), mailbox.address):
                native = child_text(resource, "id")
                found = Mailbox(
                    address=mailbox.address,
                    # A Mailbox needs a kind; one the convention cannot tell is shown as a
                    # room here (the deletion itself does not depend on it).
                    kind=self._resource_kind(resource) or MailboxKind.ROOM,
                    display_name=child_text(resource, "displayname") or "",
                    native_id=native,
                )
                return found, self._sender(
                    RESOURCE,
                    "delete",
                    tenant,
                    self._ctx(RESOURCE, tenant),
                    RESOURCE.field("res", None, RESOURCE.data("id", native)),
                )
        return None, None


#: Where the credentials go in a call's parameters when they are not last (``listAll``:
#: ctx, auth, include_guests, exclude_users).
_AUTH = Node("", "auth")


def _with_auth(params: Sequence[Node | None], auth: Node) -> list[Node | None]:
    """``params`` with the credentials at the ``_AUTH`` marker, or last."""
    if any(p is _AUTH for p in params):
        return [auth if p is _AUTH else p for p in params]
    return [*params, auth]


async def _nothing() -> None:
    """The ``apply`` of a deletion with nothing to delete (never called: before == after)."""


# -- small readers ---------------------------------------------------------------------------------


def _status(enabled: bool) -> str:
    """The contract's word for access allowed or stopped."""
    return "active" if enabled else "suspended"


def _verified(part: str, held: bool, wanted: bool) -> Verified:
    state = {part: held}
    return Verified((part,), (), state) if held == wanted else Verified((), (part,), state)


def _text(element: Element) -> str | None:
    return None if is_nil(element) else (element.text or "")


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.strip().lower() == b.lower()


def _holds(held: dict[str, dict[str, str]], wanted: dict[str, dict[str, str]]) -> bool:
    return all(
        held.get(ns, {}).get(k) == v for ns, values in wanted.items() for k, v in values.items()
    )


def _attributes_node(service: Service, attributes: dict[str, dict[str, str]]) -> Node:
    entries = tuple(
        service.data(
            "entries",
            None,
            service.data("key", namespace),
            service.data(
                "value",
                None,
                *(
                    service.data("entries", None, service.data("key", k), service.data("value", v))
                    for k, v in values.items()
                ),
            ),
        )
        for namespace, values in attributes.items()
    )
    return Node(service.data_ns, "userAttributes", children=entries)


def _append(found: list[Mailbox], address: str | None, kind: MailboxKind, **fields: object) -> None:
    if not address:
        return
    try:
        found.append(Mailbox.model_validate({"address": address, "kind": kind, **fields}))
    except ValueError:
        log.debug("skipping %s %r: not a valid mailbox address", kind.value, address)
