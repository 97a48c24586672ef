"""The kit's hold on a mock, the same in both modes.

In process the kit drives the :class:`~mailadmin.mock.MockServer` object directly; against
a served mock it goes through the HTTP control API under ``/_mock/``, exactly as a test
written in another language would. Suites only see :class:`MockControl`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mailadmin.mock.faults import Fault
from mailadmin.mock.recording import RecordedRequest

if TYPE_CHECKING:
    import httpx

    from mailadmin.mock.server import MockServer

__all__ = ["HttpControl", "InProcessControl", "MockControl"]


class MockControl:
    """Reset, seed, inject faults and read what the mock received."""

    def reset(self) -> None:
        """Back to the start state; recorded requests and faults forgotten."""
        raise NotImplementedError

    def seed(self, data: Mapping[str, Any]) -> None:
        """Replace the state: the platform's defaults, then ``data`` on top."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """The state snapshot."""
        raise NotImplementedError

    def inject(self, fault: Fault | Mapping[str, Any]) -> None:
        """Put a fault in force (see :class:`~mailadmin.mock.Fault`)."""
        raise NotImplementedError

    def clear_faults(self) -> None:
        """Remove every fault."""
        raise NotImplementedError

    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset or clear."""
        raise NotImplementedError

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        raise NotImplementedError

    def writes(self) -> list[RecordedRequest]:
        """The recorded requests to state-changing routes."""
        return [request for request in self.requests() if request.write]

    def close(self) -> None:
        """Release what the control holds (a connection); the mock itself keeps running."""


class InProcessControl(MockControl):
    """Drives a :class:`~mailadmin.mock.MockServer` in this process."""

    def __init__(self, server: MockServer) -> None:
        self.server = server

    def reset(self) -> None:
        self.server.reset()

    def seed(self, data: Mapping[str, Any]) -> None:
        self.server.seed(data)

    def state(self) -> dict[str, Any]:
        return self.server.snapshot()

    def inject(self, fault: Fault | Mapping[str, Any]) -> None:
        self.server.inject(fault)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def requests(self) -> list[RecordedRequest]:
        return list(self.server.requests)

    def clear_requests(self) -> None:
        self.server.clear_requests()


class HttpControl(MockControl):
    """Drives a served mock through its control API at ``base_url`` + ``/_mock/``."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url + "/_mock", timeout=10.0)

    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed(self, data: Mapping[str, Any]) -> None:
        self._call("PUT", "/state", json=dict(data))

    def state(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", "/state").json()
        return answer

    def inject(self, fault: Fault | Mapping[str, Any]) -> None:
        rule = fault if isinstance(fault, Fault) else Fault.model_validate(dict(fault))
        self._call("POST", "/faults", json=rule.model_dump(mode="json", exclude_none=True))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def requests(self) -> list[RecordedRequest]:
        return [_record(item) for item in self._call("GET", "/requests").json()]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        response = self._client.request(method, path, json=json)
        if response.status_code >= 400:
            raise AssertionError(
                f"the mock's control API refused {method} /_mock{path}: "
                f"HTTP {response.status_code} {response.text}"
            )
        return response


def _record(item: Mapping[str, Any]) -> RecordedRequest:
    return RecordedRequest(
        operation=item.get("operation"),
        method=item["method"],
        path=item["path"],
        write=bool(item["write"]),
        status=item.get("status"),
        body=str(item.get("body", "")).encode("utf-8"),
        query=item.get("query", ""),
        route=item.get("route"),
        fault=item.get("fault"),
        at=float(item.get("at", 0.0)),
    )
