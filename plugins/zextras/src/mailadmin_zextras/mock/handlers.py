"""Handlers of the Zextras mock: read a request (either form), call the state, answer.

Each ``_name(body, state)`` receives the request's body element and returns the response
element; :func:`soap` wraps it into a route handler that reads the request, checks the
admin token (every request but ``AuthRequest``), turns a :class:`ZimbraFault` into the
server's fault (HTTP 500) and answers in the form of the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from mailadmin.mock import MalformedRequest, MockRequest
from mailadmin_zextras.mock.model import DEFAULT_COS_ID, Account, Entry
from mailadmin_zextras.mock.schema import BY, REQUESTS, parse_bool, parse_long
from mailadmin_zextras.mock.state import (
    ZextrasState,
    ZimbraFault,
    invalid_request,
    no_such_account,
)
from mailadmin_zextras.mock.wire import (
    ADMIN_NS,
    ZIMBRA_NS,
    In,
    Out,
    Parsed,
    entry,
    fault_element,
    fault_response,
    read_request,
    response,
    truthy,
)

__all__ = ["HANDLERS", "WRITES", "batch", "soap"]

Body = Callable[[In, ZextrasState], Out]
#: The host name the mock reports as its mailbox server (``targetServers``, version info).
SERVER_NAME = "mail.example.com"
_SOAP_PREFIX = "admin/soap"


def _serve(
    request: MockRequest,
    state: ZextrasState,
    answer: Callable[[Parsed], httpx.Response],
    *,
    auth: bool = True,
) -> httpx.Response:
    path = request.path_params.get("path", "").strip("/")
    if path != _SOAP_PREFIX and not path.startswith(_SOAP_PREFIX + "/"):
        # The trailing segment after /service/admin/soap/ is free; other services are not.
        return httpx.Response(404, text="HTTP ERROR 404 Not Found")
    parsed = read_request(request)
    try:
        if auth:
            state.check_token(parsed.auth_token(request))
        return answer(parsed)
    except ZimbraFault as fault:
        return fault_answer(parsed, fault)


def soap(handler: Body, *, auth: bool = True) -> Callable[[MockRequest, ZextrasState], Any]:
    """A route handler around ``handler`` (see the module docstring)."""

    def route(request: MockRequest, state: ZextrasState) -> httpx.Response:
        return _serve(
            request,
            state,
            lambda parsed: response(parsed, handler(checked(parsed.body, state), state)),
            auth=auth,
        )

    return route


def batch(request: MockRequest, state: ZextrasState) -> httpx.Response:
    """The route handler of ``BatchRequest``."""
    return _serve(
        request, state, lambda parsed: response(parsed, _run_batch(parsed, state), ns=ZIMBRA_NS)
    )


def checked(body: In, state: ZextrasState) -> In:
    """``body`` after the server's reading of it (see :mod:`.schema`): typed values parsed
    (``service.INVALID_REQUEST`` with the server's text when they do not parse), what the
    server would not read recorded as ignored."""
    shape = REQUESTS.get(body.name)
    if shape is None:  # free-form (the zextras request)
        return body
    for pair in body.all("a"):
        if "a" in shape.elements and "n" not in pair.attrs:
            # Element.listKeyValuePairs reads each <a>'s n with getAttribute.
            raise invalid_request("missing required attribute: n")
    names = [*body.attrs, *(c.name for c in body.children)]
    for name in dict.fromkeys(names):
        if not shape.known(name):
            state.ignored.append(f"{body.name}/{name}")
            continue
        kind = shape.params.get(name)
        value = body.get(name)
        if value is None or kind not in ("bool", "long"):
            continue
        try:
            parse_bool(name, value) if kind == "bool" else parse_long(name, value)
        except ValueError as exc:
            raise invalid_request(str(exc)) from None
    return body


def is_admin_request(item: In, inherited: str | None = None) -> bool:
    """Whether the server has a handler for ``item``: a known name in ``urn:zimbraAdmin``
    (a JSON element without ``_jsns`` takes its parent's namespace)."""
    return item.name in HANDLERS and (item.ns or inherited) == ADMIN_NS


def _run_batch(parsed: Parsed, state: ZextrasState) -> Out:
    """``BatchRequest`` (``urn:zimbra``): each request answered in order, tagged with its
    ``requestId``; a fault stops the batch only with ``onerror="stop"``."""
    out = Out("BatchResponse")
    stop = (parsed.body.get("onerror") or "continue").lower() == "stop"
    for item in parsed.body.children:
        handler = HANDLERS.get(item.name)
        try:
            if handler is None or not is_admin_request(item, parsed.body.ns):
                raise ZimbraFault("service.UNKNOWN_DOCUMENT", f"unknown document: {item.name}")
            answer = handler(checked(item, state), state)
            answer.many, answer.ns = True, ADMIN_NS
            failed = False
        except ZimbraFault as fault:
            answer = fault_element(
                fault.code, fault.message, receiver=fault.receiver, parsed=parsed
            )
            failed = True
        if "requestId" in item.attrs:
            answer.attrs["requestId"] = item.attrs["requestId"]
        out.add(answer)
        if failed and stop:
            break
    return out


def fault_answer(
    parsed: Parsed | None, fault: ZimbraFault, *, as_json: bool = True
) -> httpx.Response:
    """``fault`` in the request's form (JSON when the request could not be read)."""
    if parsed is None:
        return fault_response(
            fault.code, fault.message, receiver=fault.receiver, answer_json=as_json
        )
    return fault_response(
        fault.code,
        fault.message,
        receiver=fault.receiver,
        answer_json=parsed.answer_json,
        version=parsed.version,
    )


def _require(body: In, key: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise invalid_request(f"missing required attribute: {key}")
    return value


def _by(body: In, name: str) -> tuple[str, str]:
    # <account by="name">x</account>, {"account": {"by": "name", "_content": "x"}}
    selector = body.child(name)
    if selector is None:
        raise invalid_request(f"missing required element: {name}")
    by = selector.attrs.get("by")
    if by is None:
        raise invalid_request("missing required attribute: by")
    if by not in BY.get(name, {by}):
        raise invalid_request(f"unknown key: {by}")
    return by, (selector.text or "").strip()


def _flag(body: In, key: str, default: bool) -> bool:
    raw = body.get(key)
    return default if raw is None else parse_bool(key, raw)


def _wanted(body: In) -> set[str] | None:
    raw = body.get("attrs")
    if not raw:
        return None
    return {a.strip().lower() for a in raw.split(",") if a.strip()}


def _account_out(
    state: ZextrasState, account: Account, body: In, *, element: str | None = None
) -> Out:
    apply_cos = _flag(body, "applyCos", True)
    attrs = state.effective_attrs(account) if apply_cos else _plain(account)
    attrs.setdefault("zimbraId", [account.id])
    attrs.setdefault("mail", [account.name])
    attrs.setdefault("uid", [account.name.partition("@")[0]])
    wanted = _wanted(body)
    if wanted is not None:
        attrs = {k: v for k, v in attrs.items() if k.lower() in wanted}
    kind = element or ("calresource" if account.calresource else "account")
    return entry(kind, account.name, account.id, attrs)


def _plain(item: Entry) -> dict[str, list[str]]:
    return {k: list(v) if isinstance(v, list) else [v] for k, v in item.attrs.items()}


def _cos_out(item: Entry, body: In | None = None) -> Out:
    out = entry("cos", item.name, item.id, {"cn": [item.name], **_plain(item)})
    if item.id == DEFAULT_COS_ID:
        out.attrs["isDefaultCos"] = True
    wanted = _wanted(body) if body is not None else None
    if wanted is not None:
        out.children = [c for c in out.children if str(c.attrs.get("n", "")).lower() in wanted]
    return out


def _domain_out(item: Entry) -> Out:
    return entry("domain", item.name, item.id, {"zimbraDomainName": [item.name], **_plain(item)})


def _account(body: In, state: ZextrasState, *, calresource: bool = False) -> Account:
    by, key = _by(body, "calresource" if calresource else "account")
    flag = True if calresource else None
    if by == "id":
        return state.account_by_id(key, calresource=flag)
    if by != "name":
        # The other keys (adminName, foreignPrincipal...) are valid; the mock holds none.
        raise no_such_account(key)
    return state.account_by_name(key, calresource=flag)


# -- handlers ------------------------------------------------------------------------------


def _auth(body: In, state: ZextrasState) -> Out:
    name = body.get("name")
    if not name:
        selector = body.child("account")
        name = (selector.text or "").strip() if selector is not None else None
    if not name:
        raise invalid_request("missing required attribute: name")
    token, lifetime = state.authenticate(name, body.get("password") or "")
    out = Out("AuthResponse")
    out.add(Out("authToken", text=token, many=True))
    out.add(Out("lifetime", scalar=True, value=lifetime))
    return out


def _version(body: In, state: ZextrasState) -> Out:
    release = state.data.version
    major, minor, micro = ([*release.split("_")[0].split("."), "0", "0"])[:3]
    info = {
        "type": "NETWORK",
        "version": release,
        "release": "20261201000000",
        "buildDate": "20261201-0000",
        "host": SERVER_NAME,
        "platform": "UBUNTU22_64",
        "majorversion": major,
        "minorversion": minor,
        "microversion": micro,
    }
    out = Out("GetVersionInfoResponse")
    out.add(Out("info", dict(info)))
    return out


def _get_account(body: In, state: ZextrasState) -> Out:
    out = Out("GetAccountResponse")
    # A calendar resource is an account too; GetAccount writes it as one.
    out.add(_account_out(state, _account(body, state), body, element="account"))
    return out


def _create_account(body: In, state: ZextrasState) -> Out:
    account = state.create_account(_require(body, "name"), body.get("password"), body.attr_list())
    out = Out("CreateAccountResponse")
    out.add(_account_out(state, account, In("CreateAccountRequest")))
    return out


def _modify_account(body: In, state: ZextrasState) -> Out:
    account = state.modify_account(_require(body, "id"), body.attr_list())
    out = Out("ModifyAccountResponse")
    out.add(_account_out(state, account, In("ModifyAccountRequest")))
    return out


def _set_password(body: In, state: ZextrasState) -> Out:
    state.set_password(_require(body, "id"), body.get("newPassword") or "")
    return Out("SetPasswordResponse")


def _add_alias(body: In, state: ZextrasState) -> Out:
    state.add_alias(_require(body, "id"), _require(body, "alias"))
    return Out("AddAccountAliasResponse")


def _remove_alias(body: In, state: ZextrasState) -> Out:
    state.remove_alias(_require(body, "id"), _require(body, "alias"))
    return Out("RemoveAccountAliasResponse")


def _delete_account(body: In, state: ZextrasState) -> Out:
    state.delete_account(_require(body, "id"))
    return Out("DeleteAccountResponse")


def _get_resource(body: In, state: ZextrasState) -> Out:
    out = Out("GetCalendarResourceResponse")
    out.add(_account_out(state, _account(body, state, calresource=True), body))
    return out


def _create_resource(body: In, state: ZextrasState) -> Out:
    resource = state.create_account(
        _require(body, "name"), body.get("password"), body.attr_list(), calresource=True
    )
    out = Out("CreateCalendarResourceResponse")
    out.add(_account_out(state, resource, In("CreateCalendarResourceRequest")))
    return out


def _modify_resource(body: In, state: ZextrasState) -> Out:
    resource = state.modify_account(_require(body, "id"), body.attr_list(), calresource=True)
    out = Out("ModifyCalendarResourceResponse")
    out.add(_account_out(state, resource, In("ModifyCalendarResourceRequest")))
    return out


def _delete_resource(body: In, state: ZextrasState) -> Out:
    state.delete_account(_require(body, "id"), calresource=True)
    return Out("DeleteCalendarResourceResponse")


def _get_all_cos(body: In, state: ZextrasState) -> Out:
    out = Out("GetAllCosResponse")
    for item in sorted(state.data.coses, key=lambda c: c.name):
        out.add(_cos_out(item))
    return out


def _get_cos(body: In, state: ZextrasState) -> Out:
    by, key = _by(body, "cos")
    out = Out("GetCosResponse")
    out.add(_cos_out(state.cos_by(by, key), body))
    return out


def _get_domain(body: In, state: ZextrasState) -> Out:
    by, key = _by(body, "domain")
    out = Out("GetDomainResponse")
    out.add(_domain_out(state.domain_by(by, key)))
    return out


def _create_domain(body: In, state: ZextrasState) -> Out:
    domain = state.create_domain(_require(body, "name"), body.attr_list())
    out = Out("CreateDomainResponse")
    out.add(_domain_out(domain))
    return out


def _delete_domain(body: In, state: ZextrasState) -> Out:
    state.delete_domain(_require(body, "id"))
    return Out("DeleteDomainResponse")


def _modify_domain(body: In, state: ZextrasState) -> Out:
    domain = state.modify_domain(_require(body, "id"), body.attr_list())
    out = Out("ModifyDomainResponse")
    out.add(_domain_out(domain))
    return out


def _count_account(body: In, state: ZextrasState) -> Out:
    by, key = _by(body, "domain")
    out = Out("CountAccountResponse")
    for cos, count in state.count_account(state.domain_by(by, key)):
        # The count is element text, so it stays a string in JSON too (CountAccount.toXML).
        out.add(Out("cos", {"id": cos.id, "name": cos.name}, text=str(count), many=True))
    return out


def _number(body: In, key: str, default: int) -> int:
    raw = body.get(key)
    if raw is None:
        return default
    try:
        return parse_long(key, raw)
    except ValueError as exc:
        raise invalid_request(str(exc)) from None


def _search(body: In, state: ZextrasState) -> Out:
    found = state.search(
        body.get("query") or "",
        types=body.get("types") or "accounts",
        domain=body.get("domain") or None,
        offset=_number(body, "offset", 0),
        limit=_number(body, "limit", 0),
        max_results=_number(body, "maxResults", state.data.max_search_results),
        count_only=_flag(body, "countOnly", False),
    )
    out = Out("SearchDirectoryResponse")
    if _flag(body, "countOnly", False):
        out.attrs["num"] = found.total
        return out
    out.attrs.update(more=found.more, searchTotal=found.total)
    for item in found.entries:
        if isinstance(item, Account):
            out.add(_account_out(state, item, body))
        elif item in state.data.coses:
            out.add(_cos_out(item, body))
        else:
            out.add(_domain_out(item))
    return out


def _quota_usage(body: In, state: ZextrasState) -> Out:
    domain = body.get("domain")
    accounts = [
        a
        for a in state.data.accounts
        if not a.calresource
        and (a.first("zimbraIsSystemResource") or "").upper() != "TRUE"
        and (not domain or a.domain == state.domain_by("name", domain).name)
    ]
    offset, limit = _number(body, "offset", 0), _number(body, "limit", 0)
    page = accounts[offset : offset + limit] if limit else accounts[offset:]
    out = Out("GetQuotaUsageResponse", {"more": offset + len(page) < len(accounts)})
    out.attrs["searchTotal"] = len(accounts)
    for account in page:
        limit_bytes = state.effective_attrs(account).get("zimbraMailQuota", ["0"])[0]
        out.add(
            Out(
                "account",
                {"name": account.name, "id": account.id, "used": 0, "limit": int(limit_bytes)},
                many=True,
            )
        )
    return out


def _zextras(body: In, state: ZextrasState) -> Out:
    module, action = body.get("module") or "", body.get("action") or ""
    if module != "ZxCore":
        content: dict[str, Any] = {"ok": False, "error": f"unknown module: {module}"}
    elif action == "getLicenseInfo":
        content = {"ok": True, "response": state.licence_info()}
    elif action == "getVersion":
        content = {"ok": True, "response": {"version": state.data.version}}
    elif action == "activate-license":
        try:
            message = state.activate_licence(
                body.get("token") or "", renewal=truthy(body.get("renewal"))
            )
        except ZimbraFault as fault:
            content = {"ok": False, "error": fault.message}
        else:
            content = {"ok": True, "message": message, "response": state.licence_info()}
    elif action == "doRemoveLicense":
        if truthy(body.get("iamsure")):
            content = {"ok": True, "message": state.remove_licence()}
        else:
            content = {"ok": False, "error": "set iamsure to true to remove the licence"}
    else:
        content = {"ok": False, "error": f"unknown action: {action}"}
    targets = [t.text or "" for t in body.all("targetServers")] or (
        [body.attrs["targetServers"]] if "targetServers" in body.attrs else []
    )
    if targets and content.get("ok"):
        # Asked per server, the answer is keyed by server name.
        content = {"ok": True, "response": {name: content for name in targets if name}}
    return Out("response", {"content": json.dumps(content)})


#: Request name -> handler (every one but AuthRequest needs a valid token).
HANDLERS: dict[str, Body] = {
    "AuthRequest": _auth,
    "GetVersionInfoRequest": _version,
    "GetAccountRequest": _get_account,
    "CreateAccountRequest": _create_account,
    "ModifyAccountRequest": _modify_account,
    "DeleteAccountRequest": _delete_account,
    "SetPasswordRequest": _set_password,
    "AddAccountAliasRequest": _add_alias,
    "RemoveAccountAliasRequest": _remove_alias,
    "GetCalendarResourceRequest": _get_resource,
    "CreateCalendarResourceRequest": _create_resource,
    "ModifyCalendarResourceRequest": _modify_resource,
    "DeleteCalendarResourceRequest": _delete_resource,
    "GetAllCosRequest": _get_all_cos,
    "GetCosRequest": _get_cos,
    "GetDomainRequest": _get_domain,
    "ModifyDomainRequest": _modify_domain,
    "CreateDomainRequest": _create_domain,
    "DeleteDomainRequest": _delete_domain,
    "CountAccountRequest": _count_account,
    "SearchDirectoryRequest": _search,
    "GetQuotaUsageRequest": _quota_usage,
    "zextras": _zextras,
}
#: Requests that change the state.
WRITES = frozenset(
    {
        "CreateAccountRequest",
        "ModifyAccountRequest",
        "DeleteAccountRequest",
        "SetPasswordRequest",
        "AddAccountAliasRequest",
        "RemoveAccountAliasRequest",
        "CreateCalendarResourceRequest",
        "ModifyCalendarResourceRequest",
        "DeleteCalendarResourceRequest",
        "ModifyDomainRequest",
        "CreateDomainRequest",
        "DeleteDomainRequest",
    }
)


def operation_of(request: MockRequest) -> str | None:
    """The request element's name, in either form (``None`` when unreadable); a known name
    in another namespace than its handler's is no operation of the server."""
    try:
        body = read_request(request).body
    except MalformedRequest:
        return None
    expected = ZIMBRA_NS if body.name == "BatchRequest" else ADMIN_NS
    if body.name in (*HANDLERS, "BatchRequest") and body.ns != expected:
        return f"{{{body.ns or ''}}}{body.name}"
    return body.name
