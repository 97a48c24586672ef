"""The memory platform's wire format: read the JSON request, call the state, write JSON.

Every call needs HTTP Basic credentials of the admin. Errors answer
``{"error": {"code": "...", "message": "..."}}`` with these statuses: 400
``invalid_request``; 401 ``unauthorized``; 404 ``tenant_not_found``,
``mailbox_not_found``, ``operation_not_found``, ``unknown_operation``; 409
``mailbox_exists``, ``tenant_exists``, ``tenant_not_empty``, ``not_a_user_mailbox``,
``allocation_below_usage``; 422 ``allocation_exceeded``, ``unknown_plan``,
``unknown_allocation``, ``password_too_short``; 409 ``address_in_use``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

import httpx

from mailadmin.mock import AsyncOperation, MockRequest, Reply
from mailadmin.reference.mock.state import Mailbox, MemoryState, Refused, Status

__all__ = ["STATUS", "error"]

#: HTTP status of each error code.
STATUS: dict[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "tenant_not_found": 404,
    "mailbox_not_found": 404,
    "operation_not_found": 404,
    "unknown_operation": 404,
    "mailbox_exists": 409,
    "tenant_exists": 409,
    "tenant_not_empty": 409,
    "not_a_user_mailbox": 409,
    "allocation_below_usage": 409,
    "allocation_exceeded": 422,
    "unknown_plan": 422,
    "unknown_allocation": 422,
    "password_too_short": 422,
    "address_in_use": 409,
}

_Handler = Callable[[MockRequest, MemoryState], httpx.Response]


def error(code: str, message: str) -> httpx.Response:
    """An error answer in the platform's format."""
    headers = {"WWW-Authenticate": 'Basic realm="memory"'} if code == "unauthorized" else None
    return httpx.Response(
        STATUS.get(code, 400), headers=headers, json={"error": {"code": code, "message": message}}
    )


def _api(handler: _Handler) -> _Handler:
    """Check the credentials, then turn the state's refusals into error answers."""

    @wraps(handler)
    def checked(request: MockRequest, state: MemoryState) -> httpx.Response:
        credentials = request.basic_auth()
        if credentials is None or not state.authorised(*credentials):
            return error("unauthorized", "Wrong or missing credentials")
        try:
            return handler(request, state)
        except Refused as refused:
            return error(refused.code, refused.message)

    return checked


def _body(request: MockRequest) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise Reply(error("invalid_request", "The body must be a JSON object"))
    return body


def _mailbox(mailbox: Mailbox) -> dict[str, Any]:
    return mailbox.model_dump(mode="json", exclude={"password"})


def _operation(operation: AsyncOperation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "kind": operation.kind,
        "subject": operation.subject,
        "state": operation.state.value,
        "result": operation.result,
        "error": operation.error,
    }


@_api
def ping(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/ping``: platform name and version."""
    return httpx.Response(200, json={"platform": "memory", "version": state.version})


@_api
def list_plans(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/plans``: the plan catalogue."""
    return httpx.Response(200, json={"plans": [p.model_dump() for p in state.plans.values()]})


@_api
def get_licence(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/licence``: seats licensed and used, validity, state, use per plan."""
    licence = state.licence
    per_plan = {name: 0 for name in state.plans}
    for tenant in state.tenants.values():
        for mailbox in tenant.mailboxes:
            if mailbox.plan is not None:
                per_plan[mailbox.plan] = per_plan.get(mailbox.plan, 0) + 1
    return httpx.Response(
        200,
        json={
            "seats": {"licensed": licence.seats, "used": state.seats_used()},
            "state": licence.state,
            "valid_from": licence.valid_from.isoformat() if licence.valid_from else None,
            "valid_until": licence.valid_until.isoformat() if licence.valid_until else None,
            "maintenance_until": (
                licence.maintenance_until.isoformat() if licence.maintenance_until else None
            ),
            "plans": [{"name": name, "used": used} for name, used in per_plan.items()],
        },
    )


@_api
def list_tenants(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/tenants``: tenant names."""
    return httpx.Response(200, json={"tenants": sorted(state.tenants)})


@_api
def create_tenant(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``POST /api/tenants`` with ``{"name", "allocations"}``: 201 the tenant."""
    body = _body(request)
    name, allocations = body.get("name"), body.get("allocations") or {}
    if not isinstance(name, str) or not isinstance(allocations, dict):
        return error("invalid_request", "name (text) and allocations (an object) are needed")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in allocations.values()):
        return error("invalid_request", "Each allocation is a whole number")
    state.create_tenant(name, allocations)
    return httpx.Response(201, json={"name": name.strip().lower()})


@_api
def delete_tenant(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``DELETE /api/tenants/{tenant}``: 204; a tenant with mailboxes is refused (409)."""
    state.delete_tenant(request.path_params["tenant"])
    return httpx.Response(204)


@_api
def get_tenant(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/tenants/{tenant}``: allocations in force (absent: unlimited) and usage."""
    name = request.path_params["tenant"]
    return httpx.Response(
        200,
        json={
            "name": name.lower(),
            "allocations": state.allocations(name),
            "usage": state.usage(name),
            "status": state.tenant(name).status,
        },
    )


@_api
def list_mailboxes(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/tenants/{tenant}/mailboxes[?kind=&offset=]``: one page, and ``next``."""
    name = request.path_params["tenant"]
    mailboxes = state.tenant(name).mailboxes
    kind = request.query.get("kind")
    if kind:
        mailboxes = [m for m in mailboxes if m.kind == kind]
    offset_text = request.query.get("offset", "0")
    if not offset_text.isdigit():
        return error("invalid_request", "'offset' must be a whole number")
    offset = int(offset_text)
    page = mailboxes[offset : offset + state.page_size]
    following = offset + len(page)
    next_url = None
    if following < len(mailboxes):
        params = httpx.QueryParams({**({"kind": kind} if kind else {}), "offset": following})
        next_url = f"/api/tenants/{name.lower()}/mailboxes?{params}"
    return httpx.Response(
        200,
        json={"mailboxes": [_mailbox(m) for m in page], "total": len(mailboxes), "next": next_url},
    )


@_api
def create_mailbox(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``POST /api/tenants/{tenant}/mailboxes``: body is a mailbox; 201 with it."""
    body = _body(request)
    password = body.pop("password", None)
    if password is not None and not isinstance(password, str):
        return error("invalid_request", "'password' must be a string")
    try:
        # A password is taken from its own field only, never from a mailbox record.
        mailbox = Mailbox.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValueError as exc:
        return error("invalid_request", f"Invalid mailbox: {exc}")
    created = state.create_mailbox(request.path_params["tenant"], mailbox, password=password)
    return httpx.Response(201, json=_mailbox(created))


@_api
def get_mailbox(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/tenants/{tenant}/mailboxes/{address}``."""
    params = request.path_params
    return httpx.Response(200, json=_mailbox(state.mailbox(params["tenant"], params["address"])))


@_api
def delete_mailbox(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``DELETE /api/tenants/{tenant}/mailboxes/{address}``: 200 with the deleted mailbox."""
    params = request.path_params
    deleted = state.delete_mailbox(params["tenant"], params["address"])
    return httpx.Response(200, json={"deleted": _mailbox(deleted)})


@_api
def change_plan(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``PUT /api/tenants/{tenant}/mailboxes/{address}/plan`` with ``{"plan", "quota_mb"?}``.

    200 ``{"changed", "before", "after"}``; when plan changes are asynchronous, 202
    ``{"operation", "before"}`` and a ``Location`` to poll.
    """
    tenant, address = request.path_params["tenant"], request.path_params["address"]
    body = _body(request)
    plan, quota = body.get("plan"), body.get("quota_mb")
    if not isinstance(plan, str) or not (quota is None or isinstance(quota, int)):
        return error("invalid_request", "'plan' must be a name and 'quota_mb' a number")
    mailbox = state.check_plan_change(tenant, address, plan)
    before = {"plan": mailbox.plan, "quota_mb": mailbox.quota_mb}
    target_quota = quota if quota is not None else state.plan(plan).quota_mb
    if mailbox.plan == plan and mailbox.quota_mb == target_quota:
        return httpx.Response(200, json={"changed": False, "before": before, "after": before})
    if "set_plan" in state.asynchronous:
        operation_id = state.change_plan_later(tenant, address, plan, quota)
        operation = state.operations.get(operation_id)
        assert operation is not None
        return httpx.Response(
            202,
            headers={"Location": f"/api/operations/{operation_id}"},
            json={"operation": _operation(operation), "before": before},
        )
    _, after = state.change_plan(tenant, address, plan, quota)
    return httpx.Response(
        200,
        json={
            "changed": True,
            "before": before,
            "after": {"plan": after.plan, "quota_mb": after.quota_mb},
        },
    )


@_api
def set_allocation(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``PUT /api/tenants/{tenant}/allocations/{name}`` with ``{"quantity": n}`` (absolute)."""
    quantity = _body(request).get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        return error("invalid_request", "'quantity' must be a whole number, 0 or more")
    name = request.path_params["name"]
    before, after = state.set_allocation(request.path_params["tenant"], name, quantity)
    return httpx.Response(200, json={"name": name, "before": before, "after": after})


@_api
def get_operation(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``GET /api/operations/{id}``: poll an asynchronous operation."""
    operation = state.operations.poll(request.path_params["id"])
    if operation is None:
        return error("operation_not_found", f"No operation '{request.path_params['id']}'")
    return httpx.Response(200, json=_operation(operation))


@_api
def set_password(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``PUT /api/tenants/{tenant}/mailboxes/{address}/password`` with ``{"password"}``: 204."""
    password = _body(request).get("password")
    if not isinstance(password, str) or not password:
        return error("invalid_request", "'password' must be a non-empty string")
    params = request.path_params
    state.set_password(params["tenant"], params["address"], password)
    return httpx.Response(204)


def _status(request: MockRequest) -> Status:
    status = _body(request).get("status")
    if status not in ("active", "suspended"):
        raise Reply(error("invalid_request", "'status' must be 'active' or 'suspended'"))
    return cast("Status", status)


@_api
def set_mailbox_status(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``PUT /api/tenants/{tenant}/mailboxes/{address}/status`` with ``{"status"}``:
    200 ``{"before", "after"}``."""
    params = request.path_params
    before, after = state.set_mailbox_status(params["tenant"], params["address"], _status(request))
    return httpx.Response(200, json={"before": before, "after": after})


@_api
def set_tenant_status(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``PUT /api/tenants/{tenant}/status`` with ``{"status"}``: 200 ``{"before", "after"}``."""
    before, after = state.set_tenant_status(request.path_params["tenant"], _status(request))
    return httpx.Response(200, json={"before": before, "after": after})


_SETTINGS = frozenset({"display_name", "forwarding", "quota_mb", "aliases"})


@_api
def change_settings(request: MockRequest, state: MemoryState) -> httpx.Response:
    """``PATCH /api/tenants/{tenant}/mailboxes/{address}`` with any of ``display_name``,
    ``forwarding``, ``quota_mb``, ``aliases`` (each replaced whole): 200 with the mailbox."""
    body = _body(request)
    stray = sorted(set(body) - _SETTINGS)
    if stray or not body:
        return error("invalid_request", f"Settings are {', '.join(sorted(_SETTINGS))}")
    params = request.path_params
    try:
        changed = state.change_settings(params["tenant"], params["address"], body)
    except ValueError as exc:
        return error("invalid_request", f"Invalid settings: {exc}")
    return httpx.Response(200, json=_mailbox(changed))
