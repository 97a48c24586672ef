"""The standalone front door: a mock server as a plain ASGI application.

Every HTTP request is turned into an ``httpx.Request`` and answered by
:meth:`MockServer.answer`, the dispatch the in-process front door uses too, so both give
the same answers. A dropped-connection fault starts the response with a
``Content-Length`` and then aborts, so the client sees a broken connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from mailadmin.mock.server import MockServer

__all__ = ["ConnectionDropped", "MockASGIApp", "quiet_dropped_connections"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ConnectionDropped(Exception):
    """Raised inside the ASGI app to make the server abort the connection on purpose."""


class MockASGIApp:
    """ASGI application answering from ``server``."""

    def __init__(self, server: MockServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await _request(scope, receive)
        answer = await self.server.answer(request, root=scope.get("root_path", ""))
        response = answer.response
        headers = [
            (name.lower(), value)
            for name, value in response.headers.raw
            if not (answer.drop and name.lower() == b"content-length")
        ]
        if answer.drop:
            length = str(max(len(response.content), 1)).encode()
            headers.append((b"content-length", length))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        if answer.drop:
            raise ConnectionDropped("connection dropped by an injected fault")
        await send({"type": "http.response.body", "body": response.content})


async def _request(scope: Scope, receive: Receive) -> httpx.Request:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers = [(bytes(name), bytes(value)) for name, value in scope.get("headers", [])]
    host = next((v.decode("latin-1") for n, v in headers if n.lower() == b"host"), None)
    if host is None:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}{raw_path.decode('latin-1')}"
    if query:
        url += "?" + query.decode("latin-1")
    return httpx.Request(scope["method"], url, headers=headers, content=b"".join(chunks))


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_FILTER = _DropFilter()


def quiet_dropped_connections(logger_name: str = "uvicorn.error") -> None:
    """Keep the server's log free of the tracebacks of dropped-connection faults."""
    logger = logging.getLogger(logger_name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
