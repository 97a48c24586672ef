"""SOAP 1.1 document/literal codec: write envelopes, read them back, recognise faults.

Both sides of the plugin use it: the provider writes requests and reads responses, the
mock reads requests and writes responses. Writing is deterministic (same input, same
bytes), so requests and responses can be compared byte for byte with fixtures. Reading
goes through :func:`mailadmin.wire.safexml.parse_xml` and matches elements by local name, the
way OX itself accepts qualified and unqualified children.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from mailadmin.contract import errors
from mailadmin.wire.safexml import parse_xml
from mailadmin_ox.namespaces import ENV, PREFIXES, XSI

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = [
    "CONTENT_TYPE",
    "Node",
    "SoapFault",
    "child",
    "child_text",
    "children",
    "envelope",
    "fault_envelope",
    "local_name",
    "namespace_of",
    "node",
    "parse_envelope",
    "read_body",
]

#: The content type OX's CXF endpoints expect for SOAP 1.1.
CONTENT_TYPE = "text/xml; charset=UTF-8"


@dataclass(frozen=True, slots=True)
class Node:
    """One element to write: namespace URI (``""`` for none), local name, text or children.

    ``nil`` writes ``xsi:nil="true"`` (OX's answer for "no access combination").
    """

    ns: str
    name: str
    text: str | None = None
    children: tuple[Node, ...] = ()
    nil: bool = False


def node(ns: str, name: str, value: object = None, *kids: Node | None) -> Node:
    """Build a :class:`Node`; ``value`` becomes text (booleans as ``true``/``false``).

    ``None`` entries among ``kids`` are dropped, so optional fields read naturally.
    """
    if isinstance(value, bool):
        text: str | None = "true" if value else "false"
    elif value is None:
        text = None
    else:
        text = str(value)
    return Node(ns, name, text, tuple(k for k in kids if k is not None))


def envelope(body: Node | None, *, env_prefix: str = "soapenv") -> bytes:
    """A complete SOAP 1.1 envelope around ``body`` (an empty body when ``None``).

    Every namespace is declared on the envelope, as in OX's own examples.
    """
    used = [ns for ns in dict.fromkeys(_namespaces(body)) if ns] if body is not None else []
    decls = [f"xmlns:{env_prefix}={quoteattr(ENV)}"]
    prefixes = _prefix_map(used)
    decls += [f"xmlns:{prefixes[ns]}={quoteattr(ns)}" for ns in used]
    out = [f"<{env_prefix}:Envelope {' '.join(decls)}>"]
    if body is None:
        out.append(f"<{env_prefix}:Body/>")
    else:
        out.append(f"<{env_prefix}:Body>")
        _write(body, prefixes, out)
        out.append(f"</{env_prefix}:Body>")
    out.append(f"</{env_prefix}:Envelope>")
    return "".join(out).encode("utf-8")


def fault_envelope(code: str, message: str, detail_ns: str | None, detail: str | None) -> bytes:
    """A SOAP 1.1 fault as CXF writes it (``code`` is ``"Server"`` or ``"Client"``)."""
    detail_xml = ""
    if detail:
        detail_xml = f"<detail><ns1:{detail} xmlns:ns1={quoteattr(detail_ns or '')}/></detail>"
    return (
        f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        f"{detail_xml}</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A fault read from an answer.

    ``code``: ``"Server"``/``"Client"`` (prefix dropped); ``message``: the fault string as
    sent; ``detail``: local name of the detail's first element (the OX exception name,
    ``"NoSuchUserException"``) or ``None``.
    """

    code: str
    message: str
    detail: str | None = None

    @property
    def text(self) -> str:
        """The fault string without OX's ``; exceptionId ...`` suffix."""
        head, sep, _ = self.message.partition("; exceptionId ")
        return head.rstrip() if sep else self.message.strip()


def parse_envelope(content: bytes, *, source: str = "OX") -> Element:
    """The first element inside ``Body`` of a SOAP envelope (``None`` is never returned:
    an empty body raises; use :func:`read_body` when an empty body is allowed)."""
    body = read_body(content, source=source)
    if body is None:
        raise errors.ProtocolError(f"{source} sent an empty SOAP body")
    return body


def read_body(content: bytes, *, source: str = "OX") -> Element | None:
    """The first element inside the SOAP ``Body``, or ``None`` for an empty body.

    Raises :class:`~mailadmin.contract.errors.ProtocolError` for anything that is not a SOAP 1.1
    envelope.
    """
    root = parse_xml(content, source=source)
    if local_name(root.tag) != "Envelope":
        raise errors.ProtocolError(
            f"{source} sent XML that is not a SOAP envelope", debug={"root": root.tag}
        )
    if namespace_of(root.tag) != ENV:
        raise errors.ProtocolError(
            f"{source} sent a SOAP envelope of an unsupported version",
            debug={"namespace": namespace_of(root.tag)},
        )
    body = child(root, "Body")
    if body is None:
        raise errors.ProtocolError(f"{source} sent a SOAP envelope without a body")
    return next(iter(body), None)


def read_fault(element: Element) -> SoapFault | None:
    """The fault carried by ``element`` (the body's first element), or ``None``."""
    if local_name(element.tag) != "Fault" or namespace_of(element.tag) != ENV:
        return None
    code = child_text(element, "faultcode") or ""
    message = child_text(element, "faultstring") or ""
    detail_el = child(element, "detail")
    detail = None
    if detail_el is not None:
        first = next(iter(detail_el), None)
        if first is not None:
            detail = local_name(first.tag)
    return SoapFault(code.rpartition(":")[2] or code, message, detail)


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


# -- internals -------------------------------------------------------------------------------


def _namespaces(root: Node | None) -> Iterator[str]:
    if root is None:
        return
    if root.ns:
        yield root.ns
    if root.nil:
        yield XSI
    for kid in root.children:
        yield from _namespaces(kid)


def _prefix_map(used: Iterable[str]) -> Mapping[str, str]:
    prefixes: dict[str, str] = {}
    extra = 0
    for ns in used:
        if ns in PREFIXES:
            prefixes[ns] = PREFIXES[ns]
        else:
            extra += 1
            prefixes[ns] = f"ns{extra}"
    return prefixes


def _write(item: Node, prefixes: Mapping[str, str], out: list[str]) -> None:
    tag = f"{prefixes[item.ns]}:{item.name}" if item.ns else item.name
    attrs = f' {prefixes[XSI]}:nil="true"' if item.nil else ""
    if item.text is None and not item.children:
        out.append(f"<{tag}{attrs}/>")
        return
    out.append(f"<{tag}{attrs}>")
    if item.text is not None:
        out.append(escape(item.text))
    for kid in item.children:
        _write(kid, prefixes, out)
    out.append(f"</{tag}>")
