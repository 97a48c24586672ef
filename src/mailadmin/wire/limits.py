"""Limits on what a platform may send back: body size (after decompression) and nesting.

The transport reads every answer through :func:`read_body`, which decodes ``gzip`` and
``deflate`` itself, a bounded piece at a time, so a small compressed body that inflates to
gigabytes is refused after at most ``limit`` bytes were produced: memory never grows past
the limit. :func:`iter_body` applies the same limits to an answer consumed as it arrives
(a streamed parse keeps one piece in memory, not the body). :func:`json_depth` measures
how deep a JSON text nests without parsing it, so a million-deep ``[[[[...`` is refused
before the parser recurses.
"""

from __future__ import annotations

import zlib
from itertools import accumulate, repeat
from operator import mul, xor
from typing import TYPE_CHECKING

from mailadmin import errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_JSON_DEPTH",
    "MAX_XML_DEPTH",
    "BodyTooLarge",
    "check_declared",
    "check_json",
    "decode_limited",
    "iter_body",
    "json_depth",
    "json_too_deep",
    "read_body",
    "too_large",
]

#: The encodings the transport asks for: the ones :func:`read_body` decodes with a bound.
ACCEPT_ENCODING = "gzip, deflate"
#: Deepest nesting of a JSON answer accepted (admin APIs nest a dozen levels at most).
MAX_JSON_DEPTH = 64
#: Deepest nesting of an XML answer accepted (an OX user record is about ten deep).
MAX_XML_DEPTH = 100

_PIECE = 64 * 1024  # bytes produced per decompression step


class BodyTooLarge(errors.ProtocolError):
    """An answer larger than the instance's ``max_response_bytes``; ``limit`` in bytes."""

    def __init__(self, message: str, *, limit: int, debug: dict[str, object] | None = None):
        super().__init__(message, debug=dict(debug or {}, limit=limit))
        self.limit = limit


class _Decoder:
    """Decodes one content encoding, never producing more than ``room`` bytes per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._first = encoding == "deflate"  # zlib-wrapped or raw: decided by the first bytes

    def feed(self, data: bytes, out: list[bytes], limit: int, size: int) -> int:
        """Decode ``data`` into ``out``; return the new decoded size, stop past ``limit``."""
        for piece in self.pieces(data, limit - size):
            out.append(piece)
            size += len(piece)
        return size

    def pieces(self, data: bytes, room: int) -> Iterator[bytes]:
        """Decode ``data`` a piece at a time; stop after the piece that passes ``room``."""
        if not self.encoding or self.encoding == "identity":
            yield data
            return
        if self._first:
            self._first = False
            # RFC 9110 deflate is zlib-wrapped; some servers send it raw.
            raw = len(data) >= 1 and (data[0] & 0x0F) != 8
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        assert self._zlib is not None
        pending = data
        while pending:
            piece = self._zlib.decompress(pending, min(_PIECE, room + 1))
            yield piece
            room -= len(piece)
            if room < 0:
                return
            pending = self._zlib.unconsumed_tail
            if self._zlib.eof:
                rest = self._zlib.unused_data
                if rest.strip(b"\0"):
                    # A second gzip member: decode it with a fresh decompressor.
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    pending = rest
                else:
                    break

    def flush(self, out: list[bytes], limit: int, size: int) -> int:
        if self._zlib is None:
            return size
        piece = self._zlib.flush(min(_PIECE, limit - size + 1))
        out.append(piece)
        return size + len(piece)


async def read_body(response: httpx.Response, *, limit: int, source: str) -> bytes:
    """Read a streamed ``response`` and return its decoded body, at most ``limit`` bytes.

    Raises :class:`BodyTooLarge` as soon as the declared length, the bytes received or
    the bytes decoded pass ``limit`` (the connection is closed, nothing more is read), and
    :class:`~mailadmin.errors.ProtocolError` for an encoding it does not decode
    or a body that does not decode. ``source`` names the sender in messages.
    """
    headers = response.headers
    encoding = headers.get("content-encoding", "").strip().lower()
    try:
        check_declared(encoding, headers.get("content-length", ""), limit=limit, source=source)
    except errors.ProtocolError:
        await response.aclose()
        raise
    if response.is_stream_consumed:
        # Built in process with its content (a respx or MockTransport answer): already
        # decoded and in memory; the limit still applies to what is passed on.
        await response.aclose()
        if len(response.content) > limit:
            raise too_large(source, limit)
        check_json(headers.get("content-type", ""), response.content, source)
        return response.content
    try:
        body = await decode_limited(
            response.aiter_raw(), encoding=encoding, limit=limit, source=source
        )
    finally:
        await response.aclose()
    check_json(headers.get("content-type", ""), body, source)
    return body


def check_declared(encoding: str, declared: str, *, limit: int, source: str) -> None:
    """Refuse an answer from its headers alone: an encoding :func:`decode_limited` does
    not decode, or a declared ``Content-Length`` past ``limit``."""
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise errors.ProtocolError(
            f"{source} sent an answer in an encoding that is not accepted",
            debug={"content_encoding": encoding[:100]},
        )
    declared = declared.strip()
    if declared.isdigit() and int(declared) > limit:
        raise too_large(source, limit)


async def decode_limited(
    chunks: AsyncIterator[bytes], *, encoding: str, limit: int, source: str
) -> bytes:
    """The body ``chunks`` carry, decoded (``gzip``, ``deflate`` or none), refused with
    :class:`BodyTooLarge` as soon as the bytes received or produced pass ``limit``."""
    decoder = _Decoder(encoding)
    out: list[bytes] = []
    received = size = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise too_large(source, limit)
            size = decoder.feed(chunk, out, limit, size)
            if size > limit:
                raise too_large(source, limit)
        size = decoder.flush(out, limit, size)
        if size > limit:
            raise too_large(source, limit)
    except zlib.error as exc:
        raise errors.ProtocolError(
            f"{source} sent an answer that could not be decoded",
            debug={"content_encoding": encoding, "cause": str(exc)},
        ) from None
    return b"".join(out)


async def iter_body(response: httpx.Response, *, limit: int, source: str) -> AsyncIterator[bytes]:
    """Yield the decoded body of a streamed ``response`` piece by piece, as it arrives.

    The same encodings and refusals as :func:`read_body` (:class:`BodyTooLarge` once the
    declared length, the bytes received or the bytes decoded pass ``limit``, raised
    mid-stream after the pieces before it were yielded); JSON depth is not checked (the
    caller parses the pieces itself). The response is closed when the body ends or the
    iteration stops.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    try:
        check_declared(
            encoding, response.headers.get("content-length", ""), limit=limit, source=source
        )
    except errors.ProtocolError:
        await response.aclose()
        raise
    if response.is_stream_consumed:
        # Already in memory (built in process, or read whole for an error answer).
        await response.aclose()
        if len(response.content) > limit:
            raise too_large(source, limit)
        for start in range(0, len(response.content), _PIECE):
            yield response.content[start : start + _PIECE]
        return
    decoder = _Decoder(encoding)
    received = size = 0
    out: list[bytes] = []
    try:
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > limit:
                raise too_large(source, limit)
            # One piece at a time: a small compressed chunk may inflate to the limit.
            for piece in decoder.pieces(chunk, limit - size):
                size += len(piece)
                if size > limit:
                    raise too_large(source, limit)
                if piece:
                    yield piece
        size = decoder.flush(out, limit, size)
        if size > limit:
            raise too_large(source, limit)
        for piece in out:
            if piece:
                yield piece
    except zlib.error as exc:
        raise errors.ProtocolError(
            f"{source} sent an answer that could not be decoded",
            debug={"content_encoding": encoding, "cause": str(exc)},
        ) from None
    finally:
        await response.aclose()


def too_large(source: str, limit: int) -> BodyTooLarge:
    """The error for an answer from ``source`` past ``limit`` bytes."""
    return BodyTooLarge(
        f"{source} sent an answer larger than the limit of {_size(limit)}", limit=limit
    )


def check_json(content_type: str, body: bytes, source: str) -> None:
    """Refuse a JSON answer nested past :data:`MAX_JSON_DEPTH` here, for every reader
    (a plugin calling ``response.json()`` itself would otherwise recurse into it)."""
    if "json" in content_type.lower() and json_too_deep(body):
        raise errors.ProtocolError(
            f"{source} sent JSON nested deeper than {MAX_JSON_DEPTH} levels, which is refused",
            debug={"max_depth": MAX_JSON_DEPTH},
        )


# Bytes that matter for nesting: brackets and quotes (escapes are removed first).
_NOT_SPECIAL = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1
_QUOTE = [0] * 256
_QUOTE[ord('"')] = 1


def json_depth(content: bytes | str, *, stop_past: int | None = None) -> int:
    """How deep ``content`` nests arrays and objects (brackets inside strings ignored).

    Every step is a C loop over the text (``bytes.replace``, ``translate``, ``map`` and
    ``accumulate``), a piece at a time, so nothing per element is kept. With
    ``stop_past`` the count stops at the first piece that goes deeper (a million-deep text
    is judged from its first piece).
    """
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    # Escaped backslashes first, then escaped quotes: what is left of "..." holds no quote.
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = plain.translate(None, _NOT_SPECIAL)
    deepest = depth = parity = 0
    for start in range(0, len(kept), _PIECE):
        piece = kept[start : start + _PIECE]
        # 1 outside a string, 0 inside: the running parity of the quotes seen.
        quotes = list(accumulate(map(_QUOTE.__getitem__, piece), xor, initial=parity))
        outside = map(xor, repeat(1), quotes[1:])
        steps = list(accumulate(map(mul, map(_STEP.__getitem__, piece), outside), initial=depth))
        deepest = max(deepest, *steps)
        depth, parity = steps[-1], quotes[-1]
        if stop_past is not None and deepest > stop_past:
            break
    return deepest


def json_too_deep(content: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when ``content`` nests deeper than ``max_depth`` (cheap for most answers: a
    text with no more brackets than that cannot)."""
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    return json_depth(raw, stop_past=max_depth) > max_depth


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"
