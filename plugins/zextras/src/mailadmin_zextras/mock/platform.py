"""The Zextras mock platform: one route per admin request at ``/service/admin/soap[/...]``.

Every request is posted to the same address; the body's element decides which handler
runs (the operation key), in JSON or XML alike. Errors, even for unknown or unreadable
requests, are Zimbra faults with HTTP 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from mailadmin.mock import MalformedRequest, MockPlatform, MockRequest, Route
from mailadmin_zextras.mock import handlers
from mailadmin_zextras.mock.state import ZextrasState, ZimbraFault
from mailadmin_zextras.mock.wire import fault_response, is_json, read_request

if TYPE_CHECKING:
    from mailadmin.mock import Fault

__all__ = ["ROUTES", "ZextrasMock"]

ROUTES = (
    *(
        Route(
            "POST",
            "/service/{path:path}",
            handlers.soap(handler, auth=name != "AuthRequest"),
            operation=name,
            write=name in handlers.WRITES,
        )
        for name, handler in handlers.HANDLERS.items()
    ),
    # A batch may carry writes, so it counts as one.
    Route("POST", "/service/{path:path}", handlers.batch, operation="BatchRequest", write=True),
)


class ZextrasMock(MockPlatform):
    """A Carbonio / Zextras server's admin SOAP API (see the plugin's README)."""

    name = "zextras"
    state_class = ZextrasState
    routes = ROUTES
    base_url = "https://mail.example.com:7071"

    def operation_of(self, request: MockRequest) -> str | None:
        """The name of the request element in the body."""
        return handlers.operation_of(request)

    def _fault(self, request: MockRequest, code: str, message: str) -> httpx.Response:
        fault = ZimbraFault(code, message)
        try:
            return handlers.fault_answer(read_request(request), fault)
        except Exception:  # unreadable: answer in the form the body starts with
            return handlers.fault_answer(None, fault, as_json=is_json(request) or not request.body)

    def unknown(self, request: MockRequest) -> httpx.Response:
        """``service.UNKNOWN_DOCUMENT`` for a request the server has no handler for."""
        if request.method != "POST" or not request.path.startswith("/service/admin/soap"):
            return httpx.Response(404, text="HTTP ERROR 404 Not Found")
        try:
            read_request(request)
        except MalformedRequest as exc:
            return self.malformed(request, str(exc))
        what = read_request(request).body.name
        return self._fault(request, "service.UNKNOWN_DOCUMENT", f"unknown document: {what}")

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """``service.PARSE_ERROR`` for a body that is neither JSON nor a SOAP envelope."""
        return fault_response(
            "service.PARSE_ERROR",
            f"parse error: {reason}",
            receiver=False,
            answer_json=is_json(request) or not request.body,
        )

    def failure(self, request: MockRequest, exc: Exception) -> httpx.Response:
        """``service.FAILURE`` when a handler breaks (a bug in the mock)."""
        return self._fault(request, "service.FAILURE", f"system failure: {type(exc).__name__}")

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """Injected 5xx answers carry a ``service.FAILURE`` fault, as the server's would."""
        if fault.kind.value == "status":
            return self._fault(request, "service.FAILURE", "system failure: injected")
        return None
