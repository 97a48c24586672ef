"""Every address of the memory platform, declared once. Route names are operation keys
for recordings, faults and respx (``router["change_plan"].call_count``)."""

from __future__ import annotations

from mailadmin.mock import Route
from mailadmin.reference.mock import handlers as h

__all__ = ["ROUTES"]

_MAILBOX = "/api/tenants/{tenant}/mailboxes/{address}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/ping", h.ping, name="ping"),
    Route("GET", "/api/plans", h.list_plans, name="list_plans"),
    Route("GET", "/api/licence", h.get_licence, name="get_licence"),
    Route("GET", "/api/tenants", h.list_tenants, name="list_tenants"),
    Route("POST", "/api/tenants", h.create_tenant, name="create_tenant", write=True),
    Route("GET", "/api/tenants/{tenant}", h.get_tenant, name="get_tenant"),
    Route("DELETE", "/api/tenants/{tenant}", h.delete_tenant, name="delete_tenant", write=True),
    Route("GET", "/api/tenants/{tenant}/mailboxes", h.list_mailboxes, name="list_mailboxes"),
    Route(
        "POST",
        "/api/tenants/{tenant}/mailboxes",
        h.create_mailbox,
        name="create_mailbox",
        write=True,
    ),
    Route("GET", _MAILBOX, h.get_mailbox, name="get_mailbox"),
    Route("DELETE", _MAILBOX, h.delete_mailbox, name="delete_mailbox", write=True),
    Route("PATCH", _MAILBOX, h.change_settings, name="change_settings", write=True),
    Route("PUT", _MAILBOX + "/plan", h.change_plan, name="change_plan", write=True),
    Route("PUT", _MAILBOX + "/password", h.set_password, name="set_password", write=True),
    Route("PUT", _MAILBOX + "/status", h.set_mailbox_status, name="set_mailbox_status", write=True),
    Route(
        "PUT",
        "/api/tenants/{tenant}/status",
        h.set_tenant_status,
        name="set_tenant_status",
        write=True,
    ),
    Route(
        "PUT",
        "/api/tenants/{tenant}/allocations/{name}",
        h.set_allocation,
        name="set_allocation",
        write=True,
    ),
    Route("GET", "/api/operations/{id}", h.get_operation, name="get_operation"),
)
