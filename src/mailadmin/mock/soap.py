"""SOAP for mock servers: read a request envelope once, answer with a body or a fault.

A SOAP mock dispatches on the body's first element (most SOAP stacks ignore
``SOAPAction``), so :func:`soap_operation` gives a platform's ``operation_of`` in one
line, and :func:`read_soap` hands handlers the parsed envelope (parsed once per request
and cached). :func:`soap_response` and :func:`soap_fault_response` write answers in the
request's version with that version's content type; faults go out with HTTP 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

import httpx

from mailadmin.wire.soap import (
    EnvelopeError,
    Node,
    SoapMessage,
    SoapVersion,
    content_type,
    envelope,
    fault_envelope,
    local_name,
    read_envelope,
)

if TYPE_CHECKING:
    from mailadmin.mock.request import MockRequest

__all__ = [
    "read_soap",
    "request_version",
    "soap_fault_response",
    "soap_operation",
    "soap_response",
]

# One parse per request: the platform reads the operation name to route, then the handler
# reads the same envelope.
_PARSED: WeakKeyDictionary[MockRequest, SoapMessage | EnvelopeError] = WeakKeyDictionary()


def read_soap(request: MockRequest) -> SoapMessage:
    """The request's envelope; raises :class:`~mailadmin.wire.soap.EnvelopeError` (its
    ``reason`` says what is wrong) when the body is not a readable SOAP envelope."""
    cached = _PARSED.get(request)
    if cached is None:
        try:
            cached = read_envelope(request.body, source="the client")
        except EnvelopeError as exc:
            cached = exc
        _PARSED[request] = cached
    if isinstance(cached, EnvelopeError):
        raise cached
    return cached


def soap_operation(request: MockRequest) -> str | None:
    """The local name of the body's first element, or ``None`` when there is none (not a
    POST, not an envelope, an empty body)."""
    if request.method != "POST":
        return None
    try:
        body = read_soap(request).body
    except EnvelopeError:
        return None
    return local_name(body.tag) if body is not None else None


def request_version(request: MockRequest) -> SoapVersion:
    """The SOAP version of the request: its envelope's, or else guessed from the content
    type (``application/soap+xml`` is SOAP 1.2), so a fault about an unreadable body
    still answers in the client's version."""
    try:
        return read_soap(request).version
    except EnvelopeError:
        kind = request.headers.get("content-type", "").lower()
        return SoapVersion.SOAP12 if "application/soap+xml" in kind else SoapVersion.SOAP11


def soap_response(
    body: Node | Sequence[Node] | None,
    *,
    version: SoapVersion = SoapVersion.SOAP11,
    header: Node | Sequence[Node] | None = None,
    prefixes: Mapping[str, str] | None = None,
    env_prefix: str = "soap",
    status: int = 200,
) -> httpx.Response:
    """An answer carrying ``body`` (an empty ``Body`` for ``None``) in ``version``."""
    content = envelope(
        body, header=header, version=version, prefixes=prefixes, env_prefix=env_prefix
    )
    return httpx.Response(status, headers={"Content-Type": content_type(version)}, content=content)


def soap_fault_response(
    version: SoapVersion,
    code: str,
    message: str,
    *,
    detail: Node | None = None,
    subcodes: Sequence[str] = (),
    env_prefix: str = "soap",
) -> httpx.Response:
    """A fault answer with HTTP 500 (see :func:`mailadmin.wire.soap.fault_envelope` for
    ``code``, ``detail`` and ``subcodes``)."""
    content = fault_envelope(
        version, code, message, detail=detail, subcodes=subcodes, env_prefix=env_prefix
    )
    return httpx.Response(500, headers={"Content-Type": content_type(version)}, content=content)
