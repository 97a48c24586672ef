"""Every address of the Mailcow API, declared once. ``write=True`` marks the routes that
change state (the conformance kit checks that dry runs reach none of them)."""

from __future__ import annotations

from mailadmin.mock import Route

from mailadmin_mailcow.mock import handlers as h

__all__ = ["ROUTES"]

_DOMAIN = "/api/v1/domains/{domain}"
_ACCOUNT = _DOMAIN + "/accounts/{address}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/status", h.status, name="status"),
    Route("GET", "/api/v1/plans", h.list_plans, name="list_plans"),
    Route("GET", "/api/v1/licence", h.licence, name="licence"),
    Route("GET", _DOMAIN + "/accounts", h.list_accounts, name="list_accounts"),
    Route("POST", _DOMAIN + "/accounts", h.create_account, name="create_account", write=True),
    Route("GET", _ACCOUNT, h.get_account, name="get_account"),
    Route("DELETE", _ACCOUNT, h.delete_account, name="delete_account", write=True),
    Route("PUT", _ACCOUNT + "/plan", h.change_plan, name="set_plan", write=True),
    Route("GET", _DOMAIN + "/limits", h.get_limits, name="limits"),
    Route("PUT", _DOMAIN + "/limits/{name}", h.set_limit, name="set_limit", write=True),
)
