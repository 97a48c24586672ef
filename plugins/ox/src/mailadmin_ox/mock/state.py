"""The OX mock's state and business rules: authentication, users and their module access,
access combinations, quotas, resources, functional accounts, resellers and restrictions.

No HTTP and no XML here: handlers decode a request into plain values (dicts keyed by the
WSDL's element names), call a method, and encode what it returns. A refused call raises
:class:`OXFault` carrying the exception name and the exact message OX sends (reference
section 1.6); ``; exceptionId <jvm>-<n>`` is appended the way OX 7.10.4+ does, except to
``InvalidCredentialsException`` (whose stored source does not extend the exception base
that appends it).

Defaults (``reset``): master admin ``oxadminmaster``/``secret`` (accepted for context-level
calls: ``ALLOW_MASTER_OVERRIDE`` on); OX's stock access combinations; context 1
``example.com`` (maxQuota 1024 MB) with context admin ``oxadmin``/``secret`` (user id 2,
combination ``all``) and the sample mailboxes of :data:`SAMPLE`: users ``anna`` (``pim``,
2048 MB), ``ben`` (``pim_mobility``, 5120 MB) and ``carla`` (``groupware_premium``,
10240 MB), the functional account ``info@example.com`` and the room ``room-1@example.com``;
reseller ``reseller``/``secret`` owning context 1, limited to 50 users and 10 contexts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from mailadmin.mock import MockState, SeedError
from mailadmin_ox.combinations import ADMIN_ONLY, STOCK, tokens_of
from mailadmin_ox.mock.model import (
    AttributeMap,
    MockAccount,
    MockContext,
    MockGroup,
    MockReseller,
    MockResource,
    MockUser,
)
from mailadmin_ox.namespaces import RS, S

__all__ = ["SAMPLE", "Actor", "OXFault", "OXState"]

_MASTER = ("oxadminmaster", "secret")
_USER_MANDATORY = (
    "name",
    "display_name",
    "password",
    "given_name",
    "sur_name",
    "primaryEmail",
    "email1",
)
_USER_LIMIT = "Context.MaxUser"
_USER_LIMIT_BY = "Context.MaxUserByModuleaccess_"
_OVERALL_LIMIT = "Subadmin.MaxOverallUser"
_OVERALL_LIMIT_BY = "Subadmin.MaxOverallUserByModuleaccess_"
_CONTEXT_LIMIT = "Subadmin.MaxContext"
_FIXED_RESTRICTIONS = (
    "Subadmin.MaxContext",
    "Subadmin.MaxOverallContextQuota",
    "Subadmin.MaxOverallUser",
    "Context.MaxUser",
    "Subadmin.CanCreateSubadmin",
    "Subadmin.MaxSubadmin",
)


#: The sample data loaded over the bare defaults (the shape :meth:`OXState.load_seed` takes).
SAMPLE: dict[str, Any] = {
    "resellers": [
        {
            "id": 1,
            "name": "reseller",
            "password": "secret",
            "displayname": "Sample reseller",
            "restrictions": {"Subadmin.MaxOverallUser": "50", "Subadmin.MaxContext": "10"},
        }
    ],
    "contexts": [
        {
            "id": 1,
            "name": "example.com",
            "maxQuota": 1024,
            "owner": "reseller",
            "users": [
                {
                    "id": 3,
                    "name": "anna",
                    "display_name": "Anna Example",
                    "given_name": "Anna",
                    "sur_name": "Example",
                    "access_combination": "pim",
                    "maxQuota": 2048,
                },
                {
                    "id": 4,
                    "name": "ben",
                    "display_name": "Ben Example",
                    "given_name": "Ben",
                    "sur_name": "Example",
                    "access_combination": "pim_mobility",
                    "maxQuota": 5120,
                },
                {
                    "id": 5,
                    "name": "carla",
                    "display_name": "Carla Example",
                    "given_name": "Carla",
                    "sur_name": "Example",
                    "access_combination": "groupware_premium",
                    "maxQuota": 10240,
                },
            ],
            "accounts": [
                {
                    "primaryAddress": "info@example.com",
                    "name": "Info",
                    "login": "info@example.com",
                    "personal": "Example Info",
                    "groups": [0],
                }
            ],
            "resources": [
                {
                    "id": 1,
                    "name": "room-1@example.com",
                    "displayname": "Room 1",
                    "email": "room-1@example.com",
                    "description": "room",
                }
            ],
        }
    ],
}


class OXFault(Exception):
    """A refusal, written on the wire as a SOAP fault.

    ``exception``: OX's exception name (the fault detail element); ``message``: the
    ``faultstring``; ``code``: ``"Server"`` or ``"Client"``; ``namespace``: of the detail
    element (``OXResellerException`` lives in the reseller namespace).
    """

    def __init__(
        self, exception: str | None, message: str, *, code: str = "Server", namespace: str = S
    ) -> None:
        super().__init__(message)
        self.exception = exception
        self.message = message
        self.code = code
        self.namespace = namespace


class Actor:
    """Who a call is authenticated as: ``kind`` is ``"master"``, ``"reseller"``,
    ``"admin"`` (context admin) or ``"user"``; ``reseller`` / ``user`` when relevant."""

    def __init__(
        self, kind: str, *, reseller: MockReseller | None = None, user: MockUser | None = None
    ) -> None:
        self.kind = kind
        self.reseller = reseller
        self.user = user


Ref = Mapping[str, Any]


class OXState(MockState):
    """Everything one OX mock server holds. One instance per server."""

    def reset(self) -> None:
        """Back to the documented defaults."""
        super().reset()
        self.master = _MASTER
        self.allow_master_override = True
        self.combinations: dict[str, frozenset[str]] = dict(STOCK)
        self.contexts: dict[int, MockContext] = {}
        self.resellers: dict[int, MockReseller] = {}
        self.next_context_id = 1
        self.next_reseller_id = 1
        # OX's exceptionId is "<random per-JVM int>-<counter>"; fixed here so answers are
        # reproducible.
        self.jvm_id = 1364817042
        self.fault_counter = 0
        self._load(SAMPLE)

    # -- faults ----------------------------------------------------------------------------

    def fault(self, exception: str, message: str, *, namespace: str = S) -> OXFault:
        """An OX fault with the ``; exceptionId`` suffix."""
        self.fault_counter += 1
        return OXFault(
            exception,
            f"{message}; exceptionId {self.jvm_id}-{self.fault_counter}",
            namespace=namespace,
        )

    def reseller_fault(self, message: str) -> OXFault:
        """An ``OXResellerException``."""
        return self.fault("OXResellerException", message, namespace=RS)

    @staticmethod
    def auth_fault(message: str = "Authentication failed") -> OXFault:
        """An ``InvalidCredentialsException`` (no exceptionId suffix)."""
        return OXFault("InvalidCredentialsException", message)

    # -- access combinations ---------------------------------------------------------------

    def combination(self, name: str | None) -> frozenset[str]:
        """The tokens of a named combination; the faults OX sends for blank or unknown."""
        if name is None or not name.strip():
            raise self.fault("InvalidDataException", "User or UserModuleAccess is null")
        found = self.combinations.get(name)
        if found is None:
            raise self.fault("InvalidDataException", f'No such access combination name "{name}"')
        return found

    def combination_of(self, access: frozenset[str]) -> str | None:
        """The first combination whose token set is exactly ``access`` (``None``: none)."""
        return next((name for name, tokens in self.combinations.items() if tokens == access), None)

    @staticmethod
    def effective(tokens: frozenset[str], *, context_admin: bool) -> frozenset[str]:
        """What a user really gets: only context admins hold ``publicfoldereditable``."""
        return tokens if context_admin else tokens - {ADMIN_ONLY}

    # -- authentication ----------------------------------------------------------------------

    def _creds(self, creds: Ref | None) -> tuple[str, str]:
        if not creds or creds.get("login") is None:
            raise self.auth_fault("credential object is null")
        return str(creds.get("login") or ""), str(creds.get("password") or "")

    def _is_master(self, login: str, password: str) -> bool:
        return (login, password) == self.master

    def _reseller_login(self, login: str, password: str) -> MockReseller | None:
        found = next((r for r in self.resellers.values() if r.name == login), None)
        return found if found is not None and found.password == password else None

    def authenticate_master(self, creds: Ref | None) -> Actor:
        """Master-admin calls (OXContextService)."""
        login, password = self._creds(creds)
        if not self._is_master(login, password):
            raise self.auth_fault()
        return Actor("master")

    def authenticate_reseller(self, creds: Ref | None) -> Actor:
        """Reseller-service calls: the master admin or a sub-admin."""
        login, password = self._creds(creds)
        if self._is_master(login, password):
            return Actor("master")
        reseller = self._reseller_login(login, password)
        if reseller is None:
            raise self.auth_fault()
        return Actor("reseller", reseller=reseller)

    def authenticate_context(
        self, ctx: Ref | None, creds: Ref | None, *, allow_user: bool = False
    ) -> tuple[MockContext, Actor]:
        """Context-level calls: the context admin, the master (override on), the reseller
        owning the context, or (``allow_user``) a user of the context acting on himself.

        An unknown context is ``Authentication failed``, never "no such context", so that
        a caller cannot probe which contexts exist.
        """
        login, password = self._creds(creds)
        if self._is_master(login, password) and self.allow_master_override:
            return self.context(ctx), Actor("master")
        context = self._find_context(ctx)
        reseller = self._reseller_login(login, password)
        if reseller is not None:
            if context is None or not self._owns(reseller, context):
                raise self.auth_fault()
            return context, Actor("reseller", reseller=reseller)
        if context is None:
            raise self.auth_fault()
        user = context.user_named(login)
        if user is not None and user.context_admin and user.password == password:
            return context, Actor("admin", user=user)
        if allow_user and user is not None and not user.context_admin:
            if user.password != password:
                raise self.auth_fault(f"Authentication failed for user {login}")
            return context, Actor("user", user=user)
        raise self.auth_fault()

    def authenticate_owned_context(self, ctx: Ref | None, creds: Ref | None) -> MockContext:
        """Reseller context/user services: the master, or the reseller owning the context."""
        actor = self.authenticate_reseller(creds)
        if actor.kind == "master":
            return self.context(ctx)
        context = self._find_context(ctx)
        assert actor.reseller is not None
        if context is None or not self._owns(actor.reseller, context):
            raise self.auth_fault()
        return context

    def _owns(self, reseller: MockReseller, context: MockContext) -> bool:
        owner = context.owner
        while owner:
            if owner == reseller.id:
                return True
            parent = self.resellers.get(owner)
            owner = parent.parent_id if parent else 0
        return False

    # -- contexts ------------------------------------------------------------------------------

    def _find_context(self, ref: Ref | None) -> MockContext | None:
        if not ref:
            return None
        if ref.get("id") is not None:
            return self.contexts.get(int(ref["id"]))
        name = ref.get("name")
        if name:
            return next((c for c in self.contexts.values() if c.name == name), None)
        return None

    def context(self, ref: Ref | None) -> MockContext:
        """The referenced context (by ``id`` or ``name``) or ``NoSuchContextException``."""
        found = self._find_context(ref)
        if found is None:
            what = (ref or {}).get("id") or (ref or {}).get("name") or "null"
            raise self.fault("NoSuchContextException", f"Context {what} does not exist")
        return found

    def contexts_of(self, actor: Actor) -> list[MockContext]:
        """Every context the actor may see (all for the master)."""
        if actor.kind == "master":
            return list(self.contexts.values())
        assert actor.reseller is not None
        return [c for c in self.contexts.values() if self._owns(actor.reseller, c)]

    def _add_context(
        self,
        context_id: int,
        name: str,
        *,
        max_quota: int = -1,
        owner: int | None = None,
        admin: Ref | None = None,
        admin_access: frozenset[str] | None = None,
    ) -> MockContext:
        context = MockContext(id=context_id, name=name, max_quota=max_quota, owner=owner)
        admin = dict(admin or {})
        admin_name = str(admin.get("name") or "oxadmin")
        user = MockUser(
            id=2,
            name=admin_name,
            password=str(admin.get("password") or "secret"),
            access=admin_access
            if admin_access is not None
            else self.combinations.get("all", frozenset()),
            context_admin=True,
        )
        _apply_fields(
            user,
            {
                "display_name": "Context Admin",
                "given_name": "Context",
                "sur_name": "Admin",
                "primaryEmail": f"{admin_name}@{name}",
                "email1": f"{admin_name}@{name}",
                **{k: v for k, v in admin.items() if k not in ("name", "password", "id")},
            },
        )
        context.users[2] = user
        context.groups[1] = MockGroup(1, "users", "All users", [2])
        self.contexts[context_id] = context
        self.next_context_id = max(self.next_context_id, context_id + 1)
        return context

    def create_context(
        self,
        actor: Actor,
        ctx: Ref,
        admin_user: Ref | None,
        combination: str | None = None,
    ) -> MockContext:
        """``create`` / ``createModuleAccessByName`` of a context."""
        if actor.kind == "reseller":
            assert actor.reseller is not None
            limit = _int(actor.reseller.restrictions.get(_CONTEXT_LIMIT))
            if limit is not None and len(self.contexts_of(actor)) >= limit:
                raise self.reseller_fault(f"Maximum number of contexts reached: {limit}")
        if ctx.get("maxQuota") is None:
            raise self.fault(
                "InvalidDataException", "Mandatory fields in context not set: maxQuota"
            )
        missing = [f for f in _USER_MANDATORY if not (admin_user or {}).get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException",
                "Mandatory fields in admin user not set: " + ", ".join(missing),
            )
        context_id = int(ctx.get("id") or self.next_context_id)
        name = str(ctx.get("name") or context_id)
        if context_id in self.contexts or any(c.name == name for c in self.contexts.values()):
            raise self.fault("ContextExistsException", f"Context {name} already exists")
        access = None
        if combination is not None:
            access = self.combination(combination)
        context = self._add_context(
            context_id,
            name,
            max_quota=int(ctx["maxQuota"]),
            owner=actor.reseller.id if actor.reseller else None,
            admin=admin_user,
            admin_access=access,
        )
        self._change_context_fields(context, ctx)
        return context

    def change_context(self, context: MockContext, ctx: Ref, *, restrictions: bool) -> None:
        """``change`` of a context: name, maxQuota, login mappings, attributes and (reseller
        service) the per-context restrictions.

        As OX's reseller bundle does, restrictions sent replace the context's whole list
        (delete all, insert those sent); a change carrying none leaves them untouched.
        """
        self._change_context_fields(context, ctx)
        # The decoder gives [] for an absent repeated element: "none sent", not "clear all".
        if restrictions and ctx.get("restriction"):
            new = {}
            for item in ctx["restriction"]:
                name = str(item.get("name") or "")
                self._check_restriction_name(name, context_level=True)
                new[name] = str(item.get("value") or "")
            context.restrictions = new

    def _change_context_fields(self, context: MockContext, ctx: Ref) -> None:
        if ctx.get("name") and ctx.get("id") is not None:
            context.name = str(ctx["name"])
        if ctx.get("maxQuota") is not None:
            context.max_quota = int(ctx["maxQuota"])
        if ctx.get("loginMappings") is not None:
            context.login_mappings = list(ctx["loginMappings"])
        if ctx.get("userAttributes"):
            _merge_attributes(context.attributes, ctx["userAttributes"])
        if ctx.get("customid") is not None:
            context.customid = str(ctx["customid"])

    def delete_context(self, context: MockContext) -> None:
        """``delete`` of a context and everything in it."""
        del self.contexts[context.id]

    # -- restrictions -------------------------------------------------------------------------

    def available_restrictions(self) -> list[str]:
        """Every restriction name OX knows, per-combination ones included."""
        names = list(_FIXED_RESTRICTIONS)
        for combination in self.combinations:
            names.append(_OVERALL_LIMIT_BY + combination)
            names.append(_USER_LIMIT_BY + combination)
        return names

    def _check_restriction_name(self, name: str, *, context_level: bool) -> None:
        known = self.available_restrictions()
        if name not in known or (context_level and not name.startswith("Context.")):
            raise self.fault("InvalidDataException", f"No restriction named {name} available")

    def _check_user_limits(
        self, context: MockContext, access: frozenset[str], *, user: MockUser | None
    ) -> None:
        """Reseller restrictions, checked before a user is created (``user`` None) or moved
        to another combination. The context admin counts as a user."""
        combination = self.combination_of(access)
        moving = user is None or self.combination_of(user.access) != combination
        if user is None:
            limit = _int(context.restrictions.get(_USER_LIMIT))
            if limit is not None and len(context.users) >= limit:
                raise self.reseller_fault(f"Maximum number of users per context reached: {limit}")
        if moving and combination is not None:
            limit = _int(context.restrictions.get(_USER_LIMIT_BY + combination))
            same = sum(
                1 for u in context.users.values() if self.combination_of(u.access) == combination
            )
            if limit is not None and same >= limit:
                raise self.reseller_fault(
                    f"Maximum number of users by moduleaccess per context reached: {limit}"
                )
        owner = self.resellers.get(context.owner or 0)
        if owner is None:
            return
        owned = self.contexts_of(Actor("reseller", reseller=owner))
        if user is None:
            limit = _int(owner.restrictions.get(_OVERALL_LIMIT))
            if limit is not None and sum(len(c.users) for c in owned) >= limit:
                raise self.reseller_fault(f"Maximum overall number of users reached: {limit}")
        if moving and combination is not None:
            limit = _int(owner.restrictions.get(_OVERALL_LIMIT_BY + combination))
            same = sum(
                1
                for c in owned
                for u in c.users.values()
                if self.combination_of(u.access) == combination
            )
            if limit is not None and same >= limit:
                raise self.reseller_fault(
                    f"Maximum overall number of users by moduleaccess reached: {limit}"
                )

    # -- users ----------------------------------------------------------------------------------

    def user(
        self, context: MockContext, ref: Ref | None, *, default_message: bool = False
    ) -> MockUser:
        """The user referenced by ``id`` or ``name``, or ``NoSuchUserException``."""
        ref = ref or {}
        found: MockUser | None = None
        if ref.get("id") is not None:
            found = context.users.get(int(ref["id"]))
            what = ref["id"]
        else:
            found = context.user_named(str(ref.get("name") or ""))
            what = ref.get("name") or "null"
        if found is None:
            message = (
                "User does not exist"
                if default_message
                else (f"No such user {what} in context {context.id}")
            )
            raise self.fault("NoSuchUserException", message)
        return found

    def create_user(
        self, context: MockContext, usrdata: Ref, access: frozenset[str] | None = None
    ) -> MockUser:
        """``create`` (rights copied from the context admin) and ``createByModuleAccess*``."""
        missing = [f for f in _USER_MANDATORY if not usrdata.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException", "Mandatory fields in user not set: " + ", ".join(missing)
            )
        name = str(usrdata["name"])
        if context.user_named(name) is not None:
            raise self.fault("InvalidDataException", f"User {name} already exists in this context")
        self._check_address_free(context, str(usrdata["primaryEmail"]), None)
        if str(usrdata["email1"]).lower() != str(usrdata["primaryEmail"]).lower():
            raise self.fault("InvalidDataException", "primaryEmail and email1 must be equal")
        if access is None:
            access = context.users[context.admin_id].access
        access = self.effective(access, context_admin=False)
        self._check_user_limits(context, access, user=None)
        user = MockUser(
            id=context.next_id, name=name, password=str(usrdata["password"]), access=access
        )
        context.next_id += 1
        self._apply_user_data(context, user, usrdata)
        context.users[user.id] = user
        context.groups[1].members.append(user.id)
        return user

    def _check_address_free(
        self, context: MockContext, address: str, user: MockUser | None
    ) -> None:
        wanted = address.lower()
        for other in context.users.values():
            if other is user:
                continue
            held = {
                str(other.fields.get("primaryEmail", "")).lower(),
                *map(str.lower, other.aliases),
            }
            if wanted in held:
                raise self.fault(
                    "InvalidDataException",
                    f'Primary mail address "{address}" already exists in context {context.id}',
                )

    def change_user(self, context: MockContext, actor: Actor, usrdata: Ref) -> None:
        """``change``: the fields sent, nothing else. A user may change only himself."""
        user = self.user(context, usrdata)
        if actor.kind == "user" and actor.user is not user:
            raise self.auth_fault()
        if usrdata.get("primaryEmail"):
            self._check_address_free(context, str(usrdata["primaryEmail"]), user)
        if usrdata.get("id") is not None and usrdata.get("name"):
            new_name = str(usrdata["name"])
            clash = context.user_named(new_name)
            if clash is not None and clash is not user:
                raise self.fault(
                    "InvalidDataException", f"User {new_name} already exists in this context"
                )
            user.name = new_name
        self._apply_user_data(context, user, usrdata)

    def _apply_user_data(self, context: MockContext, user: MockUser, usrdata: Ref) -> None:
        for key, value in usrdata.items():
            if value is None or key in ("id", "name", "contextadmin", "usedQuota"):
                continue
            if key == "password":
                user.password = str(value)
            elif key == "maxQuota":
                user.max_quota = int(value)
            elif key == "userAttributes":
                _merge_attributes(user.attributes, value)
            elif key == "aliases":
                user.aliases = [str(a) for a in value]
            else:
                user.fields[key] = value

    def change_access(self, context: MockContext, user: MockUser, tokens: frozenset[str]) -> None:
        """Set a user's module access (restrictions checked first)."""
        access = self.effective(tokens, context_admin=user.context_admin)
        self._check_user_limits(context, access, user=user)
        user.access = access

    def change_access_flags(
        self, context: MockContext, user: MockUser, flags: Mapping[str, bool]
    ) -> None:
        """``changeByModuleAccess``: flags not sent keep their current value."""
        granted = tokens_of({k: True for k, v in flags.items() if v is True})
        revoked = tokens_of({k: True for k, v in flags.items() if v is False})
        self.change_access(context, user, (user.access | granted) - revoked)

    def delete_user(self, context: MockContext, user: MockUser) -> None:
        """``delete``; the context admin cannot be deleted."""
        if user.context_admin:
            raise self.fault("InvalidDataException", "Admin delete not supported")
        del context.users[user.id]
        for group in context.groups.values():
            if user.id in group.members:
                group.members.remove(user.id)
        for account in context.accounts.values():
            if user.id in account.users:
                account.users.remove(user.id)

    def list_users(
        self, context: MockContext, pattern: str = "*", *, exclude_users: bool = False
    ) -> list[MockUser]:
        """``list`` / ``listAll``: SQL-LIKE pattern on the login, ``*`` for everything."""
        if exclude_users:
            return []  # the mock holds no guests
        like = pattern.replace("%", "*") or "*"
        return [u for u in context.users.values() if fnmatch.fnmatchcase(u.name, like)]

    # -- resources ------------------------------------------------------------------------------

    def resource(self, context: MockContext, ref: Ref | None) -> MockResource:
        """The resource referenced by ``id`` or ``name``."""
        ref = ref or {}
        if ref.get("id") is not None:
            found = context.resources.get(int(ref["id"]))
            what = ref["id"]
        else:
            found = next((r for r in context.resources.values() if r.name == ref.get("name")), None)
            what = ref.get("name") or "null"
        if found is None:
            raise self.fault("NoSuchResourceException", f"Resource {what} does not exist")
        return found

    def create_resource(self, context: MockContext, res: Ref) -> MockResource:
        """``create`` of a resource: ``name``, ``displayname`` and ``email`` are mandatory."""
        missing = [f for f in ("name", "displayname", "email") if not res.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException",
                "Mandatory fields in resource not set: " + ", ".join(missing),
            )
        name = str(res["name"])
        if any(r.name == name for r in context.resources.values()):
            raise self.fault(
                "InvalidDataException", f"Resource {name} already exists in this context"
            )
        if any(r.email.lower() == str(res["email"]).lower() for r in context.resources.values()):
            raise self.fault(
                "InvalidDataException", f"Resource address {res['email']} already exists"
            )
        resource = MockResource(
            id=context.next_resource_id,
            name=name,
            display_name=str(res["displayname"]),
            email=str(res["email"]),
            description=str(res.get("description") or ""),
            available=res.get("available") is not False,
        )
        context.next_resource_id += 1
        context.resources[resource.id] = resource
        return resource

    def change_resource(self, context: MockContext, res: Ref) -> None:
        """``change`` of a resource: the fields sent."""
        resource = self.resource(context, res)
        if res.get("displayname"):
            resource.display_name = str(res["displayname"])
        if res.get("email"):
            resource.email = str(res["email"])
        if res.get("description") is not None:
            resource.description = str(res["description"])
        if res.get("available") is not None:
            resource.available = bool(res["available"])

    def list_resources(self, context: MockContext, pattern: str = "*") -> list[MockResource]:
        """``list`` / ``listAll`` of resources (pattern on the name)."""
        like = pattern.replace("%", "*") or "*"
        return [r for r in context.resources.values() if fnmatch.fnmatchcase(r.name, like)]

    # -- functional accounts ----------------------------------------------------------------------

    def create_account(
        self, context: MockContext, data: Ref, users: Iterable[Ref], groups: Iterable[Ref]
    ) -> MockAccount:
        """OXSecondaryAccountService ``create``."""
        missing = [f for f in ("name", "primaryAddress", "login") if not data.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException", "Mandatory fields in account not set: " + ", ".join(missing)
            )
        address = str(data["primaryAddress"])
        if address.lower() in context.accounts:
            raise self.fault("InvalidDataException", f'Account "{address}" already exists')
        user_ids = [self.user(context, ref).id for ref in users]
        group_ids = []
        for ref in groups:
            group_id = int(ref.get("id") or 0)
            if group_id and group_id not in context.groups:
                raise self.fault("NoSuchGroupException", f"Group {group_id} does not exist")
            group_ids.append(group_id)
        account = MockAccount(
            primary_address=address,
            name=str(data["name"]),
            login=str(data["login"]),
            personal=str(data.get("personal") or ""),
            mail_endpoint_source=str(data.get("mailEndpointSource") or "primary"),
            users=user_ids,
            groups=group_ids,
        )
        context.accounts[address.lower()] = account
        return account

    def delete_account(self, context: MockContext, address: str | None) -> None:
        """OXSecondaryAccountService ``delete`` (the whole account)."""
        if not address or address.lower() not in context.accounts:
            raise self.fault("InvalidDataException", f'No such account "{address}"')
        del context.accounts[address.lower()]

    # -- groups -------------------------------------------------------------------------------

    def group(self, context: MockContext, ref: Ref | None) -> MockGroup:
        """The group referenced by ``id`` or ``name``."""
        ref = ref or {}
        if ref.get("id") is not None:
            found = context.groups.get(int(ref["id"]))
        else:
            found = next((g for g in context.groups.values() if g.name == ref.get("name")), None)
        if found is None:
            what = ref.get("id") or ref.get("name") or "null"
            raise self.fault("NoSuchGroupException", f"Group {what} does not exist")
        return found

    def create_group(self, context: MockContext, grp: Ref) -> MockGroup:
        """``create`` of a group."""
        if not grp.get("name") or not grp.get("displayname"):
            raise self.fault(
                "InvalidDataException", "Mandatory fields in group not set: name, displayname"
            )
        if any(g.name == grp["name"] for g in context.groups.values()):
            raise self.fault(
                "InvalidDataException", f"Group {grp['name']} already exists in this context"
            )
        members = [self.user(context, {"id": m}).id for m in grp.get("members") or []]
        group = MockGroup(context.next_id, str(grp["name"]), str(grp["displayname"]), members)
        context.next_id += 1
        context.groups[group.id] = group
        return group

    def delete_group(self, context: MockContext, group: MockGroup) -> None:
        """``delete`` of a group; the default group stays."""
        if group.id == 1:
            raise self.fault("InvalidDataException", "The default group cannot be deleted")
        del context.groups[group.id]

    # -- resellers ----------------------------------------------------------------------------

    def reseller(self, actor: Actor, ref: Ref | None) -> MockReseller:
        """A sub-admin the actor may manage: itself, one it created, or any (master)."""
        ref = ref or {}
        found: MockReseller | None
        if ref.get("id") is not None:
            found = self.resellers.get(int(ref["id"]))
        else:
            found = next((r for r in self.resellers.values() if r.name == ref.get("name")), None)
        if found is None:
            what = ref.get("id") or ref.get("name") or "null"
            raise self.reseller_fault(f"The admin {what} does not exist")
        if actor.kind == "reseller":
            assert actor.reseller is not None
            if found is not actor.reseller and found.parent_id != actor.reseller.id:
                raise self.auth_fault("authentication failed")
        return found

    def resellers_of(self, actor: Actor) -> list[MockReseller]:
        """The sub-admins the actor may see."""
        if actor.kind == "master":
            return list(self.resellers.values())
        assert actor.reseller is not None
        return [r for r in self.resellers.values() if r.parent_id == actor.reseller.id]

    def create_reseller(self, actor: Actor, adm: Ref) -> MockReseller:
        """``OXResellerService.create``."""
        parent = 0
        if actor.kind == "reseller":
            assert actor.reseller is not None
            if actor.reseller.restrictions.get("Subadmin.CanCreateSubadmin") != "true":
                raise self.auth_fault("authentication failed")
            limit = _int(actor.reseller.restrictions.get("Subadmin.MaxSubadmin"))
            if limit is not None and len(self.resellers_of(actor)) >= limit:
                raise self.reseller_fault(f"Maximum number of subadmins reached: {limit}")
            parent = actor.reseller.id
        missing = [f for f in ("name", "password", "displayname") if not adm.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException", "Mandatory fields not set: " + ", ".join(missing)
            )
        if (
            any(r.name == adm["name"] for r in self.resellers.values())
            or adm["name"] == self.master[0]
        ):
            raise self.fault("InvalidDataException", f"Reseller admin {adm['name']} already exists")
        reseller = MockReseller(
            id=self.next_reseller_id,
            name=str(adm["name"]),
            password=str(adm["password"]),
            display_name=str(adm["displayname"]),
            parent_id=parent,
        )
        self._set_reseller_restrictions(reseller, adm.get("restrictions") or [])
        self.next_reseller_id += 1
        self.resellers[reseller.id] = reseller
        return reseller

    def change_reseller(self, actor: Actor, adm: Ref) -> None:
        """``OXResellerService.change``: display name, password, restrictions (replaced)."""
        reseller = self.reseller(actor, adm)
        if actor.kind == "reseller" and reseller is actor.reseller and adm.get("restrictions"):
            raise self.auth_fault("authentication failed")  # nobody raises his own limits
        if adm.get("displayname"):
            reseller.display_name = str(adm["displayname"])
        if adm.get("password"):
            reseller.password = str(adm["password"])
        if adm.get("restrictions") is not None:
            reseller.restrictions = {}
            self._set_reseller_restrictions(reseller, adm["restrictions"])

    def _set_reseller_restrictions(self, reseller: MockReseller, items: Iterable[Ref]) -> None:
        for item in items:
            name = str(item.get("name") or "")
            self._check_restriction_name(name, context_level=False)
            if name.startswith("Context."):
                raise self.fault("InvalidDataException", f"{name} is a context restriction")
            reseller.restrictions[name] = str(item.get("value") or "")

    def delete_reseller(self, actor: Actor, adm: Ref) -> None:
        """``OXResellerService.delete``; refused while the sub-admin owns contexts."""
        reseller = self.reseller(actor, adm)
        if any(c.owner == reseller.id for c in self.contexts.values()):
            raise self.reseller_fault(f"Unable to delete {reseller.name}, still owns Context(s)")
        del self.resellers[reseller.id]

    # -- snapshot / seed ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data; :meth:`load_seed` takes the same shape."""
        return {
            **super().snapshot(),
            "master": {
                "login": self.master[0],
                "password": self.master[1],
                "allow_master_override": self.allow_master_override,
            },
            "access_combinations": {n: sorted(t) for n, t in self.combinations.items()},
            "resellers": [_reseller_data(r) for r in self.resellers.values()],
            "contexts": [self._context_data(c) for c in self.contexts.values()],
        }

    def _context_data(self, context: MockContext) -> dict[str, Any]:
        owner = self.resellers.get(context.owner or 0)
        return {
            "id": context.id,
            "name": context.name,
            "maxQuota": context.max_quota,
            "usedQuota": context.used_quota,
            "enabled": context.enabled,
            "loginMappings": list(context.login_mappings),
            "userAttributes": context.attributes,
            "restrictions": dict(context.restrictions),
            "owner": owner.name if owner else None,
            "users": [self._user_data(u) for u in context.users.values()],
            "resources": [
                {
                    "id": r.id,
                    "name": r.name,
                    "displayname": r.display_name,
                    "email": r.email,
                    "description": r.description,
                    "available": r.available,
                }
                for r in context.resources.values()
            ],
            "accounts": [
                {
                    "primaryAddress": a.primary_address,
                    "name": a.name,
                    "login": a.login,
                    "personal": a.personal,
                    "users": a.users,
                    "groups": a.groups,
                }
                for a in context.accounts.values()
            ],
            "groups": [
                {"id": g.id, "name": g.name, "displayname": g.display_name, "members": g.members}
                for g in context.groups.values()
            ],
        }

    def _user_data(self, user: MockUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.name,
            "password": user.password,
            "contextadmin": user.context_admin,
            "access_combination": self.combination_of(user.access),
            "access": sorted(user.access),
            "maxQuota": user.max_quota,
            "usedQuota": user.used_quota,
            "aliases": list(user.aliases),
            "userAttributes": user.attributes,
            **user.fields,
        }

    def load_seed(self, data: Mapping[str, Any]) -> None:
        """Apply a seed: ``master``, ``access_combinations`` (replace the table),
        ``resellers`` (upsert by name) and ``contexts`` (each replaces the context of its
        id; a context without a context admin gets ``oxadmin``/``secret``)."""
        unknown = set(data) - {
            "master",
            "access_combinations",
            "resellers",
            "contexts",
            "operations",
        }
        if unknown:
            raise SeedError(f"unknown seed keys: {', '.join(sorted(unknown))}")
        try:
            self._load(data)
        except SeedError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SeedError(f"the OX seed is malformed: {exc!r}") from None
        except OXFault as fault:
            raise SeedError(f"the OX seed is inconsistent: {fault.message}") from None

    def _load(self, data: Mapping[str, Any]) -> None:
        master = data.get("master")
        if master:
            self.master = (
                str(master.get("login", self.master[0])),
                str(master.get("password", self.master[1])),
            )
            self.allow_master_override = bool(master.get("allow_master_override", True))
        if "access_combinations" in data:
            self.combinations = {
                str(n): frozenset(str(t) for t in tokens)
                for n, tokens in data["access_combinations"].items()
            }
        for item in data.get("resellers") or []:
            self._load_reseller(item)
        for item in data.get("contexts") or []:
            self._load_context(item)

    def _load_reseller(self, item: Mapping[str, Any]) -> None:
        name = str(item["name"])
        existing = next((r for r in self.resellers.values() if r.name == name), None)
        reseller_id = existing.id if existing else int(item.get("id") or self.next_reseller_id)
        parent = item.get("parent") or item.get("parentId") or 0
        if isinstance(parent, str):
            parent = next(r.id for r in self.resellers.values() if r.name == parent)
        self.resellers[reseller_id] = MockReseller(
            id=reseller_id,
            name=name,
            password=str(item.get("password", "secret")),
            display_name=str(item.get("displayname", name)),
            parent_id=int(parent),
            restrictions={str(k): str(v) for k, v in (item.get("restrictions") or {}).items()},
        )
        self.next_reseller_id = max(self.next_reseller_id, reseller_id + 1)

    def _load_context(self, item: Mapping[str, Any]) -> None:
        context_id = int(item["id"])
        owner_name = item.get("owner")
        owner = None
        if owner_name:
            owner = next((r.id for r in self.resellers.values() if r.name == owner_name), None)
            if owner is None:
                raise SeedError(f"context {context_id}: unknown owner {owner_name!r}")
        users = list(item.get("users") or [])
        admin = next((u for u in users if u.get("contextadmin")), None)
        context = self._add_context(
            context_id,
            str(item.get("name") or context_id),
            max_quota=int(item.get("maxQuota", -1)),
            owner=owner,
            admin=_plain_fields(admin) if admin else None,
        )
        context.used_quota = int(item.get("usedQuota", 0))
        context.enabled = bool(item.get("enabled", True))
        context.login_mappings = list(item.get("loginMappings") or [])
        context.attributes = _attribute_map(item.get("userAttributes") or {})
        context.restrictions = {str(k): str(v) for k, v in (item.get("restrictions") or {}).items()}
        if admin is not None:
            self._load_access(context.users[2], admin, context_admin=True)
        for entry in users:
            if entry is admin:
                continue
            self._load_user(context, entry)
        for entry in item.get("groups") or []:
            if int(entry["id"]) == 1:
                continue
            group = MockGroup(
                int(entry["id"]),
                str(entry["name"]),
                str(entry.get("displayname", entry["name"])),
                [int(m) for m in entry.get("members") or []],
            )
            context.groups[group.id] = group
            context.next_id = max(context.next_id, group.id + 1)
        for entry in item.get("resources") or []:
            resource = MockResource(
                id=int(entry.get("id") or context.next_resource_id),
                name=str(entry["name"]),
                display_name=str(entry.get("displayname", entry["name"])),
                email=str(entry["email"]),
                description=str(entry.get("description", "")),
                available=bool(entry.get("available", True)),
            )
            context.resources[resource.id] = resource
            context.next_resource_id = max(context.next_resource_id, resource.id + 1)
        for entry in item.get("accounts") or []:
            account = MockAccount(
                primary_address=str(entry["primaryAddress"]),
                name=str(entry.get("name", entry["primaryAddress"])),
                login=str(entry.get("login", entry["primaryAddress"])),
                personal=str(entry.get("personal", "")),
                users=[int(u) for u in entry.get("users") or []],
                groups=[int(g) for g in entry.get("groups") or [0]],
            )
            context.accounts[account.primary_address.lower()] = account

    def _load_user(self, context: MockContext, entry: Mapping[str, Any]) -> None:
        user_id = int(entry.get("id") or context.next_id)
        name = str(entry["name"])
        domain = context.name if "." in context.name else "example.com"
        user = MockUser(
            id=user_id, name=name, password=str(entry.get("password", "secret")), access=frozenset()
        )
        self._load_access(user, entry, context_admin=False)
        defaults = {
            "display_name": name,
            "given_name": name,
            "sur_name": name,
            "primaryEmail": f"{name}@{domain}" if "@" not in name else name,
        }
        defaults["email1"] = defaults["primaryEmail"]
        self._apply_user_data(context, user, {**defaults, **_plain_fields(entry)})
        context.users[user_id] = user
        context.groups[1].members.append(user_id)
        context.next_id = max(context.next_id, user_id + 1)

    def _load_access(
        self, user: MockUser, entry: Mapping[str, Any], *, context_admin: bool
    ) -> None:
        if entry.get("access") is not None:
            tokens = frozenset(str(t) for t in entry["access"])
        else:
            tokens = self.combination(str(entry.get("access_combination") or "all"))
        user.access = self.effective(tokens, context_admin=context_admin)
        if entry.get("usedQuota") is not None:
            user.used_quota = int(entry["usedQuota"])
        if entry.get("maxQuota") is not None:
            user.max_quota = int(entry["maxQuota"])


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _merge_attributes(
    target: AttributeMap, changes: Mapping[str, Mapping[str, str | None]]
) -> None:
    # OX removes an attribute sent without a value.
    for namespace, values in changes.items():
        bucket = target.setdefault(namespace, {})
        for key, value in values.items():
            if value is None:
                bucket.pop(key, None)
            else:
                bucket[key] = str(value)
        if not bucket:
            del target[namespace]


def _attribute_map(raw: Mapping[str, Mapping[str, Any]]) -> AttributeMap:
    return {str(ns): {str(k): str(v) for k, v in values.items()} for ns, values in raw.items()}


def _apply_fields(user: MockUser, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key == "maxQuota":
            user.max_quota = int(value)
        elif key == "userAttributes":
            user.attributes = _attribute_map(value)
        elif key == "aliases":
            user.aliases = [str(a) for a in value]
        elif key not in ("contextadmin", "usedQuota", "access", "access_combination"):
            user.fields[key] = value


# Seed keys that are not User fields.
_NOT_FIELDS = ("contextadmin", "access", "access_combination", "usedQuota")


def _plain_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in entry.items() if k not in _NOT_FIELDS}
    if "userAttributes" in plain:
        plain["userAttributes"] = _attribute_map(plain["userAttributes"])
    return plain


def _reseller_data(reseller: MockReseller) -> dict[str, Any]:
    return {
        "id": reseller.id,
        "name": reseller.name,
        "password": reseller.password,
        "displayname": reseller.display_name,
        "parentId": reseller.parent_id,
        "restrictions": dict(reseller.restrictions),
    }
