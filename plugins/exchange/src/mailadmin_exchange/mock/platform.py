"""The Exchange mock platform: one server for the token endpoint, the admin API and Graph.

Routes carry the host they belong to (``login.microsoftonline.com``,
``outlook.office365.com`` / ``outlook.office.com``, ``graph.microsoft.com``); a request to
any other host (the loopback address of ``mailadmin mock serve exchange``) matches on the
path alone, which never collides between the three.

Run it: ``mailadmin mock serve exchange`` or, in process, ``MockServer(ExchangeMock)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

import httpx

from mailadmin.mock import MockPlatform, MockRequest, Route
from mailadmin.mock.oauth import token_route
from mailadmin_exchange.mock import handlers
from mailadmin_exchange.mock.state import CmdletError, ExchangeState, GraphError

if TYPE_CHECKING:
    from mailadmin.mock import Fault

__all__ = ["HOSTS", "ROUTES", "ExchangeMock"]

#: Real host names and the host key their routes carry.
HOSTS: dict[str, str] = {
    "login.microsoftonline.com": "token",
    "outlook.office365.com": "admin",
    "outlook.office.com": "admin",
    "graph.microsoft.com": "graph",
}

_Handler = Callable[[MockRequest, ExchangeState], httpx.Response]


def _admin(handler: _Handler) -> Callable[[MockRequest, ExchangeState], httpx.Response]:
    """Adds the admin API's rate-limit and version headers to every answer."""

    def run(request: MockRequest, state: ExchangeState) -> httpx.Response:
        state.admin_calls += 1
        response = handler(request, state)
        response.headers.update(handlers.rate_limit_headers(state.admin_calls))
        return response

    return run


def _route(
    method: str, path: str, handler: _Handler, host: str, *, write: bool = False, name: str = ""
) -> Route:
    return Route(method, path, handler, write=write, name=name, host=host)


_INVOKE = "/adminapi/beta/{tenant}/InvokeCommand"

#: Every address the mock answers. InvokeCommand is one route per cmdlet class so that
#: recordings tell reads from writes (the operation key is the cmdlet name).
ROUTES: tuple[Route, ...] = (
    token_route(lambda state: state.issuer(), host="token"),
    _route(
        "GET",
        "/{tenant}/v2.0/.well-known/openid-configuration",
        handlers.openid_configuration,
        "token",
        name="openid-configuration",
    ),
    _route("GET", "/common/discovery/instance", handlers.instance_discovery, "token"),
    _route("GET", _INVOKE, _admin(handlers.invoke_get), "admin", name="InvokeCommand next page"),
    _route("GET", "/v1.0/subscribedSkus", handlers.subscribed_skus, "graph", name="subscribedSkus"),
    _route("GET", "/v1.0/users/$count", handlers.count_users, "graph", name="users/$count"),
    _route("GET", "/v1.0/users/{user}", handlers.get_user, "graph", name="users/{id}"),
    _route(
        "PATCH",
        "/v1.0/users/{user}",
        handlers.update_user,
        "graph",
        write=True,
        name="update user",
    ),
    _route(
        "POST",
        "/v1.0/users/{user}/assignLicense",
        handlers.assign_license,
        "graph",
        write=True,
        name="assignLicense",
    ),
)

_READ_CMDLETS = ("Get-Mailbox", "Get-CASMailbox", "Get-MailboxPlan")
_WRITE_CMDLETS = ("Set-Mailbox", "Set-CASMailbox", "New-Mailbox", "Remove-Mailbox")


def _invoke_routes() -> tuple[Route, ...]:
    routes = []
    for cmdlet in _READ_CMDLETS + _WRITE_CMDLETS:
        route = Route(
            "POST",
            _INVOKE,
            _admin(handlers.invoke_command),
            operation=cmdlet.lower(),
            write=cmdlet in _WRITE_CMDLETS,
            name=cmdlet,
            host="admin",
        )
        routes.append(route)
    # Any other cmdlet: the same handler answers 403 (outside the role).
    routes.append(
        Route("POST", _INVOKE, _admin(handlers.invoke_command), name="InvokeCommand", host="admin")
    )
    return tuple(routes)


class ExchangeMock(MockPlatform):
    """Exchange Online admin API, Microsoft Graph and the Entra token endpoint, in one."""

    name = "exchange"
    state_class = ExchangeState
    routes: ClassVar[tuple[Route, ...]] = ROUTES[:4] + _invoke_routes() + ROUTES[4:]
    # The three hosts' paths never collide, so on loopback the path alone routes.
    # Not one of the real hosts: a provider pointed here reaches all three by path.
    base_url = "https://exchange.mock.invalid"
    hosts: ClassVar[dict[str, str]] = HOSTS

    def operation_of(self, request: MockRequest) -> str | None:
        """The cmdlet of an InvokeCommand POST (lower case), so each cmdlet is a route."""
        if request.method != "POST" or not request.path.endswith("/InvokeCommand"):
            return None
        try:
            body = request.json()
        except Exception:
            return None
        cmdlet = body.get("CmdletInput", {}) if isinstance(body, dict) else {}
        name = cmdlet.get("CmdletName") if isinstance(cmdlet, dict) else None
        if isinstance(name, str) and name in {c for c in _READ_CMDLETS + _WRITE_CMDLETS}:
            return name.lower()
        if isinstance(name, str) and name.lower() in {
            c.lower() for c in _READ_CMDLETS + _WRITE_CMDLETS
        }:
            return name.lower()
        return None

    def unknown(self, request: MockRequest) -> httpx.Response:
        """Graph's and the admin API's "no such resource" answers, by the host addressed
        (by the path on a host the mock does not know)."""
        host = self.host_key(urlsplit(request.url).hostname or "")
        graph = request.path.startswith(("/v1.0/", "/beta/"))
        if host == "graph" or (host is None and graph):
            return handlers.graph_error(
                request,
                GraphError(
                    400,
                    "BadRequest",
                    f"Resource not found for the segment '{request.path.rsplit('/', 1)[-1]}'.",
                ),
            )
        if host == "admin" or (host is None and request.path.startswith("/adminapi/")):
            if "/v1.0/" in request.path and request.path.endswith("/InvokeCommand"):
                return handlers.admin_error(
                    405, None, "The requested resource does not support http method 'POST'."
                )
            return handlers.admin_error(404, None, "Resource not found")
        return httpx.Response(404, json={"error": "not_found", "error_description": "Not found"})

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """An unreadable body: the admin API's 400."""
        return handlers.admin_error(
            400,
            CmdletError(400, "Microsoft.OData.ODataException", reason),
        )

    def throttle_key(self, request: MockRequest, per: str) -> str:
        """Exchange Online's budgets are per tenant: the tenant id in the admin API's path
        (``/adminapi/beta/{tenant}/...``); Graph's, without one, by credential."""
        if per == "tenant" and request.path.startswith("/adminapi/beta/"):
            return request.path.split("/")[3]
        return super().throttle_key(request, per)

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """Injected throttling in the shape of the host that throttles (reference 1.8, 3.4)."""
        if fault.kind.value not in ("rate_limit", "status"):
            return None
        status = fault.status_code
        if request.path.startswith("/v1.0/"):
            return handlers.graph_error(
                request,
                GraphError(
                    status,
                    "TooManyRequests" if status == 429 else "ServiceNotAvailable",
                    "Too many requests from Identifier:mock-client Please try again later."
                    if status == 429
                    else "The service is temporarily unavailable.",
                ),
            )
        if status == 429:
            return httpx.Response(
                429,
                text="You have reached the maximum number of concurrent requests per tenant. "
                "Please wait and try again",
                headers={"Content-Type": "text/plain"},
            )
        return None
