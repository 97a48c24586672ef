"""mailcow's wire format: read a request, call the state, answer as ``json_api.php`` does.

Writes answer HTTP 200 with a list of ``{"type": "success"|"danger", "log": [...], "msg":
...}`` entries, refusals included; authentication and method errors are
``{"type": "error", "msg": "..."}`` with 401/403/405 (reference sections 2-4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from mailadmin.mock import MockRequest, Reply

from mailadmin_mailcow.mock.state import MailcowRefused, MailcowState

__all__ = ["error"]

_KEY_CHARS = re.compile(r"[^A-Za-z0-9-]")


def error(status: int, msg: str) -> httpx.Response:
    """An ``{"type": "error"}`` answer (authentication, method, route)."""
    return httpx.Response(status, json={"type": "error", "msg": msg})


def _access(request: MockRequest, state: MailcowState, *, write: bool) -> None:
    """The API key checks of ``sessions.inc.php`` and ``json_api.php``."""
    key = _KEY_CHARS.sub("", request.headers.get("x-api-key", ""))
    if not key:
        # No key: a read answers an empty 200, a write is refused.
        raise Reply(error(403, "API read/write access denied") if write else httpx.Response(200))
    if key in state.data.rw_keys:
        return
    if key in state.data.ro_keys:
        if write:
            raise Reply(error(403, "API read/write access denied"))
        return
    raise Reply(error(401, "authentication failed"))


def _body(request: MockRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise Reply(error(400, "Request body doesn't contain valid json!")) from None


def _log(action: str, kind: str, data: Any) -> list[Any]:
    if isinstance(data, dict):
        data = {k: ("*" if k in ("password", "password2") else v) for k, v in data.items()}
    return ["mailbox", action, kind, data, None]


def _entry(kind: str, log: list[Any], msg: Any) -> dict[str, Any]:
    return {"type": kind, "log": log, "msg": msg}


def _write(request: MockRequest, state: MailcowState, action: str, kind: str) -> Any:
    _access(request, state, write=True)
    body = _body(request)
    if body is None:
        raise Reply(error(400, "Request body doesn't contain valid json!"))
    return body


def _items(body: Any) -> list[Any]:
    items = body.get("items", []) if isinstance(body, dict) else body
    return items if isinstance(items, list) else [items]


def _each(items: list[Any], log: list[Any], work: Callable[[Any], list[Any]]) -> httpx.Response:
    if not items:
        return httpx.Response(200, json={"type": "success", "msg": "Task completed"})
    entries = []
    for item in items:
        try:
            entries.append(_entry("success", log, work(item)))
        except MailcowRefused as refused:
            entries.append(_entry("danger", log, refused.msg))
    return httpx.Response(200, json=entries)


# -- reads -------------------------------------------------------------------------------


def version(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/status/version"""
    _access(request, state, write=False)
    return httpx.Response(200, json={"version": state.data.version})


def get_domain(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/domain/{name}: one object, or ``{}``."""
    _access(request, state, write=False)
    return httpx.Response(200, json=state.domain_view(request.path_params["name"]) or {})


def all_domains(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/domain/all: an array, or ``{}`` when there is none."""
    _access(request, state, write=False)
    views = [state.domain_view(name) for name in state.data.domains]
    return httpx.Response(200, json=views or {})


def mailboxes_of(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/mailbox/all/{domains}: an array, or ``{}``."""
    _access(request, state, write=False)
    domains = [d for d in request.path_params["domains"].split(",") if d]
    return httpx.Response(200, json=state.mailboxes_of(domains) or {})


def all_mailboxes(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/mailbox/all"""
    _access(request, state, write=False)
    return httpx.Response(200, json=state.mailboxes_of([]) or {})


def get_mailbox(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/mailbox/{username}: one object, or ``{}``."""
    _access(request, state, write=False)
    return httpx.Response(200, json=state.mailbox_view(request.path_params["username"]) or {})


# -- writes ------------------------------------------------------------------------------


def add_mailbox(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/add/mailbox with the attributes as the whole body."""
    attr = _write(request, state, "add", "mailbox")
    if not isinstance(attr, dict):
        return httpx.Response(
            200, json=[_entry("danger", _log("add", "mailbox", attr), "access_denied")]
        )
    log = _log("add", "mailbox", attr)
    try:
        username = state.add_mailbox(attr)
    except MailcowRefused as refused:
        return httpx.Response(200, json=[_entry("danger", log, refused.msg)])
    rate = ["ratelimit", "edit", "mailbox", {"object": username, "rl_frame": "s", "rl_value": ""}]
    return httpx.Response(
        200,
        json=[
            _entry("success", rate, ["rl_saved", username]),
            _entry("success", log, ["mailbox_added", username]),
        ],
    )


def edit_mailbox(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/edit/mailbox ``{"items": [...], "attr": {...}}``"""
    body = _write(request, state, "edit", "mailbox")
    attr = body.get("attr", {}) if isinstance(body, dict) else {}
    log = _log("edit", "mailbox", {"username": _items(body), **attr})

    def one(item: Any) -> list[Any]:
        state.edit_mailbox(item, attr if isinstance(attr, dict) else {})
        return ["mailbox_modified", str(item).lower()]

    return _each(_items(body), log, one)


def delete_mailbox(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/delete/mailbox with the list of addresses as the body."""
    body = _write(request, state, "delete", "mailbox")
    items = _items(body)
    log = _log("delete", "mailbox", {"username": items})
    return _each(items, log, lambda item: ["mailbox_removed", state.delete_mailbox(item)])


def add_domain(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/add/domain with the attributes as the whole body."""
    attr = _write(request, state, "add", "domain")
    if not isinstance(attr, dict):
        return httpx.Response(
            200, json=[_entry("danger", _log("add", "domain", attr), "access_denied")]
        )
    log = _log("add", "domain", attr)
    try:
        name = state.add_domain(attr)
    except MailcowRefused as refused:
        return httpx.Response(200, json=[_entry("danger", log, refused.msg)])
    return httpx.Response(200, json=[_entry("success", log, ["domain_added", name])])


def delete_domain(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/delete/domain with the list of domain names as the body."""
    body = _write(request, state, "delete", "domain")
    items = _items(body)
    log = _log("delete", "domain", {"domain": items})
    return _each(items, log, lambda item: ["domain_removed", state.delete_domain(item)])


def edit_domain(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/edit/domain ``{"items": [...], "attr": {...}}``"""
    body = _write(request, state, "edit", "domain")
    attr = body.get("attr", {}) if isinstance(body, dict) else {}
    log = _log("edit", "domain", {"domain": _items(body), **attr})

    def one(item: Any) -> list[Any]:
        return ["domain_modified", state.edit_domain(item, attr if isinstance(attr, dict) else {})]

    return _each(_items(body), log, one)


def all_aliases(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/get/alias/all: an array, or ``{}`` when there is none."""
    _access(request, state, write=False)
    return httpx.Response(200, json=state.alias_views() or {})


def add_alias(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/add/alias ``{"address", "goto", "active"}``"""
    body = _write(request, state, "add", "alias")
    attr = body if isinstance(body, dict) else {}
    log = _log("add", "alias", attr)
    return _each([attr], log, lambda item: ["alias_added", state.add_alias(item)])


def delete_alias(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/delete/alias with the list of alias ids as the body."""
    body = _write(request, state, "delete", "alias")
    items = _items(body)
    log = _log("delete", "alias", {"id": items})
    return _each(items, log, lambda item: ["alias_removed", state.delete_alias(item)])
