"""One function per (service, operation): decoded arguments in, result out.

Each handler authenticates the way OX does for that service, calls the state's rules and
returns plain data for :func:`mailadmin_ox.mock.codec.encode_response` (``None`` for void
operations). The registry :data:`HANDLERS` is keyed by ``(service, operation)``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from mailadmin_ox.combinations import flags_of, tokens_of
from mailadmin_ox.mock.model import (
    MockAccount,
    MockContext,
    MockGroup,
    MockReseller,
    MockResource,
    MockUser,
)
from mailadmin_ox.mock.state import Actor, OXState

__all__ = ["HANDLERS", "Handler"]

Args = dict[str, Any]
#: ``handler(state, args) -> result``.
Handler = Callable[[OXState, Args], Any]
HANDLERS: dict[tuple[str, str], Handler] = {}


def _handles(*keys: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        for key in keys:
            service, _, operation = key.partition(".")
            HANDLERS[(service, operation)] = func
        return func

    return register


_USER = ("OXUserService", "OXResellerUserService")


def _user_keys(operation: str) -> tuple[str, ...]:
    return tuple(f"{service}.{operation}" for service in _USER)


# -- data views -------------------------------------------------------------------------------


def _user_view(user: MockUser) -> dict[str, Any]:
    return {
        "mailenabled": True,  # what OX answers for a user never disabled
        **user.fields,
        "id": user.id,
        "name": user.name,
        "aliases": list(user.aliases),
        "maxQuota": user.max_quota,
        "usedQuota": user.used_quota,
        "userAttributes": user.attributes or None,
        "contextadmin": user.context_admin,
    }


def _context_view(
    state: OXState, context: MockContext, *, reseller: bool = False
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": context.id,
        "name": context.name,
        "enabled": context.enabled,
        "loginMappings": list(context.login_mappings),
        "maxQuota": context.max_quota,
        "usedQuota": context.used_quota,
        "userAttributes": context.attributes or None,
    }
    if reseller:
        owner = state.resellers.get(context.owner or 0)
        view["customid"] = context.customid or None
        view["owner"] = _reseller_view(owner) if owner else None
        view["sid"] = owner.id if owner else 0
        view["restriction"] = _restrictions(state, context.restrictions)
    return view


def _restrictions(state: OXState, values: dict[str, str]) -> list[dict[str, Any]]:
    ids = {name: number for number, name in enumerate(state.available_restrictions(), start=1)}
    return [{"id": ids.get(n), "name": n, "value": v} for n, v in sorted(values.items())]


def _reseller_view(reseller: MockReseller, state: OXState | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": reseller.id,
        "name": reseller.name,
        "displayname": reseller.display_name,
        "parentId": reseller.parent_id,
    }
    if state is not None:
        view["restrictions"] = _restrictions(state, reseller.restrictions)
    return view


def _resource_view(resource: MockResource) -> dict[str, Any]:
    return {
        "available": resource.available,
        "description": resource.description or None,
        "displayname": resource.display_name,
        "email": resource.email,
        "id": resource.id,
        "name": resource.name,
    }


def _account_view(account: MockAccount) -> dict[str, Any]:
    return {
        "name": account.name,
        "primaryAddress": account.primary_address,
        "personal": account.personal or None,
        "login": account.login,
        "mailEndpointSource": account.mail_endpoint_source,
        "users": account.users,
        "groups": account.groups,
    }


def _group_view(group: MockGroup) -> dict[str, Any]:
    return {
        "displayname": group.display_name,
        "id": group.id,
        "members": group.members,
        "name": group.name,
    }


# -- users ----------------------------------------------------------------------------------------


def _user_context(state: OXState, args: Args, *, allow_user: bool = False) -> MockContext:
    return state.authenticate_context(args.get("ctx"), args.get("auth"), allow_user=allow_user)[0]


def _owned_or_context(service: str) -> Callable[[OXState, Args], MockContext]:
    if service == "OXResellerUserService":
        return lambda state, args: state.authenticate_owned_context(
            args.get("ctx"), args.get("auth")
        )
    return _user_context


def _register_user_service(service: str) -> None:
    ctx_of = _owned_or_context(service)

    def create(state: OXState, args: Args) -> Any:
        return _user_view(state.create_user(ctx_of(state, args), args.get("usrdata") or {}))

    def create_by_access(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        held = {flag: on for flag, on in (args.get("access") or {}).items() if on}
        return _user_view(state.create_user(context, args.get("usrdata") or {}, tokens_of(held)))

    def create_by_name(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        tokens = state.combination(args.get("access_combination_name"))
        return _user_view(state.create_user(context, args.get("usrdata") or {}, tokens))

    def change(state: OXState, args: Args) -> Any:
        if service == "OXUserService":
            context, actor = state.authenticate_context(
                args.get("ctx"), args.get("auth"), allow_user=True
            )
        else:
            context, actor = ctx_of(state, args), Actor("reseller")
        state.change_user(context, actor, args.get("usrdata") or {})

    def change_by_access(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        user = state.user(context, args.get("user"))
        state.change_access_flags(context, user, args.get("moduleAccess") or {})

    def change_by_name(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        name = args.get("access_combination_name")
        if name is None or not str(name).strip():
            state.combination(None)  # OX checks this before looking the user up
        user = state.user(context, args.get("user"))
        state.change_access(context, user, state.combination(name))

    def delete(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        state.delete_user(context, state.user(context, args.get("user")))

    def delete_multiple(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        users = [state.user(context, ref, default_message=True) for ref in args.get("users") or []]
        for user in users:
            state.delete_user(context, user)

    def exists(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        ref = args.get("user") or {}
        if ref.get("id") is not None:
            return int(ref["id"]) in context.users
        return context.user_named(str(ref.get("name") or "")) is not None

    def get_combination(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        return state.combination_of(state.user(context, args.get("user")).access)

    def get_admin(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        return _user_view(context.users[context.admin_id])

    def get_data(state: OXState, args: Args) -> Any:
        if service == "OXUserService":
            context, actor = state.authenticate_context(
                args.get("ctx"), args.get("auth"), allow_user=True
            )
        else:
            context, actor = ctx_of(state, args), None
        user = state.user(context, args.get("user"))
        if actor is not None and actor.kind == "user" and actor.user is not user:
            raise state.auth_fault()
        return _user_view(user)

    def get_access(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        return flags_of(state.user(context, args.get("user")).access)

    def get_multiple(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        return [
            _user_view(state.user(context, ref, default_message=True))
            for ref in args.get("users") or []
        ]

    def list_users(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        users = state.list_users(
            context,
            str(args.get("search_pattern") or "*"),
            exclude_users=bool(args.get("exclude_users")),
        )
        return [{"id": u.id} for u in users]

    def list_all(state: OXState, args: Args) -> Any:
        context = ctx_of(state, args)
        return [
            {"id": u.id}
            for u in state.list_users(context, exclude_users=bool(args.get("exclude_users")))
        ]

    for operation, func in (
        ("create", create),
        ("createByModuleAccess", create_by_access),
        ("createByModuleAccessName", create_by_name),
        ("change", change),
        ("changeByModuleAccess", change_by_access),
        ("changeByModuleAccessName", change_by_name),
        ("delete", delete),
        ("deleteMultiple", delete_multiple),
        ("exists", exists),
        ("getAccessCombinationName", get_combination),
        ("getContextAdmin", get_admin),
        ("getData", get_data),
        ("getModuleAccess", get_access),
        ("getMultipleData", get_multiple),
        ("list", list_users),
        ("listAll", list_all),
    ):
        HANDLERS[(service, operation)] = func


for _service in _USER:
    _register_user_service(_service)


# -- contexts -------------------------------------------------------------------------------------


def _register_context_service(service: str) -> None:
    reseller = service == "OXResellerContextService"

    def actor_of(state: OXState, args: Args) -> Any:
        if reseller:
            return state.authenticate_reseller(args.get("auth"))
        return state.authenticate_master(args.get("auth"))

    def context_of(state: OXState, args: Args) -> MockContext:
        if reseller:
            return state.authenticate_owned_context(args.get("ctx"), args.get("auth"))
        state.authenticate_master(args.get("auth"))
        return state.context(args.get("ctx"))

    def view(state: OXState, context: MockContext) -> dict[str, Any]:
        return _context_view(state, context, reseller=reseller)

    def change(state: OXState, args: Args) -> Any:
        state.change_context(context_of(state, args), args.get("ctx") or {}, restrictions=reseller)

    def create(state: OXState, args: Args) -> Any:
        actor = actor_of(state, args)
        context = state.create_context(actor, args.get("ctx") or {}, args.get("admin_user"))
        return view(state, context)

    def create_by_name(state: OXState, args: Args) -> Any:
        actor = actor_of(state, args)
        context = state.create_context(
            actor,
            args.get("ctx") or {},
            args.get("admin_user"),
            combination=args.get("access_combination_name") or "",
        )
        return view(state, context)

    def delete(state: OXState, args: Args) -> Any:
        state.delete_context(context_of(state, args))

    def exists(state: OXState, args: Args) -> Any:
        actor = actor_of(state, args)
        ref = args.get("ctx") or {}
        return any(
            (ref.get("id") is not None and c.id == int(ref["id"])) or c.name == ref.get("name")
            for c in state.contexts_of(actor)
        )

    def admin_id(state: OXState, args: Args) -> Any:
        return context_of(state, args).admin_id

    def get_data(state: OXState, args: Args) -> Any:
        return view(state, context_of(state, args))

    def list_contexts(state: OXState, args: Args) -> Any:
        actor = actor_of(state, args)
        pattern = str(args.get("search_pattern") or "*").replace("%", "*")
        return [
            view(state, c)
            for c in state.contexts_of(actor)
            if fnmatch.fnmatchcase(c.name, pattern) or fnmatch.fnmatchcase(str(c.id), pattern)
        ]

    def list_all(state: OXState, args: Args) -> Any:
        return [view(state, c) for c in state.contexts_of(actor_of(state, args))]

    def disable(state: OXState, args: Args) -> Any:
        # Every user of a disabled context is refused at login; nothing is deleted.
        context_of(state, args).enabled = False

    def enable(state: OXState, args: Args) -> Any:
        context_of(state, args).enabled = True

    for operation, func in (
        ("change", change),
        ("disable", disable),
        ("enable", enable),
        ("create", create),
        ("createModuleAccessByName", create_by_name),
        ("delete", delete),
        ("exists", exists),
        ("getAdminId", admin_id),
        ("getData", get_data),
        ("list", list_contexts),
        ("listAll", list_all),
    ):
        HANDLERS[(service, operation)] = func


for _service in ("OXContextService", "OXResellerContextService"):
    _register_context_service(_service)


# -- resources, groups, functional accounts ------------------------------------------------------


@_handles("OXResourceService.create")
def _resource_create(state: OXState, args: Args) -> Any:
    return _resource_view(state.create_resource(_user_context(state, args), args.get("res") or {}))


@_handles("OXResourceService.change")
def _resource_change(state: OXState, args: Args) -> Any:
    state.change_resource(_user_context(state, args), args.get("res") or {})


@_handles("OXResourceService.delete")
def _resource_delete(state: OXState, args: Args) -> Any:
    context = _user_context(state, args)
    del context.resources[state.resource(context, args.get("res")).id]


@_handles("OXResourceService.getData")
def _resource_get(state: OXState, args: Args) -> Any:
    context = _user_context(state, args)
    return _resource_view(state.resource(context, args.get("res")))


@_handles("OXResourceService.getMultipleData")
def _resource_get_multiple(state: OXState, args: Args) -> Any:
    context = _user_context(state, args)
    return [_resource_view(state.resource(context, ref)) for ref in args.get("resources") or []]


@_handles("OXResourceService.list")
def _resource_list(state: OXState, args: Args) -> Any:
    context = _user_context(state, args)
    return [
        _resource_view(r) for r in state.list_resources(context, str(args.get("pattern") or "*"))
    ]


@_handles("OXResourceService.listAll")
def _resource_list_all(state: OXState, args: Args) -> Any:
    return [_resource_view(r) for r in state.list_resources(_user_context(state, args))]


@_handles("OXGroupService.create")
def _group_create(state: OXState, args: Args) -> Any:
    return _group_view(state.create_group(_user_context(state, args), args.get("grp") or {}))


@_handles("OXGroupService.delete")
def _group_delete(state: OXState, args: Args) -> Any:
    context = _user_context(state, args)
    state.delete_group(context, state.group(context, args.get("grp")))


@_handles("OXGroupService.getData")
def _group_get(state: OXState, args: Args) -> Any:
    context = _user_context(state, args)
    return _group_view(state.group(context, args.get("grp")))


@_handles("OXGroupService.getDefaultGroup")
def _group_default(state: OXState, args: Args) -> Any:
    return _group_view(_user_context(state, args).groups[1])


@_handles("OXGroupService.listAll")
def _group_list_all(state: OXState, args: Args) -> Any:
    return [_group_view(g) for g in _user_context(state, args).groups.values()]


def _account_context(state: OXState, args: Args) -> MockContext:
    return state.authenticate_context(args.get("context"), args.get("auth"))[0]


@_handles("OXSecondaryAccountService.create")
def _account_create(state: OXState, args: Args) -> Any:
    context = _account_context(state, args)
    state.create_account(
        context,
        args.get("accountDataOnCreate") or {},
        args.get("users") or [],
        args.get("groups") or [],
    )


@_handles("OXSecondaryAccountService.delete")
def _account_delete(state: OXState, args: Args) -> Any:
    state.delete_account(_account_context(state, args), args.get("primaryAddress"))


@_handles("OXSecondaryAccountService.list")
def _account_list(state: OXState, args: Args) -> Any:
    return [_account_view(a) for a in _account_context(state, args).accounts.values()]


# -- resellers ------------------------------------------------------------------------------------


@_handles("OXResellerService.create")
def _reseller_create(state: OXState, args: Args) -> Any:
    actor = state.authenticate_reseller(args.get("creds"))
    return _reseller_view(state.create_reseller(actor, args.get("adm") or {}), state)


@_handles("OXResellerService.change")
def _reseller_change(state: OXState, args: Args) -> Any:
    state.change_reseller(state.authenticate_reseller(args.get("creds")), args.get("adm") or {})


@_handles("OXResellerService.delete")
def _reseller_delete(state: OXState, args: Args) -> Any:
    state.delete_reseller(state.authenticate_reseller(args.get("creds")), args.get("adm") or {})


@_handles("OXResellerService.getData")
def _reseller_get(state: OXState, args: Args) -> Any:
    actor = state.authenticate_reseller(args.get("creds"))
    return _reseller_view(state.reseller(actor, args.get("adm")), state)


@_handles("OXResellerService.getMultipleData")
def _reseller_get_multiple(state: OXState, args: Args) -> Any:
    actor = state.authenticate_reseller(args.get("creds"))
    return [_reseller_view(state.reseller(actor, ref), state) for ref in args.get("admins") or []]


@_handles("OXResellerService.list")
def _reseller_list(state: OXState, args: Args) -> Any:
    actor = state.authenticate_reseller(args.get("creds"))
    pattern = str(args.get("search_pattern") or "*").replace("%", "*")
    return [
        _reseller_view(r, state)
        for r in state.resellers_of(actor)
        if fnmatch.fnmatchcase(r.name, pattern)
    ]


@_handles("OXResellerService.getAvailableRestrictions")
def _reseller_available(state: OXState, args: Args) -> Any:
    state.authenticate_reseller(args.get("creds"))
    return [{"id": i, "name": n} for i, n in enumerate(state.available_restrictions(), start=1)]


@_handles("OXResellerService.getRestrictionsFromContext")
def _reseller_context_restrictions(state: OXState, args: Args) -> Any:
    context = state.authenticate_owned_context(args.get("ctx"), args.get("creds"))
    return _restrictions(state, context.restrictions)
