"""Mocks served on loopback for the kit's standalone mode, one per platform per session.

Starting a server costs a fraction of a second, so the kit starts each platform's mock
once and resets it (over its control API) before every test instead.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailadmin.mock.platform import MockPlatform
    from mailadmin.testing.control import HttpControl

__all__ = ["ServerPool"]


class ServerPool:
    """Loopback servers by mock platform class, with a control-API client for each;
    :meth:`close` stops them all."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._urls: dict[type[MockPlatform], str] = {}
        self._controls: dict[type[MockPlatform], HttpControl] = {}

    def url(self, platform: type[MockPlatform]) -> str:
        """The base URL of ``platform``'s served mock, started on first use."""
        if platform not in self._urls:
            from mailadmin.mock.serve import serve
            from mailadmin.mock.server import MockServer

            self._urls[platform] = self._stack.enter_context(serve(MockServer(platform)))
        return self._urls[platform]

    def control(self, platform: type[MockPlatform]) -> HttpControl:
        """The control-API client of ``platform``'s served mock (one connection, reused)."""
        if platform not in self._controls:
            from mailadmin.testing.control import HttpControl

            control = HttpControl(self.url(platform))
            self._stack.callback(control.close)
            self._controls[platform] = control
        return self._controls[platform]

    def close(self) -> None:
        """Stop every server and close every control client."""
        self._urls.clear()
        self._controls.clear()
        self._stack.close()
