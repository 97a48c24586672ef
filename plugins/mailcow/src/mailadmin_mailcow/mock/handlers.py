"""The Mailcow wire format: parse a request, call the state, answer as the platform does.

Errors are ``{"error": {"code": ..., "message": ...}}`` with the status of the rule that
refused (see :class:`~mailadmin_mailcow.mock.state.MailcowRefused`).
"""

from __future__ import annotations

from typing import Any

import httpx
from mailadmin.mock import MockRequest, Reply
from pydantic_core import to_jsonable_python

from mailadmin_mailcow.mock.state import MailcowRefused, MailcowState


def error(status: int, code: str, message: str) -> httpx.Response:
    """An error answer in the platform's format."""
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def _admin(request: MockRequest, state: MailcowState) -> None:
    credentials = request.basic_auth()
    if credentials is None or not state.authorised(*credentials):
        raise Reply(error(401, "unauthorized", "Wrong user name or password"))


def _body(request: MockRequest) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise Reply(error(400, "invalid_request", "The body must be a JSON object"))
    return body


def _run(request: MockRequest, state: MailcowState, work: Any) -> httpx.Response:
    _admin(request, state)
    try:
        status, answer = work()
    except MailcowRefused as refused:
        return error(refused.status, refused.code, refused.message)
    # Models of the state go out as the JSON they dump to.
    return httpx.Response(status, json=to_jsonable_python(answer))


def status(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/status"""
    return _run(request, state, lambda: (200, {"version": state.data.version}))


def list_plans(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/plans"""
    return _run(request, state, lambda: (200, {"plans": state.data.plans}))


def licence(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/licence"""
    seats = state.data.licence.seats
    return _run(request, state, lambda: (200, {"seats": seats, "used": state.seats_used()}))


def list_accounts(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/domains/{domain}/accounts"""
    domain = request.path_params["domain"]
    return _run(request, state, lambda: (200, {"accounts": state.domain(domain).accounts}))


def get_account(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/domains/{domain}/accounts/{address}"""
    domain, address = request.path_params["domain"], request.path_params["address"]
    return _run(request, state, lambda: (200, state.account(domain, address)))


def create_account(request: MockRequest, state: MailcowState) -> httpx.Response:
    """POST /api/v1/domains/{domain}/accounts"""
    domain = request.path_params["domain"]
    return _run(request, state, lambda: (201, state.create_account(domain, _body(request))))


def delete_account(request: MockRequest, state: MailcowState) -> httpx.Response:
    """DELETE /api/v1/domains/{domain}/accounts/{address}"""
    domain, address = request.path_params["domain"], request.path_params["address"]

    def work() -> tuple[int, dict[str, Any]]:
        state.delete_account(domain, address)
        return 200, {"deleted": address}

    return _run(request, state, work)


def change_plan(request: MockRequest, state: MailcowState) -> httpx.Response:
    """PUT /api/v1/domains/{domain}/accounts/{address}/plan  ``{"plan": "standard"}``"""
    domain, address = request.path_params["domain"], request.path_params["address"]
    plan = str(_body(request).get("plan", ""))
    return _run(request, state, lambda: (200, state.change_plan(domain, address, plan)))


def get_limits(request: MockRequest, state: MailcowState) -> httpx.Response:
    """GET /api/v1/domains/{domain}/limits"""
    domain = request.path_params["domain"]
    return _run(request, state, lambda: (200, {"limits": state.domain(domain).limits}))


def set_limit(request: MockRequest, state: MailcowState) -> httpx.Response:
    """PUT /api/v1/domains/{domain}/limits/{name}  ``{"value": 20}``"""
    domain, name = request.path_params["domain"], request.path_params["name"]
    value = _body(request).get("value")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return error(400, "invalid_request", "'value' must be a whole number, 0 or more")

    def work() -> tuple[int, dict[str, Any]]:
        before = state.set_limit(domain, name, value)
        return 200, {"name": name, "before": before, "after": value}

    return _run(request, state, work)
