"""Every place mailadmin reaches into a private part of httpx, aiohttp or httpx-aiohttp.

The transport stays on public APIs and calls these few functions instead, so an upgrade
of one of those libraries is checked here and nowhere else. ``tests/test_adapters.py``
pins the versions this module was written for (:data:`WRITTEN_FOR`) and checks that each
attribute it touches still exists and still means what it did.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx
    from aiohttp import ClientSession

__all__ = [
    "WRITTEN_FOR",
    "aiohttp_errors_as_httpx",
    "send_writes_once",
    "set_read_body",
    "skip_idle_cookie_work",
]

#: Distribution -> the versions (``>=low,<high``) whose private parts this module knows.
WRITTEN_FOR: dict[str, tuple[str, str]] = {
    "httpx": ("0.27", "0.30"),
    "aiohttp": ("3.9", "4"),
    "httpx-aiohttp": ("0.1.8", "0.3"),
}


def set_read_body(message: httpx.Request | httpx.Response, body: bytes) -> None:
    """Leave ``body`` where httpx's own ``read()``/``aread()`` would, so ``.content``,
    ``.text`` and ``.json()`` work without reading the stream again (httpx: ``_content``)."""
    message._content = body


def skip_idle_cookie_work(client: httpx.AsyncClient) -> None:
    """Let ``client`` read cookies only from answers that set some.

    httpx wraps every response for ``http.cookiejar`` even when it sets no cookie (about a
    tenth of a request's CPU on top of aiohttp); cookies that are set are still kept.
    httpx keeps its jar privately (``_cookies``); any other shape is left alone.
    """
    import httpx

    jar = getattr(client, "_cookies", None)
    if type(jar) is httpx.Cookies:
        fast = _lazy_cookies()()
        fast.jar = jar.jar
        client._cookies = fast


def send_writes_once(session: ClientSession) -> ClientSession:
    """Switch off aiohttp's own silent resend of a request whose connection dropped.

    aiohttp sends a PUT or DELETE again by itself (``_retry_connection``); only the
    transport's retry policy may decide that, so a non-idempotent write is sent once.
    """
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


def aiohttp_errors_as_httpx() -> AbstractContextManager[None]:
    """A block in which aiohttp's errors are raised as the httpx errors they stand for,
    as httpx-aiohttp maps them (its ``transport`` module, not its package, holds this)."""
    from httpx_aiohttp.transport import map_aiohttp_exceptions

    mapped: AbstractContextManager[None] = map_aiohttp_exceptions()
    return mapped


@cache
def _lazy_cookies() -> type[httpx.Cookies]:
    import httpx

    class _Cookies(httpx.Cookies):
        #: Whether any cookie was ever kept: until then no request pays for the jar.
        seen = False

        def extract_cookies(self, response: httpx.Response) -> None:
            if "set-cookie" in response.headers:
                self.seen = True
                super().extract_cookies(response)

    return _Cookies
