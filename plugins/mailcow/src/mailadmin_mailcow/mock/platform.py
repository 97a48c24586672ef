"""The Mailcow mock platform: its state, its routes and its own error format."""

from __future__ import annotations

import httpx
from mailadmin.mock import Fault, MockPlatform, MockRequest

from mailadmin_mailcow.mock.handlers import error
from mailadmin_mailcow.mock.routes import ROUTES
from mailadmin_mailcow.mock.state import MailcowState

__all__ = ["MailcowMock"]


class MailcowMock(MockPlatform):
    """The Mailcow admin API; defaults and seed format in the ``state`` module."""

    name = "mailcow"
    state_class = MailcowState
    routes = ROUTES

    def unknown(self, request: MockRequest) -> httpx.Response:
        """404 ``unknown_operation``, never a silent 200."""
        return error(404, "unknown_operation", f"No operation {request.method} {request.path}")

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """400 ``invalid_request``."""
        return error(400, "invalid_request", reason)

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """Injected 429s and server errors in the platform's own format."""
        if fault.kind == "malformed":
            return None
        code = "rate_limited" if fault.status_code == 429 else "server_error"
        return error(fault.status_code, code, f"Injected HTTP {fault.status_code}")
