"""pypsrp's HTTP requests answered by an httpx transport on the event loop.

pypsrp sends with ``requests``; a provider given an httpx transport (tests inject a
mock's router, so the conformance kit and the demo's checks run in process) mounts this
adapter on pypsrp's session: each request is handed to the transport on the loop the
provider's call runs on (that loop is free: it is awaiting the worker thread), and the
answer comes back as a ``requests.Response``. Nothing else about pypsrp changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

__all__ = ["TransportAdapter", "mount"]


class TransportAdapter(BaseAdapter):
    """A ``requests`` adapter that answers from an ``httpx.AsyncBaseTransport``."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, loop: Callable[[], asyncio.AbstractEventLoop]
    ) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        """Answer one request through the transport."""
        body = request.body or b""
        outgoing = httpx.Request(
            request.method or "POST",
            request.url or "",
            headers=dict(request.headers),
            content=body.encode() if isinstance(body, str) else body,
        )

        async def answer() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._transport.handle_async_request(outgoing)
            content = await response.aread()
            return response.status_code, list(response.headers.raw), content

        future = asyncio.run_coroutine_threadsafe(answer(), self._loop())
        seconds = timeout[-1] if isinstance(timeout, tuple) else timeout
        try:
            status, headers, content = future.result(seconds)
        except httpx.TransportError as exc:
            raise requests.ConnectionError(str(exc), request=request) from None
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(
            {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        )
        response._content = content
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close: the transport belongs to the provider."""


def mount(wsman: Any, transport: httpx.AsyncBaseTransport, loop: Callable[[], Any]) -> None:
    """Route ``wsman``'s requests through ``transport``. pypsrp builds its session lazily
    (auth and headers included); it is built here, once, to mount the adapter on it."""
    http = wsman.transport
    if http.session is None:
        http.session = http._build_session()
    adapter = TransportAdapter(transport, loop)
    http.session.mount("http://", adapter)
    http.session.mount("https://", adapter)
