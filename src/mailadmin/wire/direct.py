"""Sending one request over aiohttp without httpx's client in between.

The transport's default backend is aiohttp. Through ``httpx.AsyncClient`` every request
was built twice (httpx's client merges headers, cookies and URL, then the httpx-aiohttp
transport turns it into an aiohttp request) and every answer was wrapped twice: a third
of a request's client CPU, measured with py-spy on an OX bulk run. Here the request is an
``httpx.Request`` built once, sent on the same aiohttp session and connection pool, and
the answer an ``httpx.Response`` with its body already read under the size limit, so
plugins, ``httpx.Auth`` flows, respx-style tests and logs see the same types as before.

Not sent here: streamed uploads; the other backends (``"httpx"``, a test transport) go
through ``httpx.AsyncClient`` as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from json import dumps as json_dumps
from typing import TYPE_CHECKING, Any

from mailadmin.wire.adapters import aiohttp_errors_as_httpx, set_read_body
from mailadmin.wire.limits import check_declared, check_json, decode_limited

if TYPE_CHECKING:
    import httpx
    from aiohttp import ClientResponse, ClientSession, ClientTimeout

__all__ = ["build_request", "send"]

_CHUNK = 64 * 1024


def build_request(
    method: str,
    url: httpx.URL,
    *,
    defaults: Mapping[str, str],
    headers: Mapping[str, str] | None,
    params: Any,
    content: str | bytes | None,
    json: Any,
    data: Mapping[str, Any] | None,
    cookies: httpx.Cookies | None,
) -> httpx.Request:
    """The request ``httpx.AsyncClient.build_request`` would build for a client with
    ``defaults`` as its headers and ``cookies`` as its jar, built directly."""
    import httpx

    merged = dict(defaults)
    if headers:
        lowered = {name.lower(): name for name in merged}
        for name, value in headers.items():
            known = lowered.get(name.lower())
            if known is not None and known != name:
                del merged[known]
            merged[name] = value
    if (
        params is None
        and data is None
        and (content is None or json is None)
        and isinstance(content, bytes | str | None)  # not a streamed upload
    ):
        # The common shapes (a body of bytes, text or JSON) built as httpx would, without
        # its generic encoding pass (a tenth of a request's client CPU).
        if json is not None:
            body = json_dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            content = body.encode("utf-8")
            if not any(name.lower() == "content-type" for name in merged):
                merged["Content-Type"] = "application/json"
        elif isinstance(content, str):
            content = content.encode("utf-8")
        body_bytes = content or b""
        if body_bytes:
            merged["Content-Length"] = str(len(body_bytes))
        request = httpx.Request(method, url, headers=merged, stream=httpx.ByteStream(body_bytes))
        set_read_body(request, body_bytes)  # what Request.read() leaves: .content works
    else:
        request = httpx.Request(
            method, url, params=params, headers=merged, content=content, json=json, data=data
        )
    if cookies is not None:  # only once a platform set some (the transport decides)
        cookies.set_cookie_header(request)
    return request


async def send(
    session: ClientSession,
    request: httpx.Request,
    *,
    auth: httpx.Auth | None,
    timeout: ClientTimeout,
    limit: int,
    source: str,
    cookies: httpx.Cookies | None,
) -> httpx.Response:
    """Send ``request`` (through ``auth``'s flow, if any) and return the last answer, its
    body read and decoded under ``limit`` bytes (:class:`BodyTooLarge` past it).

    aiohttp's errors come out as the httpx errors they stand for, as from httpx-aiohttp,
    so the transport's retry policy and messages stay the same.
    """
    if auth is None:
        return await _exchange(session, request, timeout, limit, source, cookies)
    flow = auth.async_auth_flow(request)
    try:
        step = await flow.__anext__()
        while True:
            response = await _exchange(session, step, timeout, limit, source, cookies)
            try:
                step = await flow.asend(response)
            except StopAsyncIteration:
                return response
    finally:
        await flow.aclose()


@cache
def _consumed() -> httpx.AsyncByteStream:
    """A stream httpx never reads: the body is set on the response already."""
    import httpx

    return httpx.AsyncByteStream()


async def _exchange(
    session: ClientSession,
    request: httpx.Request,
    timeout: ClientTimeout,
    limit: int,
    source: str,
    cookies: httpx.Cookies | None,
) -> httpx.Response:
    import httpx

    with aiohttp_errors_as_httpx():
        async with session.request(
            request.method,
            str(request.url),
            # A plain dict: aiohttp walks httpx's Headers slowly (a sixth of the send).
            headers=dict(request.headers.items()),
            data=request.content or None,
            allow_redirects=False,
            auto_decompress=False,  # decoded here, under the limit
            compress=False,
            timeout=timeout,
        ) as answer:
            body = await _read(answer, limit, source)
            status, raw_headers, reason = answer.status, answer.raw_headers, answer.reason
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if reason:
        extensions["reason_phrase"] = reason.encode()
    # The body is already read: hand httpx a stream it will not read and set the body as
    # its own read would (``content=`` would copy it through a byte stream again).
    response = httpx.Response(
        status, headers=raw_headers, request=request, extensions=extensions, stream=_consumed()
    )
    set_read_body(response, body)
    response.is_stream_consumed = response.is_closed = True
    if cookies is not None and "set-cookie" in response.headers:
        cookies.extract_cookies(response)
    check_json(response.headers.get("content-type", ""), body, source)
    return response


async def _read(answer: ClientResponse, limit: int, source: str) -> bytes:
    """The decoded body of ``answer``, refused past ``limit`` bytes received or produced."""
    headers = answer.headers
    encoding = headers.get("Content-Encoding", "").strip().lower()
    declared = headers.get("Content-Length", "")
    check_declared(encoding, declared, limit=limit, source=source)
    if declared.strip().isdigit() and encoding in ("", "identity"):
        # The common case: a declared, small enough, plain body (aiohttp reads no more
        # than the declared length).
        return await answer.read()
    chunks = answer.content.iter_chunked(_CHUNK)
    return await decode_limited(chunks, encoding=encoding, limit=limit, source=source)
