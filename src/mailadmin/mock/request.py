"""One request as a mock handler sees it, whichever front door it came through."""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["MalformedRequest", "MockRequest"]


_UNSET: Any = object()


class MalformedRequest(ValueError):
    """The request body cannot be read; the server answers with the platform's own error."""


class MockRequest:
    """A received request.

    ``method`` (upper case), ``path`` (relative to the mock's root, ``"/tenants/x"``),
    ``query`` (``httpx.QueryParams``), ``headers``, ``body`` (bytes); ``path_params`` holds
    the values of the matched route's ``{placeholders}``; ``operation`` is the platform's
    operation key (:meth:`MockPlatform.operation_of`) once the server has asked for it;
    ``within_root`` is False for a request outside the mock's root path (never routed);
    ``host`` is the host name the request was sent to and ``host_key`` its key in
    :attr:`MockPlatform.hosts` (``None`` for a host not listed there). :meth:`json` and
    :meth:`xml` parse the body once and return the same object after that (treat it as
    read-only).
    """

    def __init__(
        self,
        method: str,
        path: str,
        *,
        query: httpx.QueryParams | None = None,
        headers: httpx.Headers | None = None,
        body: bytes = b"",
        url: str = "",
    ) -> None:
        self.method = method.upper()
        self.path = path or "/"
        self.query = query if query is not None else httpx.QueryParams()
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = body
        self.url = url
        self.path_params: dict[str, str] = {}
        self.operation: str | None = None
        self.within_root = True
        self.host = httpx.URL(url).host if url else ""
        self.host_key: str | None = None
        self._json: Any = _UNSET
        self._xml: Element | None = None

    @classmethod
    def from_httpx(cls, request: httpx.Request, *, root: str = "") -> MockRequest:
        """Build from an ``httpx.Request``; ``root`` is a path prefix to strip (``"/api"``)."""
        path = request.url.path
        root = root.rstrip("/")
        within = not root or path == root or path.startswith(root + "/")
        if root and within:
            path = path[len(root) :] or "/"
        incoming = cls(
            request.method,
            path,
            query=request.url.params,
            headers=request.headers,
            body=request.content,
            url=str(request.url),
        )
        incoming.within_root = within
        return incoming

    def json(self) -> Any:
        """The body parsed as JSON (once); :class:`MalformedRequest` when it is not JSON."""
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body or b"null")
            except (ValueError, UnicodeDecodeError) as exc:
                raise MalformedRequest("the request body is not valid JSON") from exc
        return self._json

    def xml(self) -> Element:
        """The body parsed as XML (once; DTDs and entities refused); :class:`MalformedRequest`."""
        if self._xml is None:
            from mailadmin import errors
            from mailadmin.wire.safexml import parse_xml

            try:
                self._xml = parse_xml(self.body, source="the client")
            except errors.ProtocolError as exc:
                raise MalformedRequest(exc.message) from exc
        return self._xml

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def basic_auth(self) -> tuple[str, str] | None:
        """``(username, password)`` from an ``Authorization: Basic`` header, else ``None``."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        return (username, password) if sep else None

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header, else ``None``."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    def __repr__(self) -> str:
        return f"<MockRequest {self.method} {self.path}>"
