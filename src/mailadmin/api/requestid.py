"""Request ids and the request log, as a pure ASGI layer.

Every answer carries ``X-Request-Id`` (the caller's when sane, else a new one), every
request is logged once with its status, time and identity, and an unexpected failure is
answered ``500`` without detail (the log keeps the trace). Starlette's
``BaseHTTPMiddleware`` did this before at the cost of a task, a stream and a response
object per request; this layer only wraps ``send``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mailadmin.api.problems import problem_response
from mailadmin.orchestration import tracing
from mailadmin.orchestration.jsonlogs import REQUEST_ID as REQUEST_ID_VAR

__all__ = ["REQUEST_ID", "RequestIds"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The header carrying the request id, taken from the caller when sane, else made up.
REQUEST_ID = "X-Request-Id"
_HEADER = REQUEST_ID.lower().encode("latin-1")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_log = logging.getLogger("mailadmin.api")


class RequestIds:
    """The ASGI layer of the module docs, around ``app``."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", ()):
            if name.lower() == _HEADER:
                given = value.decode("latin-1")
                break
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        status = 0
        header = (_HEADER, rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0].lower() != _HEADER]
                message["headers"] = [*headers, header]
            await send(message)

        token = REQUEST_ID_VAR.set(rid)
        traced = None
        if tracing.enabled():
            # The request's span is current for the route and whatever it starts (a run).
            traced = tracing.span(
                f"HTTP {scope['method']} {scope['path']}",
                {"http.request.method": scope["method"], "url.path": scope["path"]}
                | {"mailadmin.request_id": rid},
                kind="server",
            )
            traced.__enter__()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Never a stack trace to the caller; the log keeps it for developers.
            _log.exception("request %s %s %s failed", rid, scope["method"], scope["path"])
            if status:  # the answer had begun: nothing more can be said on it
                raise
            answer = problem_response(
                500,
                "internal",
                "The service failed to answer; the request id names it in the service's log",
                instance=scope["path"],
                request_id=rid,
            )
            await answer(scope, receive, send_with_id)
        finally:
            REQUEST_ID_VAR.reset(token)
            if traced is not None:
                traced.__exit__(None, None, None)
        _log.info(
            "request %s %s %s -> %s in %.1f ms as %s",
            rid,
            scope["method"],
            scope["path"],
            status,
            (time.perf_counter() - started) * 1000,
            state.get("identity", "-"),
            extra={"request_id": rid, "status": status},
        )
