"""The mailcow mock platform: its state, its routes and its own error answers."""

from __future__ import annotations

import httpx
from mailadmin.mock import Fault, MockPlatform, MockRequest

from mailadmin_mailcow.mock.handlers import error
from mailadmin_mailcow.mock.routes import ROUTES
from mailadmin_mailcow.mock.state import MailcowState

__all__ = ["MailcowMock"]


class MailcowMock(MockPlatform):
    """mailcow-dockerized's admin REST API; defaults and seed format in ``state``."""

    name = "mailcow"
    state_class = MailcowState
    routes = ROUTES

    def unknown(self, request: MockRequest) -> httpx.Response:
        """A wrong method on a known path is 405; anything else ``route not found``."""
        path = request.path
        if "/api/v1/get/" in path and request.method != "GET":
            return error(405, "only GET method is allowed")
        writes = any(f"/api/v1/{a}/" in path for a in ("add", "edit", "delete"))
        if writes and request.method != "POST":
            return error(405, "only POST method is allowed")
        return error(404, "route not found")

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """400, as json_api.php answers a body it cannot decode."""
        return error(400, "Request body doesn't contain valid json!")

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """Server errors as PHP's HTML page (the API sets its JSON type only later)."""
        if fault.kind == "status" and fault.status_code >= 500:
            page = "<center>Connection to Redis failed.</center>"
            return httpx.Response(fault.status_code, text=page)
        return None
