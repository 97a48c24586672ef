"""The control API every mock serves under ``/_mock/``, for tests in any language.

=========================  =============================================================
``GET /_mock/``            platform name and its routes
``POST /_mock/reset``      back to the start state; requests, faults, operations forgotten
``GET /_mock/state``       the state snapshot (JSON)
``PUT /_mock/state``       replace the state: defaults, then the body (JSON, or TOML with
                           ``Content-Type: application/toml``) as a seed
``GET /_mock/requests``    recorded requests (``?write=true``: writes only;
                           ``?operation=set_plan``: one operation)
``DELETE /_mock/requests`` forget the recorded requests
``GET /_mock/faults``      faults in force, with ``seen`` / ``fired`` counters
``POST /_mock/faults``     inject a fault (or a list); body as :class:`~.faults.Fault`
``DELETE /_mock/faults``   remove every fault (``/_mock/faults/{id}``: one)
``GET /_mock/operations``  asynchronous operations
``PUT /_mock/operations``  set their progression: ``{"mode": "polls", "polls": 2}``,
                           optional ``"kind": "set_plan"``
``POST /_mock/clock``      ``{"advance": 30}``: move a manual clock forward
``GET /_mock/throttle``    the throttle in force with its counters (``null``: none)
``PUT /_mock/throttle``    throttle like the platform: ``{"rate": 200, "burst": 40,
                           "per": "tenant"}`` (see :mod:`~.throttle`)
``DELETE /_mock/throttle`` stop throttling
=========================  =============================================================

Control calls are never recorded and never hit by faults. Errors answer 4xx with
``{"error": code, "message": text}``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pydantic

from mailadmin import errors
from mailadmin.mock.clock import ManualClock
from mailadmin.mock.faults import Fault
from mailadmin.mock.operations import Progression
from mailadmin.mock.request import MalformedRequest
from mailadmin.mock.state import SeedError
from mailadmin.mock.throttle import Throttle

if TYPE_CHECKING:
    from mailadmin.mock.request import MockRequest
    from mailadmin.mock.server import MockServer

__all__ = ["handle_control"]

_Handler = Callable[["MockServer", "MockRequest"], httpx.Response]


async def handle_control(server: MockServer, request: MockRequest) -> httpx.Response:
    """Answer one ``/_mock/...`` request."""
    path = request.path[len("/_mock") :].strip("/")
    head, _, rest = path.partition("/")
    handler = _TABLE.get((request.method, head))
    if handler is None or (rest and handler is not _delete_faults):
        return _error(404, "UnknownControl", f"No control operation {request.method} /_mock/{path}")
    try:
        return handler(server, request)
    except (MalformedRequest, SeedError) as exc:
        return _error(400, "BadRequest", str(exc))
    except pydantic.ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return _error(400, "BadRequest", detail)
    except errors.MailadminError as exc:
        return _error(400, "BadRequest", exc.message)


def _info(server: MockServer, request: MockRequest) -> httpx.Response:
    routes = [
        {
            "name": r.name,
            "method": r.method,
            "path": r.path,
            "operation": r.operation,
            "write": r.write,
        }
        for r in server.platform.routes
    ]
    return httpx.Response(200, json={"platform": server.name, "routes": routes})


def _reset(server: MockServer, request: MockRequest) -> httpx.Response:
    server.reset()
    return httpx.Response(200, json={"reset": True})


def _get_state(server: MockServer, request: MockRequest) -> httpx.Response:
    return httpx.Response(200, json=server.snapshot())


def _put_state(server: MockServer, request: MockRequest) -> httpx.Response:
    content_type = request.headers.get("content-type", "")
    if "toml" in content_type:
        try:
            seed: Any = tomllib.loads(request.text())
        except tomllib.TOMLDecodeError as exc:
            raise MalformedRequest(f"the body is not valid TOML: {exc}") from exc
    else:
        seed = request.json()
    if not isinstance(seed, dict):
        raise MalformedRequest("the seed must be an object")
    server.seed(seed)
    return httpx.Response(200, json=server.snapshot())


def _get_requests(server: MockServer, request: MockRequest) -> httpx.Response:
    records = server.requests
    if request.query.get("write", "").lower() in ("1", "true", "yes"):
        records = server.writes()
    operation = request.query.get("operation")
    if operation:
        records = [r for r in records if operation in (r.operation, r.route)]
    return httpx.Response(200, json=[r.to_dict() for r in records])


def _delete_requests(server: MockServer, request: MockRequest) -> httpx.Response:
    server.clear_requests()
    return httpx.Response(200, json={"cleared": True})


def _get_faults(server: MockServer, request: MockRequest) -> httpx.Response:
    return httpx.Response(200, json=[f.to_dict() for f in server.faults])


def _post_faults(server: MockServer, request: MockRequest) -> httpx.Response:
    body = request.json()
    specs = body if isinstance(body, list) else [body]
    # Validate every fault before injecting any, so a bad list changes nothing.
    faults = [Fault.model_validate(spec) for spec in specs]
    injected = [server.inject(fault).to_dict() for fault in faults]
    return httpx.Response(201, json=injected if isinstance(body, list) else injected[0])


def _delete_faults(server: MockServer, request: MockRequest) -> httpx.Response:
    rest = request.path.rstrip("/").split("/faults", 1)[1].strip("/")
    if not rest:
        server.clear_faults()
        return httpx.Response(200, json={"cleared": True})
    if not rest.isdigit() or not server.remove_fault(int(rest)):
        return _error(404, "UnknownFault", f"No fault with id {rest}")
    return httpx.Response(200, json={"removed": int(rest)})


def _get_operations(server: MockServer, request: MockRequest) -> httpx.Response:
    return httpx.Response(200, json=server.state.operations.snapshot())


def _put_operations(server: MockServer, request: MockRequest) -> httpx.Response:
    body = request.json()
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be an object")
    kind = body.pop("kind", None)
    progression = Progression.model_validate(body)
    server.state.operations.set_progression(progression, kind)
    return httpx.Response(200, json={"kind": kind, **progression.model_dump()})


def _post_clock(server: MockServer, request: MockRequest) -> httpx.Response:
    if not isinstance(server.clock, ManualClock):
        return _error(409, "RealClock", "This server runs on the real clock; it cannot be moved")
    body = request.json()
    seconds = body.get("advance") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise MalformedRequest("'advance' must be a number of seconds, 0 or more")
    server.clock.advance(float(seconds))
    server.state.operations.settle()
    return httpx.Response(200, json={"now": server.clock.now()})


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "message": message})


def _get_throttle(server: MockServer, request: MockRequest) -> httpx.Response:
    throttling = server.throttling
    if throttling is None:  # httpx reads json=None as no body: JSON null, written out
        return httpx.Response(200, content=b"null", headers={"Content-Type": "application/json"})
    return httpx.Response(200, json=throttling.to_dict())


def _put_throttle(server: MockServer, request: MockRequest) -> httpx.Response:
    body = request.json()
    if not isinstance(body, dict):
        raise MalformedRequest("the throttle must be an object")
    throttling = server.throttle(Throttle.model_validate(body))
    assert throttling is not None
    return httpx.Response(200, json=throttling.to_dict())


def _delete_throttle(server: MockServer, request: MockRequest) -> httpx.Response:
    server.throttle(None)
    return httpx.Response(200, json={"throttling": False})


_TABLE: dict[tuple[str, str], _Handler] = {
    ("GET", ""): _info,
    ("POST", "reset"): _reset,
    ("GET", "state"): _get_state,
    ("PUT", "state"): _put_state,
    ("GET", "requests"): _get_requests,
    ("DELETE", "requests"): _delete_requests,
    ("GET", "faults"): _get_faults,
    ("POST", "faults"): _post_faults,
    ("DELETE", "faults"): _delete_faults,
    ("GET", "operations"): _get_operations,
    ("PUT", "operations"): _put_operations,
    ("POST", "clock"): _post_clock,
    ("GET", "throttle"): _get_throttle,
    ("PUT", "throttle"): _put_throttle,
    ("DELETE", "throttle"): _delete_throttle,
}
