"""What a mock server received, kept for assertions ("no write was sent")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    """One received request and how it was answered.

    ``operation``: the operation key or route name (``"set_plan"``; for an unknown request
    whatever the platform could read, else ``None``); ``route``: the matched route's name
    (``None`` when unknown); ``write``: the route changes state; ``status``: the status
    answered (``None`` when the connection was dropped); ``fault``: the kind of injected
    fault that hit it; ``at``: the server clock's time.
    """

    operation: str | None
    method: str
    path: str
    write: bool
    status: int | None
    body: bytes = b""
    query: str = ""
    route: str | None = None
    fault: str | None = None
    at: float = 0.0

    @property
    def known(self) -> bool:
        """True when a route answered it (False: the platform's unknown-operation error)."""
        return self.route is not None

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return json.loads(self.body or b"null")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (``GET /_mock/requests``); the body as text."""
        return {
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "write": self.write,
            "status": self.status,
            "route": self.route,
            "fault": self.fault,
            "at": self.at,
            "body": self.body.decode("utf-8", errors="replace"),
        }
