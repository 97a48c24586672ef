"""The memory platform as a mock: its state, its routes and its own error format."""

from __future__ import annotations

import httpx

from mailadmin.mock import Fault, MockPlatform, MockRequest
from mailadmin.reference.mock.handlers import error
from mailadmin.reference.mock.routes import ROUTES
from mailadmin.reference.mock.state import MemoryState

__all__ = ["MemoryMock"]


class MemoryMock(MockPlatform):
    """The in-memory reference platform (see :mod:`mailadmin.reference.mock.state` for
    its defaults and seed format, :mod:`~.handlers` for its wire format)."""

    name = "memory"
    state_class = MemoryState
    routes = ROUTES

    def unknown(self, request: MockRequest) -> httpx.Response:
        """404 ``unknown_operation``."""
        return error("unknown_operation", f"No operation {request.method} {request.path}")

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """400 ``invalid_request``."""
        return error("invalid_request", reason)

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """Injected statuses in the platform's error format."""
        if fault.kind == "malformed":
            return None
        code = "rate_limited" if fault.status_code == 429 else "server_error"
        return httpx.Response(
            fault.status_code,
            json={"error": {"code": code, "message": f"Injected HTTP {fault.status_code}"}},
        )
