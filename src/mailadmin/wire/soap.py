"""SOAP 1.1 and 1.2 for both sides of a plugin: the provider's client and the mock server.

Writing is deterministic (same input, same bytes), so requests and answers can be compared
byte for byte with fixtures: every namespace of the body and header is declared once on the
envelope, with the caller's prefixes (``prefixes={URI: "s"}``) or ``ns1``, ``ns2``... in
order of first use. Reading goes through :func:`mailadmin.wire.safexml.parse_xml` (no DTDs,
no entities), accepts any prefix and matches children by local name, the way most SOAP
stacks accept qualified and unqualified children alike.

A minimal client::

    soap = SoapClient(transport, name="ox-eu", version=SoapVersion.SOAP11, to_error=my_errors)
    answer = await soap.call("/webservices/OXUserService", node(S, "getData", None, ...),
                             write=False, operation="getData", action="urn:getData")

A long list answer (every user of a context) can be read as it arrives, one item in memory
at a time, with :meth:`SoapClient.stream`::

    ids = array("q")
    await soap.stream("/webservices/OXUserService", node(S, "listAll", None, ...),
                      item="return", handle=lambda e: ids.append(int(child_text(e, "id"))),
                      write=False, operation="listAll")
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from xml.sax.saxutils import escape, quoteattr

from mailadmin import errors
from mailadmin.wire.redaction import redact_debug
from mailadmin.wire.responses import raise_for_status
from mailadmin.wire.safexml import XmlStream, parse_xml

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    import httpx

    from mailadmin.wire.transport import Transport

__all__ = [
    "XSI",
    "EnvelopeError",
    "Node",
    "SoapClient",
    "SoapFault",
    "SoapMessage",
    "SoapVersion",
    "child",
    "child_text",
    "children",
    "content_type",
    "envelope",
    "fault_envelope",
    "is_nil",
    "local_name",
    "namespace_of",
    "node",
    "read_envelope",
    "read_fault",
    "request_headers",
]

#: XML Schema instance namespace (``xsi:nil``), written with the prefix ``xsi``.
XSI = "http://www.w3.org/2001/XMLSchema-instance"


class SoapVersion(enum.Enum):
    """The two SOAP versions; ``namespace`` is the envelope's namespace URI."""

    SOAP11 = "1.1"
    SOAP12 = "1.2"

    @property
    def namespace(self) -> str:
        """The envelope namespace of this version."""
        return _ENV_NS[self]

    @classmethod
    def of_namespace(cls, namespace: str) -> SoapVersion | None:
        """The version whose envelope namespace is ``namespace``, or ``None``."""
        return next((v for v, ns in _ENV_NS.items() if ns == namespace), None)


_ENV_NS = {
    SoapVersion.SOAP11: "http://schemas.xmlsoap.org/soap/envelope/",
    SoapVersion.SOAP12: "http://www.w3.org/2003/05/soap-envelope",
}
# SOAP 1.2 renamed the two common fault codes; callers may use either spelling.
_CODES_12 = {"Server": "Receiver", "Client": "Sender"}
_CODES_11 = {v: k for k, v in _CODES_12.items()}


def content_type(version: SoapVersion, action: str | None = None) -> str:
    """The ``Content-Type`` of a message of ``version``.

    SOAP 1.2 carries the action as a parameter of the content type; SOAP 1.1 carries it in
    the ``SOAPAction`` header instead (see :func:`request_headers`), so it is ignored here.
    """
    if version is SoapVersion.SOAP11:
        return "text/xml; charset=UTF-8"
    if action:
        return f"application/soap+xml; charset=utf-8; action={quoteattr(action)}"
    return "application/soap+xml; charset=utf-8"


def request_headers(version: SoapVersion, action: str | None = None) -> dict[str, str]:
    """The HTTP headers of a request: its content type, and for SOAP 1.1 ``SOAPAction``
    (quoted; ``""`` when there is no action, as SOAP 1.1 requires the header)."""
    headers = {"Content-Type": content_type(version, action)}
    if version is SoapVersion.SOAP11:
        headers["SOAPAction"] = f'"{action or ""}"'
    return headers


# -- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One element to write: namespace URI (``""`` for none), local name, text, children.

    ``nil`` writes ``xsi:nil="true"``; ``attrs`` are ``(name, value)`` pairs written in
    order, a name being ``"local"`` or ``"{uri}local"``.
    """

    ns: str
    name: str
    text: str | None = None
    children: tuple[Node, ...] = ()
    nil: bool = False
    attrs: tuple[tuple[str, str], ...] = ()


def node(
    ns: str,
    name: str,
    value: object = None,
    *kids: Node | None,
    attrs: Mapping[str, object] | None = None,
) -> Node:
    """Build a :class:`Node`; ``value`` becomes text (booleans as ``true``/``false``).

    ``None`` entries among ``kids`` and ``None`` attribute values are dropped, so optional
    parts read naturally.
    """
    pairs = tuple((k, _text(v)) for k, v in (attrs or {}).items() if v is not None)
    return Node(
        ns,
        name,
        None if value is None else _text(value),
        tuple(k for k in kids if k is not None),
        attrs=pairs,
    )


def envelope(
    body: Node | Sequence[Node] | None,
    *,
    header: Node | Sequence[Node] | None = None,
    version: SoapVersion = SoapVersion.SOAP11,
    prefixes: Mapping[str, str] | None = None,
    env_prefix: str = "soapenv",
) -> bytes:
    """A complete envelope around ``body`` (an empty ``Body`` for ``None``), with a
    ``Header`` when ``header`` is given.

    Every namespace used is declared on the envelope; ``prefixes`` names the prefix of each
    namespace (others get ``ns1``, ``ns2``... and ``xsi`` is always ``xsi``).
    """
    bodies = _as_tuple(body)
    headers = _as_tuple(header)
    used = list(dict.fromkeys(ns for item in (*headers, *bodies) for ns in _namespaces(item)))
    names = _prefix_map(used, prefixes or {})
    env = version.namespace
    decls = [f"xmlns:{env_prefix}={quoteattr(env)}"]
    decls += [f"xmlns:{names[ns]}={quoteattr(ns)}" for ns in used]
    out = [f"<{env_prefix}:Envelope {' '.join(decls)}>"]
    if header is not None:
        _wrap(f"{env_prefix}:Header", headers, names, out)
    _wrap(f"{env_prefix}:Body", bodies, names, out)
    out.append(f"</{env_prefix}:Envelope>")
    return "".join(out).encode("utf-8")


def fault_envelope(
    version: SoapVersion,
    code: str,
    message: str,
    *,
    detail: Node | None = None,
    subcodes: Sequence[str] = (),
    lang: str | None = "en",
    env_prefix: str = "soap",
) -> bytes:
    """A fault answer of ``version``: ``code`` is ``Server``/``Client`` or their SOAP 1.2
    names ``Receiver``/``Sender`` (either spelling works for both versions) or another code
    such as ``VersionMismatch``; it is written qualified with the envelope prefix.

    SOAP 1.1 writes ``faultcode``/``faultstring``/``detail``; SOAP 1.2 ``Code/Value`` (with
    nested ``Subcode/Value`` for ``subcodes``, written as given), ``Reason/Text`` (in
    ``lang``; ``None`` writes no ``xml:lang``, as Zimbra does) and ``Detail``. The detail
    element declares its own namespaces (``ns1``...), the way CXF and most stacks write it.
    Send it with HTTP 500.
    """
    p = env_prefix
    env = version.namespace
    detail_xml: list[str] = []
    if detail is not None:
        used = list(dict.fromkeys(_namespaces(detail)))
        names = _prefix_map(used, {})
        decls = tuple((f"xmlns:{names[ns]}", ns) for ns in used)
        _write(detail, names, detail_xml, decls)
    if version is SoapVersion.SOAP11:
        code = _CODES_11.get(code, code)
        parts = [f"<faultcode>{p}:{escape(code)}</faultcode>"]
        parts.append(f"<faultstring>{escape(message)}</faultstring>")
        if detail is not None:
            parts.append(f"<detail>{''.join(detail_xml)}</detail>")
    else:
        code = _CODES_12.get(code, code)
        lang_attr = "" if lang is None else f" xml:lang={quoteattr(lang)}"
        inner = "".join(
            f"<{p}:Subcode><{p}:Value>{escape(s)}</{p}:Value>" for s in subcodes
        ) + "".join(f"</{p}:Subcode>" for _ in subcodes)
        parts = [f"<{p}:Code><{p}:Value>{p}:{escape(code)}</{p}:Value>{inner}</{p}:Code>"]
        parts.append(f"<{p}:Reason><{p}:Text{lang_attr}>{escape(message)}</{p}:Text></{p}:Reason>")
        if detail is not None:
            parts.append(f"<{p}:Detail>{''.join(detail_xml)}</{p}:Detail>")
    return (
        f"<{p}:Envelope xmlns:{p}={quoteattr(env)}><{p}:Body><{p}:Fault>"
        f"{''.join(parts)}</{p}:Fault></{p}:Body></{p}:Envelope>"
    ).encode()


# -- reading ---------------------------------------------------------------------------------


class EnvelopeError(errors.ProtocolError):
    """A message that is not a readable SOAP envelope.

    ``reason``: ``"xml"`` (not well-formed or refused by the safe parser),
    ``"not_envelope"``, ``"version"`` (an envelope namespace of no known version) or
    ``"no_body"``. A mock answers each with the fault its platform sends.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["xml", "not_envelope", "version", "no_body"],
        debug: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, debug=debug)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SoapMessage:
    """An envelope read back: its ``version``, the ``Header`` element (``None`` when
    absent) and the first element inside ``Body`` (``None`` for an empty body)."""

    version: SoapVersion
    header: Element | None
    body: Element | None


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A fault read from a message of either version.

    ``code``: the fault code without its prefix (``"Server"``, ``"Client"``; SOAP 1.2:
    ``"Receiver"``, ``"Sender"``...); ``message``: ``faultstring`` or the first
    ``Reason/Text``, as sent; ``detail_name``: local name of the first element inside the
    detail (often the platform's exception name) and ``detail``: that element, both
    ``None`` without detail; ``subcodes``: the SOAP 1.2 ``Subcode/Value`` texts, outermost
    first, prefixes dropped.
    """

    code: str
    message: str
    detail_name: str | None = None
    detail: Element | None = None
    subcodes: tuple[str, ...] = ()
    version: SoapVersion = SoapVersion.SOAP11


def read_envelope(content: bytes | str, *, source: str) -> SoapMessage:
    """Parse a SOAP envelope of either version safely.

    ``source`` names the sender in error messages (an instance name, or ``"the client"``
    on the mock side). Raises :class:`EnvelopeError` (a
    :class:`~mailadmin.errors.ProtocolError`).
    """
    try:
        root = parse_xml(content, source=source)
    except errors.ProtocolError as exc:
        raise EnvelopeError(exc.message, reason="xml", debug=exc.debug) from None
    return _message_of(root, source)


def _message_of(root: Element, source: str) -> SoapMessage:
    """The envelope whose parsed root is ``root`` (see :func:`read_envelope`)."""
    if local_name(root.tag) != "Envelope":
        raise EnvelopeError(
            f"{source} sent XML that is not a SOAP envelope",
            reason="not_envelope",
            debug={"root": root.tag},
        )
    version = SoapVersion.of_namespace(namespace_of(root.tag))
    if version is None:
        raise EnvelopeError(
            f"{source} sent a SOAP envelope of an unsupported version",
            reason="version",
            debug={"namespace": namespace_of(root.tag)},
        )
    env = version.namespace
    header = body = None
    for item in root:
        if item.tag == f"{{{env}}}Header" and header is None and body is None:
            header = item
        elif item.tag == f"{{{env}}}Body" and body is None:
            body = item
    if body is None:
        raise EnvelopeError(f"{source} sent a SOAP envelope without a body", reason="no_body")
    return SoapMessage(version, header, next(iter(body), None))


def read_fault(element: Element | None) -> SoapFault | None:
    """The fault carried by ``element`` (a body's first element), or ``None`` when it is
    not a ``Fault`` of either version."""
    if element is None or local_name(element.tag) != "Fault":
        return None
    version = SoapVersion.of_namespace(namespace_of(element.tag))
    if version is SoapVersion.SOAP11:
        code = _unprefix(child_text(element, "faultcode") or "")
        message = child_text(element, "faultstring") or ""
        detail_el = child(element, "detail")
        subcodes: tuple[str, ...] = ()
    elif version is SoapVersion.SOAP12:
        code_el = child(element, "Code")
        code = _unprefix(child_text(code_el, "Value") or "") if code_el is not None else ""
        found: list[str] = []
        sub = child(code_el, "Subcode") if code_el is not None else None
        while sub is not None:
            found.append(_unprefix(child_text(sub, "Value") or ""))
            sub = child(sub, "Subcode")
        subcodes = tuple(found)
        reason = child(element, "Reason")
        message = (child_text(reason, "Text") or "") if reason is not None else ""
        detail_el = child(element, "Detail")
    else:
        return None
    first = next(iter(detail_el), None) if detail_el is not None else None
    return SoapFault(
        code=code,
        message=message,
        detail_name=local_name(first.tag) if first is not None else None,
        detail=first,
        subcodes=subcodes,
        version=version,
    )


def local_name(tag: str) -> str:
    """``"{uri}name"`` -> ``"name"``."""
    return tag.rpartition("}")[2]


def namespace_of(tag: str) -> str:
    """``"{uri}name"`` -> ``"uri"`` (``""`` when unqualified)."""
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def child(element: Element, name: str) -> Element | None:
    """The first child with local name ``name``, whatever its namespace."""
    for item in element:
        if local_name(item.tag) == name:
            return item
    return None


def children(element: Element, name: str) -> Iterator[Element]:
    """Every child with local name ``name``, in document order."""
    return (item for item in element if local_name(item.tag) == name)


def child_text(element: Element, name: str) -> str | None:
    """Text of the first child named ``name``; ``None`` when absent or ``xsi:nil``."""
    item = child(element, name)
    if item is None or is_nil(item):
        return None
    return item.text or ""


def is_nil(element: Element) -> bool:
    """True for ``xsi:nil="true"``."""
    return element.get(f"{{{XSI}}}nil", "").strip() in ("true", "1")


# -- the client ------------------------------------------------------------------------------


class SoapClient:
    """Sends SOAP operations over the core transport for the instance called ``name``.

    ``to_error(fault)`` turns a fault into the plugin's typed error (it sees every fault,
    whatever the HTTP status); any other HTTP error becomes the core's generic one
    (:func:`~mailadmin.wire.responses.raise_for_status`). ``prefixes`` and ``env_prefix``
    shape the written envelope (see :func:`envelope`).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        version: SoapVersion = SoapVersion.SOAP11,
        to_error: Callable[[SoapFault], errors.MailadminError],
        prefixes: Mapping[str, str] | None = None,
        env_prefix: str = "soapenv",
    ) -> None:
        self.transport = transport
        self.name = name
        self.version = version
        self.to_error = to_error
        self.prefixes = dict(prefixes or {})
        self.env_prefix = env_prefix

    async def call(
        self,
        url: str,
        body: Node,
        *,
        header: Node | None = None,
        write: bool,
        idempotent: bool | None = None,
        operation: str,
        action: str | None = None,
        endpoint: str | None = None,
    ) -> Element:
        """POST ``body`` (with ``header``) to ``url`` and return the answer's first body
        element; an empty body is a :class:`~mailadmin.errors.ProtocolError`
        (use :meth:`send` for operations that answer with an empty body).

        ``write`` marks a change (refused in a dry run); ``idempotent`` lets the transport
        resend a write whose answer was lost; ``operation`` labels logs and errors;
        ``action`` is the SOAP action (header or content-type parameter by version);
        ``endpoint`` names one of the instance's endpoints (default: the main one).
        Raises what ``to_error`` returns for a fault, the core's HTTP errors otherwise, and
        :class:`~mailadmin.errors.ProtocolError` for an unreadable answer.
        """
        first = await self.send(
            url,
            body,
            header=header,
            write=write,
            idempotent=idempotent,
            operation=operation,
            action=action,
            endpoint=endpoint,
        )
        if first is None:
            raise errors.ProtocolError(
                f"{self.name} sent an empty SOAP body", debug={"operation": operation}
            )
        return first

    async def send(
        self,
        url: str,
        body: Node,
        *,
        header: Node | None = None,
        write: bool,
        idempotent: bool | None = None,
        operation: str,
        action: str | None = None,
        endpoint: str | None = None,
    ) -> Element | None:
        """As :meth:`call`, but an empty body (a void operation's answer) is ``None``."""
        content = self._envelope(body, header)
        response = await self.transport.request(
            "POST",
            url,
            write=write,
            idempotent=idempotent,
            operation=operation,
            headers=request_headers(self.version, action),
            content=content,
            endpoint=endpoint,
        )
        message = self._read(response.content, response.status_code, operation)
        return self._outcome(message, response, operation)

    async def stream(
        self,
        url: str,
        body: Node,
        *,
        item: str,
        handle: Callable[[Element], object],
        header: Node | None = None,
        write: bool,
        idempotent: bool | None = None,
        operation: str,
        action: str | None = None,
        endpoint: str | None = None,
    ) -> Element | None:
        """As :meth:`send`, but the answer is parsed as it arrives: each child of the first
        body element whose local name is ``item`` is passed to ``handle`` as soon as it is
        complete, then dropped, so a list of any length costs one item's memory.

        Returns the first body element without those children (``None`` for an empty
        body). The parse has :func:`~mailadmin.wire.safexml.parse_xml`'s refusals and
        errors, the answer the transport's size limit (checked as it streams), and a fault
        becomes ``to_error``'s error as in :meth:`send`; an error raised after some items
        were handled leaves them handled, so collect into something the caller discards
        on error. Sent with :meth:`Transport.stream
        <mailadmin.wire.transport.Transport.stream>`: retried only before the answer's
        first byte.
        """
        content = self._envelope(body, header)
        async with self.transport.stream(
            "POST",
            url,
            write=write,
            idempotent=idempotent,
            operation=operation,
            headers=request_headers(self.version, action),
            content=content,
            endpoint=endpoint,
        ) as answer:
            response = answer.response
            if answer.status_code >= 400:
                message = self._read(await answer.read(), answer.status_code, operation)
            else:
                parser = XmlStream(
                    source=self.name,
                    redact=self.transport.redact,
                    detach=_items_of_body(item, handle),
                )
                async for piece in answer.pieces():
                    _parsing(parser.feed, piece, operation)
                root = _parsing(lambda _: parser.close(), b"", operation)
                try:
                    message = _message_of(root, self.name)
                except errors.ProtocolError as exc:
                    exc.debug["operation"] = operation
                    raise
        return self._outcome(message, response, operation)

    def _envelope(self, body: Node, header: Node | None) -> bytes:
        """The request envelope of this client's SOAP version and prefixes."""
        return envelope(
            body,
            header=header,
            version=self.version,
            prefixes=self.prefixes,
            env_prefix=self.env_prefix,
        )

    def _outcome(
        self, message: SoapMessage | None, response: httpx.Response, operation: str
    ) -> Element | None:
        """The first body element of an answer read back, or the error it stands for."""
        first = message.body if message is not None else None
        fault = read_fault(first)
        if fault is not None:
            error = self.to_error(fault)
            if not error.debug.get("operation"):
                error.debug["operation"] = operation
            error.debug["request_id"] = response.request.headers.get("X-Request-Id")
            # A fault may echo the request (with its password): its text is redacted
            # here, whatever the plugin's to_error copied into the debug detail.
            error.debug = redact_debug(error.debug, self.transport.redact)
            raise error
        if response.status_code >= 400:
            raise_for_status(response, provider=self.name, redactor=self.transport)
        return first

    def _read(self, content: bytes, status: int, operation: str) -> SoapMessage | None:
        if status >= 400 and not content.lstrip().startswith(b"<"):
            return None  # a plain error page: the status says it all
        try:
            return read_envelope(content, source=self.name)
        except errors.ProtocolError as exc:
            if status >= 400:
                return None  # an HTML error page: the status is the better error
            exc.debug["operation"] = operation
            raise


# -- internals -------------------------------------------------------------------------------


_BODY_TAGS = {f"{{{ns}}}Body" for ns in _ENV_NS.values()}
_R = TypeVar("_R")


def _parsing(step: Callable[[bytes], _R], piece: bytes, operation: str) -> _R:
    """One step of a streamed parse; what the parser refuses is an :class:`EnvelopeError`
    as in :func:`read_envelope` (the transport's own refusals pass by this)."""
    try:
        return step(piece)
    except errors.ProtocolError as exc:
        exc.debug["operation"] = operation
        raise EnvelopeError(exc.message, reason="xml", debug=exc.debug) from None


def _items_of_body(
    item: str, handle: Callable[[Element], object]
) -> Callable[[Element, list[Element]], bool]:
    """The ``detach`` of :class:`~mailadmin.wire.safexml.XmlStream` that hands each
    ``item`` child of the first body element (not a fault) to ``handle`` and drops it."""

    def detach(element: Element, parents: list[Element]) -> bool:
        if len(parents) != 3 or local_name(element.tag) != item:
            return False
        envelope_el, body, first = parents
        if (
            body.tag not in _BODY_TAGS
            or namespace_of(body.tag) != namespace_of(envelope_el.tag)
            or local_name(envelope_el.tag) != "Envelope"
            or body[0] is not first
            or local_name(first.tag) == "Fault"
        ):
            return False
        handle(element)
        return True

    return detach


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _unprefix(qname: str) -> str:
    return qname.strip().rpartition(":")[2]


def _as_tuple(items: Node | Sequence[Node] | None) -> tuple[Node, ...]:
    if items is None:
        return ()
    if isinstance(items, Node):
        return (items,)
    return tuple(items)


def _namespaces(root: Node) -> Iterator[str]:
    if root.ns:
        yield root.ns
    for name, _ in root.attrs:
        if name.startswith("{"):
            yield namespace_of(name)
    if root.nil:
        yield XSI
    for kid in root.children:
        yield from _namespaces(kid)


def _prefix_map(used: Iterable[str], given: Mapping[str, str]) -> dict[str, str]:
    names: dict[str, str] = {}
    taken = set(given.values())
    extra = 0
    for ns in used:
        if ns in given:
            names[ns] = given[ns]
        elif ns == XSI:
            names[ns] = "xsi"
        else:
            extra += 1
            while f"ns{extra}" in taken:
                extra += 1
            names[ns] = f"ns{extra}"
    return names


def _wrap(tag: str, items: Sequence[Node], names: Mapping[str, str], out: list[str]) -> None:
    if not items:
        out.append(f"<{tag}/>")
        return
    out.append(f"<{tag}>")
    for item in items:
        _write(item, names, out)
    out.append(f"</{tag}>")


def _write(
    item: Node,
    names: Mapping[str, str],
    out: list[str],
    decls: tuple[tuple[str, str], ...] = (),
) -> None:
    tag = f"{names[item.ns]}:{item.name}" if item.ns else item.name
    attrs = "".join(f" {key}={quoteattr(value)}" for key, value in decls)
    for key, value in item.attrs:
        if key.startswith("{"):
            key = f"{names[namespace_of(key)]}:{local_name(key)}"
        attrs += f" {key}={quoteattr(value)}"
    if item.nil:
        attrs += f' {names[XSI]}:nil="true"'
    if item.text is None and not item.children:
        out.append(f"<{tag}{attrs}/>")
        return
    out.append(f"<{tag}{attrs}>")
    if item.text is not None:
        out.append(escape(item.text))
    for kid in item.children:
        _write(kid, names, out)
    out.append(f"</{tag}>")
