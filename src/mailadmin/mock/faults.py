"""Faults a mock server injects into its answers, per route or operation and per call.

``Fault(kind="rate_limit", operation="set_plan", calls=[2, 3], retry_after=2)`` answers
the 2nd and 3rd ``set_plan`` request received after injection with 429 and
``Retry-After: 2``. The same fault as JSON is what ``POST /_mock/faults`` takes.

Kinds:

- ``latency``: wait ``delay`` seconds (on the server's clock), then answer normally;
  combines with any other fault.
- ``status``: answer ``status`` (default 500) with the platform's error body or ``body``.
- ``rate_limit``: answer 429 with ``Retry-After: retry_after``.
- ``drop``: break the connection: in process ``httpx.RemoteProtocolError`` is raised;
  over HTTP the response starts with a ``Content-Length`` and the connection is closed
  before the body, so the client sees a broken connection.
- ``malformed``: the real status and headers with ``body`` (default: a broken document)
  instead of the real body.
- ``truncate``: the real answer cut to ``keep`` bytes (default half), with a
  ``Content-Length`` that matches the cut body.

``handled``: for ``status``, ``rate_limit`` and ``drop``, let the request reach the state
first ("the change was made but the answer was lost"); ``malformed`` and ``truncate``
always do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Fault", "FaultKind", "InjectedFault"]


class FaultKind(StrEnum):
    """What a fault does to the answer."""

    LATENCY = "latency"
    STATUS = "status"
    RATE_LIMIT = "rate_limit"
    DROP = "drop"
    MALFORMED = "malformed"
    TRUNCATE = "truncate"


class Fault(BaseModel):
    """One fault rule.

    ``operation``: a request's operation key or route name (``None``: every request);
    ``calls``: the 1-based numbers of the matching requests it hits, counted from
    injection (``None``: every one); ``status``, ``retry_after``, ``delay``, ``body``
    (with ``content_type``), ``keep``, ``handled``: see the module docs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    operation: str | None = None
    calls: frozenset[int] | None = None
    status: int = Field(default=500, ge=100, le=599)
    retry_after: float = Field(default=1.0, ge=0)
    delay: float = Field(default=0.0, ge=0)
    body: str | None = None
    content_type: str | None = None
    keep: int | None = Field(default=None, ge=0)
    handled: bool = False

    @field_validator("calls")
    @classmethod
    def _positive_calls(cls, value: frozenset[int] | None) -> frozenset[int] | None:
        if value is not None and any(number < 1 for number in value):
            raise ValueError("call numbers start at 1")
        return value

    @classmethod
    def json_answer(
        cls, body: object, *, status: int = 200, operation: str | None = None, **more: Any
    ) -> Fault:
        """A ``status`` fault answering ``body`` as JSON in place of the real answer; the
        request does not reach the state. ``Fault.json_answer([{"type": "danger", "msg":
        "access_denied"}], operation="edit_mailbox")`` is a refusal inside a 200."""
        import json

        return cls(
            kind=FaultKind.STATUS,
            status=status,
            operation=operation,
            body=json.dumps(body),
            content_type="application/json",
            **more,
        )

    @property
    def status_code(self) -> int:
        """The status this fault answers with (429 for ``rate_limit``)."""
        return 429 if self.kind is FaultKind.RATE_LIMIT else self.status

    def applies_to(self, operation: str | None, route: str | None) -> bool:
        """True when a request with this operation key / route name is targeted."""
        return self.operation is None or self.operation in (operation, route)


@dataclass
class InjectedFault:
    """A fault in force on a server: ``id``, the ``fault``, how many matching requests
    it has ``seen`` and how many it ``fired`` on."""

    id: int
    fault: Fault
    seen: int = 0
    fired: int = 0

    def take(self, operation: str | None, route: str | None) -> bool:
        """Count a request; True when the fault fires on it."""
        if not self.fault.applies_to(operation, route):
            return False
        self.seen += 1
        calls = self.fault.calls
        if calls is not None and self.seen not in calls:
            return False
        self.fired += 1
        return True

    def to_dict(self) -> dict[str, object]:
        """JSON-able view (``GET /_mock/faults``)."""
        return {
            "id": self.id,
            **self.fault.model_dump(mode="json", exclude_none=True),
            "seen": self.seen,
            "fired": self.fired,
        }
