"""The mock server: one platform, one state, one dispatch for both front doors.

In process::

    server = MockServer(MemoryMock)
    provider = MemoryProvider({...}, http=server.transport())     # or http=server.router()

Standalone: ``serve(server)`` (see :mod:`mailadmin.mock.serve`) runs ``server.asgi()`` on
loopback. Either way every request goes through :meth:`MockServer.handle`: the control
API under ``/_mock/``, or route resolution, fault injection, the platform's handler and
recording.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mailadmin.mock.clock import Clock, SystemClock
from mailadmin.mock.faults import Fault, FaultKind, InjectedFault
from mailadmin.mock.platform import MockPlatform, Reply
from mailadmin.mock.recording import RecordedRequest
from mailadmin.mock.request import MalformedRequest, MockRequest
from mailadmin.mock.routes import Route
from mailadmin.mock.state import MockState, read_seed
from mailadmin.mock.throttle import Throttle, retry_after

if TYPE_CHECKING:
    from mailadmin.mock.asgi import MockASGIApp
    from mailadmin.mock.router import MockRouter

__all__ = ["MockServer", "MockTransport"]

log = logging.getLogger("mailadmin.mock")

_CONTROL = "/_mock"
_MALFORMED = b'{"malformed": <this is neither JSON nor XML'
_DROP_LENGTH = 256
#: The answer of a request its throttle bucket refused: the platform's own throttling answer.
_THROTTLED = Fault(kind=FaultKind.RATE_LIMIT)
_RESOLVED = "mailadmin.mock.resolved"

Seed = Mapping[str, Any] | str | Path


@dataclass
class Answer:
    """What the server answers: a response, or a dropped connection announcing
    ``response``'s status and headers before breaking off."""

    response: httpx.Response
    drop: bool = False


class MockServer:
    """A running mock of one platform.

    ``platform``: a :class:`MockPlatform` subclass or instance; ``seed``: a seed document
    or a ``.json``/``.toml`` file applied over the defaults (kept as the start state that
    :meth:`reset` returns to); ``clock``: the clock for latency and timed operations.

    ``state`` is the platform's state, ``requests`` every request received (control
    calls excluded), :meth:`writes` the state-changing ones.
    """

    def __init__(
        self,
        platform: type[MockPlatform] | MockPlatform,
        *,
        seed: Seed | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.platform = platform() if isinstance(platform, type) else platform
        _check_routes(self.platform)
        self.clock: Clock = clock or SystemClock()
        self._start_seed = read_seed(seed) if seed is not None else {}
        self.state: MockState = self.platform.state_class(clock=self.clock)
        if self._start_seed:
            self.state.load_seed(self._start_seed)
        self.requests: list[RecordedRequest] = []
        self._faults: list[InjectedFault] = []
        self._fault_ids = 0
        #: The token buckets in force (``None``: the mock never throttles).
        self.throttling: Throttle | None = None

    @property
    def name(self) -> str:
        """The platform name (``"memory"``)."""
        return self.platform.name

    # -- state --------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the start state (defaults plus the start seed); forget requests, faults
        and operations, and stop throttling."""
        self.throttling = None
        self.state.reset()
        if self._start_seed:
            self.state.load_seed(self._start_seed)
        self.requests.clear()
        self._faults.clear()

    def seed(self, seed: Seed) -> None:
        """Replace the state: the defaults, then ``seed`` on top."""
        self.state.reset()
        self.state.load_seed(read_seed(seed))

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-able data (``GET /_mock/state``)."""
        return self.state.snapshot()

    # -- recordings -----------------------------------------------------------------------

    def writes(self) -> list[RecordedRequest]:
        """Every recorded request to a state-changing route."""
        return [request for request in self.requests if request.write]

    def calls(self, operation: str) -> list[RecordedRequest]:
        """Every recorded request with this operation key or route name."""
        return [r for r in self.requests if operation in (r.operation, r.route)]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    # -- faults ---------------------------------------------------------------------------

    def inject(self, fault: Fault | Mapping[str, Any]) -> InjectedFault:
        """Put a fault in force; returns its handle (``id``, ``seen``, ``fired``)."""
        rule = fault if isinstance(fault, Fault) else Fault.model_validate(dict(fault))
        self._fault_ids += 1
        injected = InjectedFault(self._fault_ids, rule)
        self._faults.append(injected)
        return injected

    @property
    def faults(self) -> list[InjectedFault]:
        """The faults in force, in injection order."""
        return list(self._faults)

    def remove_fault(self, fault_id: int) -> bool:
        """Remove one fault; False when no fault has that id."""
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def throttle(self, throttle: Throttle | Mapping[str, Any] | None) -> Throttle | None:
        """Throttle like the platform: a token bucket per tenant, credential or for the
        whole platform (:mod:`mailadmin.mock.throttle`); ``None`` stops throttling."""
        if throttle is not None and not isinstance(throttle, Throttle):
            throttle = Throttle.model_validate(dict(throttle))
        self.throttling = throttle
        return throttle

    # -- front doors ----------------------------------------------------------------------

    async def handle(self, request: httpx.Request, *, root: str = "") -> httpx.Response:
        """Answer one request in process. A dropped connection raises
        ``httpx.RemoteProtocolError``, as a real client would see it."""
        answer = await self.answer(request, root=root)
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        answer.response.request = request
        return answer.response

    def transport(self, *, root: str = "") -> MockTransport:
        """An ``httpx.AsyncBaseTransport`` answering every request from this server."""
        return MockTransport(self, root=root)

    def router(self, base_url: str | None = None) -> MockRouter:
        """A respx router with one named route per platform route, plus ``"_mock"`` (the
        control API) and ``"_unknown"`` (everything else under ``base_url``)."""
        from mailadmin.mock.router import build_router

        return build_router(self, base_url or self.platform.base_url)

    def asgi(self) -> MockASGIApp:
        """This server as an ASGI application (the standalone front door)."""
        from mailadmin.mock.asgi import MockASGIApp

        return MockASGIApp(self)

    # -- dispatch -------------------------------------------------------------------------

    async def answer(self, request: httpx.Request, *, root: str = "") -> Answer:
        """The single dispatch behind both front doors."""
        incoming, route = self.resolve(request, root=root)
        if _is_control(incoming):
            from mailadmin.mock.control import handle_control

            return Answer(await handle_control(self, incoming))
        self.state.operations.settle()
        operation = (route.operation or route.name) if route else incoming.operation
        route_name = route.name if route else None
        fired = [f.fault for f in list(self._faults) if f.take(operation, route_name)]
        for rule in fired:
            if rule.kind is FaultKind.LATENCY:
                await self.clock.sleep(rule.delay)
        fault = next((f for f in fired if f.kind is not FaultKind.LATENCY), None)

        answer: Answer
        throttling = self.throttling
        wait = None
        if throttling is not None and fault is None:
            key = self.platform.throttle_key(incoming, throttling.per)
            wait = throttling.take(key, time.monotonic())
        if wait is not None:
            fault = _THROTTLED
            answer = Answer(self._status_response(fault, incoming))
            answer.response.headers["Retry-After"] = retry_after(wait)
        elif fault is not None and fault.kind in _BEFORE_STATE and not fault.handled:
            answer = self._fault_answer(fault, incoming, None)
        else:
            response = await self._run(route, incoming)
            answer = (
                Answer(response) if fault is None else self._fault_answer(fault, incoming, response)
            )
        self.requests.append(
            RecordedRequest(
                operation=operation,
                method=incoming.method,
                path=incoming.path,
                write=route.write if route else False,
                status=None if answer.drop else answer.response.status_code,
                body=incoming.body,
                query=str(incoming.query),
                route=route_name,
                fault=fault.kind.value if fault else None,
                at=self.clock.now(),
            )
        )
        return answer

    def resolve(
        self, request: httpx.Request, *, root: str = ""
    ) -> tuple[MockRequest, Route | None]:
        """The request as handlers see it and the route that answers it (``None``: unknown).

        Cached on the request, so the respx front door can ask once per route cheaply.
        """
        cached = request.extensions.get(_RESOLVED)
        if cached is not None and cached[0] == root:
            return cached[1], cached[2]
        host_key = self.platform.host_key(request.url.host)
        # A listed host is the real platform's, whose paths are absolute: the root (the
        # path of a base URL such as http://127.0.0.1:8080/api) belongs to other hosts.
        incoming = MockRequest.from_httpx(request, root="" if host_key else root)
        incoming.host_key = host_key
        route = self._match(incoming)
        request.extensions[_RESOLVED] = (root, incoming, route)
        return incoming, route

    def _match(self, incoming: MockRequest) -> Route | None:
        if _is_control(incoming) or not incoming.within_root:
            return None
        candidates: list[tuple[Route, dict[str, str]]] = []
        for route in self.platform.routes:
            if not route.serves(incoming.host_key):
                continue
            params = route.match(incoming.method, incoming.path)
            if params is not None:
                candidates.append((route, params))
        incoming.operation = self._operation_of(incoming)
        # A route narrowed to the request's operation wins over a generic one.
        narrowed = [c for c in candidates if c[0].operation is not None]
        generic = [c for c in candidates if c[0].operation is None]
        for route, params in narrowed:
            if route.operation == incoming.operation:
                incoming.path_params = params
                return route
        if generic:
            route, incoming.path_params = generic[0]
            return route
        return None

    def _operation_of(self, incoming: MockRequest) -> str | None:
        try:
            return self.platform.operation_of(incoming)
        except Exception:  # an unreadable body has no operation; the platform says unknown
            log.debug("operation_of failed for %r", incoming, exc_info=True)
            return None

    async def _run(self, route: Route | None, incoming: MockRequest) -> httpx.Response:
        try:
            if route is None:
                return self.platform.unknown(incoming)
            result = route.handler(incoming, self.state)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Reply as reply:
            return reply.response
        except MalformedRequest as exc:
            return self.platform.malformed(incoming, str(exc))
        except Exception as exc:
            log.exception("mock handler failed for %s %s", incoming.method, incoming.path)
            return self.platform.failure(incoming, exc)

    def _fault_answer(
        self, fault: Fault, incoming: MockRequest, real: httpx.Response | None
    ) -> Answer:
        if fault.kind is FaultKind.DROP:
            if real is not None:
                return Answer(_with_body(real, real.content), drop=True)
            return Answer(httpx.Response(200, content=b"\0" * _DROP_LENGTH), drop=True)
        if fault.kind is FaultKind.TRUNCATE:
            assert real is not None
            keep = fault.keep if fault.keep is not None else len(real.content) // 2
            return Answer(_with_body(real, real.content[:keep]))
        if fault.kind is FaultKind.MALFORMED:
            assert real is not None
            if fault.body is not None:
                return Answer(_with_body(real, fault.body.encode("utf-8"), fault.content_type))
            shaped = self.platform.fault_response(fault, incoming)
            body = shaped.content if shaped is not None else _MALFORMED
            return Answer(_with_body(real, body))
        response = self._status_response(fault, incoming)
        if fault.kind is FaultKind.RATE_LIMIT:
            response.headers["Retry-After"] = _seconds(fault.retry_after)
        return Answer(response)

    def _status_response(self, fault: Fault, incoming: MockRequest) -> httpx.Response:
        status = fault.status_code
        if fault.body is not None:
            headers = {"Content-Type": fault.content_type or "text/plain; charset=utf-8"}
            return httpx.Response(status, headers=headers, content=fault.body.encode("utf-8"))
        shaped = self.platform.fault_response(fault, incoming)
        if shaped is not None:
            return httpx.Response(
                status,
                headers=[h for h in shaped.headers.raw if h[0].lower() != b"content-length"],
                content=shaped.content,
            )
        return httpx.Response(
            status,
            json={"error": "InjectedFault", "message": f"Injected {fault.kind.value} {status}"},
        )


class MockTransport(httpx.AsyncBaseTransport):
    """An httpx transport that answers from a :class:`MockServer` (no sockets)."""

    def __init__(self, server: MockServer, *, root: str = "") -> None:
        self.server = server
        self.root = root

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` from the server."""
        await request.aread()
        return await self.server.handle(request, root=self.root)


_BEFORE_STATE = frozenset({FaultKind.STATUS, FaultKind.RATE_LIMIT, FaultKind.DROP})


def _with_body(
    response: httpx.Response, body: bytes, content_type: str | None = None
) -> httpx.Response:
    headers = [
        (name, value)
        for name, value in response.headers.raw
        if name.lower() not in (b"content-length", b"content-encoding", b"transfer-encoding")
        and not (content_type and name.lower() == b"content-type")
    ]
    if content_type:
        headers.append((b"Content-Type", content_type.encode("latin-1")))
    return httpx.Response(response.status_code, headers=headers, content=body)


def _is_control(incoming: MockRequest) -> bool:
    path = incoming.path
    return incoming.within_root and (path == _CONTROL or path.startswith(_CONTROL + "/"))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_routes(platform: MockPlatform) -> None:
    names: dict[str, Route] = {}
    keys = set(platform.hosts.values())
    for route in platform.routes:
        if route.host is not None and route.host not in keys:
            raise ValueError(
                f"route {route.name!r} of {platform.name!r} names the host {route.host!r}, "
                f"which {type(platform).__name__}.hosts does not map to"
            )
        if route.name.startswith("_"):
            raise ValueError(f"route names starting with '_' are reserved: {route.name!r}")
        if route.name in names:
            raise ValueError(f"two routes of {platform.name!r} are named {route.name!r}")
        names[route.name] = route
