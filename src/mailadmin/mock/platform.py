"""A mock platform: its name, its state class, its routes and its own error formats.

A plugin's mock subclasses :class:`MockPlatform` and sets three class attributes::

    class MemoryMock(MockPlatform):
        name = "memory"
        state_class = MemoryState
        routes = ROUTES

It overrides :meth:`unknown` (and, where the platform has its own shapes,
:meth:`malformed`, :meth:`fault_response`, :meth:`failure`) so that every answer, even an
error, looks like the real platform's. Platforms that multiplex operations on one address
(SOAP) override :meth:`operation_of`. Platforms reached on several hosts map the real host
names to host keys in :attr:`MockPlatform.hosts` and name the key on each route (see
:mod:`mailadmin.mock.routes` for the matching rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import httpx

from mailadmin.mock.routes import Route
from mailadmin.mock.state import MockState

if TYPE_CHECKING:
    from mailadmin.mock.faults import Fault
    from mailadmin.mock.request import MockRequest

__all__ = ["MockPlatform", "Reply"]


class Reply(Exception):
    """Raise from anywhere in a handler to answer with ``response`` at once.

    ``raise Reply(httpx.Response(401, json={...}))`` keeps credential checks and
    not-found answers out of the main path of every handler.
    """

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"reply {response.status_code}")
        self.response = response


class MockPlatform:
    """Base of every mock platform. Instances are stateless; the server owns the state.

    ``name``: the registry name (``"ox"``); ``state_class``: its :class:`MockState`
    subclass; ``routes``: every address it answers; ``base_url``: the default address of
    the in-process front door; ``hosts``: real host names (``"graph.microsoft.com"``,
    matched without the port and case-blind) mapped to the host keys routes name.
    """

    name: ClassVar[str] = ""
    state_class: ClassVar[type[MockState]] = MockState
    routes: ClassVar[Sequence[Route]] = ()
    base_url: ClassVar[str] = "http://mock.invalid"
    hosts: ClassVar[Mapping[str, str]] = {}

    def host_key(self, host: str) -> str | None:
        """The host key of a request's host name, or ``None`` for a host not listed."""
        host = host.lower()
        for name, key in self.hosts.items():
            if name.lower() == host:
                return key
        return None

    def operation_of(self, request: MockRequest) -> str | None:
        """The operation key of a request (a SOAP body element's name); default ``None``."""
        return None

    def unknown(self, request: MockRequest) -> httpx.Response:
        """The platform's "unknown operation" answer; never a silent 200."""
        what = request.operation or f"{request.method} {request.path}"
        return httpx.Response(
            404,
            json={
                "error": "UnknownOperation",
                "message": f"The {self.name or 'mock'} platform has no operation '{what}'",
            },
        )

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """The answer to a request whose body cannot be read."""
        return httpx.Response(400, json={"error": "MalformedRequest", "message": reason})

    def failure(self, request: MockRequest, exc: Exception) -> httpx.Response:
        """The answer when a handler crashes (a bug in the mock): 500 naming the error."""
        return httpx.Response(
            500, json={"error": "MockHandlerFailed", "message": f"{type(exc).__name__}: {exc}"}
        )

    def throttle_key(self, request: MockRequest, per: str) -> str:
        """The bucket a request counts against when the mock throttles (see
        :mod:`mailadmin.mock.throttle`): by default its ``Authorization`` header for
        ``credential`` and ``tenant`` (a platform that names the tenant in the request
        overrides this), one bucket for ``platform``."""
        if per == "platform":
            return ""
        return str(request.headers.get("authorization", ""))

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """An injected ``status`` / ``rate_limit`` / ``malformed`` answer in the platform's
        shape, or ``None`` for the generic one. The server adds ``Retry-After`` itself."""
        return None
