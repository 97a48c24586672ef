"""The in-process front door: a respx router built from a server's routes.

Every platform route becomes a respx route of the same name, so a test can prove what was
called (``router["set_plan"].call_count``); ``"_mock"`` serves the control API and
``"_unknown"`` answers everything else under the base URL with the platform's own
unknown-operation error. The router answers the base URL's scheme, host and port, and
every host the platform lists in :attr:`MockPlatform.hosts` (any scheme or port), so one
router serves every host of an instance; requests to other hosts are refused (respx's
``assert_all_mocked``).

The router is also an ``httpx.AsyncBaseTransport``: hand it to a client or a provider
(``http=router``). ``with router:`` keeps respx's meaning (mock every httpx client).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
import respx
from respx.patterns import Pattern

if TYPE_CHECKING:
    from mailadmin.mock.server import MockServer

__all__ = ["MockRouter", "build_router"]


class MockRouter(respx.MockRouter, httpx.AsyncBaseTransport):
    """A respx router that is also an httpx transport; ``server`` is the mock behind it."""

    server: MockServer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` through the router (respx records the call)."""
        await request.aread()
        return await self.async_handler(request)

    async def __aenter__(self) -> MockRouter:
        # httpx enters its transport; that must not start respx's global patching.
        return self

    async def __aexit__(self, *args: Any) -> None:
        return None

    async def aclose(self) -> None:
        """Nothing to close."""


def build_router(server: MockServer, base_url: str) -> MockRouter:
    """A router answering ``base_url`` from ``server`` (see the module docs)."""
    url = httpx.URL(base_url)
    root = url.path.rstrip("/")
    served = _Served(True, base=url, hosts=server.platform.hosts)
    router = MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.server = server
    answer = _answer(server, root)
    for route in server.platform.routes:
        pattern = _ResolvesTo(route.name, server=server, root=root)
        router.route(served & pattern, name=route.name).mock(side_effect=answer)
    control = "^(" + re.escape(root) + r")?/_mock(/.*)?$"
    router.route(served, name="_mock", path__regex=control).mock(side_effect=answer)
    router.route(served, name="_unknown").mock(side_effect=answer)
    return router


class _Served(Pattern):
    """Matches requests to the base URL's origin or to a host the platform lists."""

    key = "mailadmin_mock_served"

    def __init__(self, value: bool, *, base: httpx.URL, hosts: Mapping[str, str]) -> None:
        self._origin = (base.scheme, base.host, base.port)
        self._hosts = frozenset(name.lower() for name in hosts)
        super().__init__(value)

    def parse(self, request: httpx.Request) -> bool:
        url = request.url
        return (url.scheme, url.host, url.port) == self._origin or url.host in self._hosts


class _ResolvesTo(Pattern):
    """Matches the requests the server resolves to one route (by path, method and
    operation), so routes sharing an address stay apart in respx."""

    key = "mailadmin_mock_route"

    def __init__(self, value: str, *, server: MockServer, root: str) -> None:
        self._server = server
        self._root = root
        super().__init__(value)

    def parse(self, request: httpx.Request) -> str | None:
        _, route = self._server.resolve(request, root=self._root)
        return route.name if route is not None else None


def _answer(server: MockServer, root: str) -> Any:
    async def effect(request: httpx.Request, **context: Any) -> httpx.Response:
        return await server.handle(request, root=root)

    return effect
