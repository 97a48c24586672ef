"""Zimbra's two wire forms for the mock: JSON (``_jsns``, ``_content``, ``a``/``n`` lists)
and the SOAP envelope (1.2 or 1.1), read into one neutral tree and written back in the form
of the request.

A request element becomes an :class:`In`: attributes and child elements are
interchangeable for scalar parameters (``name="x"``, ``<name>x</name>``, ``"name": "x"``,
``"name": {"_content": "x"}``), and ``_attrs`` expands into ``a`` children, as the server's
``Element`` class does. A response is built as :class:`Out` elements: ``many`` children are
JSON arrays (the server's ``addNonUniqueElement``: accounts, COSes, ``a`` entries) and
``scalar`` children are plain JSON values but XML child elements (``lifetime``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from mailadmin.mock import MalformedRequest
from mailadmin.mock.soap import read_soap
from mailadmin.sdk import (
    Node,
    SoapVersion,
    envelope,
    fault_envelope,
    local_name,
    namespace_of,
    soap,
)

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from mailadmin.mock import MockRequest

__all__ = [
    "ADMIN_NS",
    "ZIMBRA_NS",
    "In",
    "Out",
    "Parsed",
    "fault_response",
    "is_json",
    "read_request",
    "response",
    "truthy",
]

ADMIN_NS = "urn:zimbraAdmin"
ZIMBRA_NS = "urn:zimbra"
SOAP_NS = "urn:zimbraSoap"
#: What the server sends for each form (ZM SoapJSProtocol, Soap12Protocol).
JSON_TYPE = "text/javascript; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def truthy(value: str | None) -> bool:
    """A Zimbra boolean parameter: ``1``/``true`` (any case) is true."""
    return (value or "").strip().lower() in ("1", "true")


@dataclass
class In:
    """One request element: ``name``, namespace, attributes, children and text."""

    name: str
    ns: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[In] = field(default_factory=list)
    text: str | None = None

    def get(self, key: str, default: str | None = None) -> str | None:
        """A scalar parameter, given as attribute or as child element."""
        if key in self.attrs:
            return self.attrs[key]
        found = self.child(key)
        if found is not None:
            return found.text if found.text is not None else found.attrs.get("_content", "")
        return default

    def child(self, name: str) -> In | None:
        """The first child element called ``name``."""
        return next(self.all(name), None)

    def all(self, name: str) -> Iterator[In]:
        """Every child element called ``name``."""
        return (c for c in self.children if c.name == name)

    def attr_list(self) -> list[tuple[str, str]]:
        """The ``a n="..."`` key/value list (``_attrs`` already expanded)."""
        return [(a.attrs.get("n", ""), a.text or "") for a in self.all("a")]


@dataclass
class Out:
    """One response element. ``many``: an entry that JSON writes as an array item;
    ``scalar``: a value JSON writes as ``"name": value`` and XML as a child element."""

    name: str
    attrs: dict[str, str | int | bool] = field(default_factory=dict)
    children: list[Out] = field(default_factory=list)
    text: str | None = None
    many: bool = False
    scalar: bool = False
    value: str | int | bool | None = None
    #: The element's namespace (``None``: its parent's); JSON writes it as ``_jsns``.
    ns: str | None = None

    def add(self, child: Out) -> Out:
        """Append ``child``; returns it."""
        self.children.append(child)
        return child


def entry(kind: str, name: str, entry_id: str, attrs: dict[str, list[str]]) -> Out:
    """An ``account``/``cos``/``domain``/``calresource`` entry with its ``a`` list."""
    out = Out(kind, {"name": name, "id": entry_id}, many=True)
    for key in sorted(attrs, key=str.lower):
        for value in attrs[key]:
            out.add(Out("a", {"n": key}, text=value, many=True))
    return out


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A request read from either form: the body element, the header context, the form."""

    body: In
    context: In | None
    json: bool
    version: SoapVersion = SoapVersion.SOAP12

    @property
    def answer_json(self) -> bool:
        """Whether to answer in JSON: the request's form unless ``context/format`` says."""
        fmt = self.context.child("format") if self.context else None
        kind = (fmt.get("type") or "").lower() if fmt else ""
        if kind == "xml":
            return False
        if kind == "js":
            return True
        return self.json

    def auth_token(self, request: MockRequest) -> str | None:
        """The token of the header context, else of the ``ZM_ADMIN_AUTH_TOKEN`` cookie."""
        if self.context is not None:
            token: str | None = self.context.get("authToken")
            if token:
                return token
        cookie = str(request.headers.get("cookie", ""))
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "ZM_ADMIN_AUTH_TOKEN" and value:
                return value
        return None


def is_json(request: MockRequest) -> bool:
    """The server tells the forms apart by the first character of the body."""
    return request.body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def read_request(request: MockRequest) -> Parsed:
    """The request in either form; :class:`MalformedRequest` when it is neither."""
    if is_json(request):
        document = request.json()
        if not isinstance(document, dict) or not isinstance(document.get("Body"), dict):
            raise MalformedRequest("the JSON request has no Body object")
        items = [(k, v) for k, v in document["Body"].items() if k != "_jsns"]
        if not items:
            raise MalformedRequest("the request Body is empty")
        name, value = items[0]
        header = document.get("Header")
        context = header.get("context") if isinstance(header, dict) else None
        return Parsed(
            body=_from_json(name, value),
            context=_from_json("context", context) if isinstance(context, dict) else None,
            json=True,
        )
    try:
        message = read_soap(request)
    except soap.EnvelopeError as exc:
        raise MalformedRequest(exc.message) from None
    if message.body is None:
        raise MalformedRequest("the request Body is empty")
    context = None
    if message.header is not None:
        for item in message.header:
            if local_name(item.tag) == "context":
                context = _from_xml(item)
    return Parsed(_from_xml(message.body), context, json=False, version=message.version)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _from_json(name: str, value: Any) -> In:
    if isinstance(value, list):  # a list where an element was expected: take the first
        value = value[0] if value else {}
    if not isinstance(value, dict):
        return In(name, text=_scalar(value))
    element = In(name)
    for key, item in value.items():
        if key == "_jsns":
            element.ns = str(item)
        elif key == "_content":
            # python-zimbra's JSON client sends back the token it got as {"_content": t},
            # nested once more: read the innermost text.
            while isinstance(item, dict) and "_content" in item:
                item = item["_content"]
            element.text = _scalar(item)
        elif key == "_attrs" and isinstance(item, dict):
            for attr, values in item.items():
                for one in values if isinstance(values, list) else [values]:
                    element.children.append(In("a", attrs={"n": attr}, text=_scalar(one)))
        elif isinstance(item, dict):
            element.children.append(_from_json(key, item))
        elif isinstance(item, list):
            element.children.extend(_from_json(key, one) for one in item)
        elif item is not None:
            element.attrs[key] = _scalar(item)
    return element


def _from_xml(node: Element) -> In:
    element = In(local_name(node.tag), ns=namespace_of(node.tag) or None)
    element.attrs = {local_name(k): v for k, v in node.attrib.items()}
    element.children = [_from_xml(kid) for kid in node]
    text = (node.text or "").strip()
    element.text = text if text or (not len(node) and node.text is not None) else None
    return element


# -- writing ----------------------------------------------------------------------------------


def _to_json(element: Out) -> dict[str, Any]:
    obj: dict[str, Any] = dict(element.attrs)
    if element.ns is not None:
        obj["_jsns"] = element.ns
    if element.text is not None:
        obj["_content"] = element.text
    for kid in element.children:
        if kid.scalar:
            obj[kid.name] = kid.value
        elif kid.many:
            obj.setdefault(kid.name, []).append(_to_json(kid))
        else:
            obj[kid.name] = _to_json(kid)
    return obj


def _xml_value(value: str | int | bool) -> str:
    # XML writes booleans as 1/0 and numbers as decimal text (ZM Element.addAttribute).
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _to_node(element: Out, ns: str, parent: str | None = None) -> Node:
    # Zimbra writes each namespace as a default namespace where it starts
    # (<GetAccountResponse xmlns="urn:zimbraAdmin"><account .../>), not as a prefix; clients
    # such as python-zimbra look elements up by their unprefixed tag name.
    ns = element.ns if element.ns is not None else ns
    declare = (("xmlns", ns),) if ns != (parent if parent is not None else "") else ()
    if element.scalar:
        text = None if element.value is None else _xml_value(element.value)
        return Node("", element.name, text, attrs=declare)
    return Node(
        "",
        element.name,
        element.text,
        tuple(_to_node(kid, ns, ns) for kid in element.children),
        attrs=declare + tuple((k, _xml_value(v)) for k, v in element.attrs.items()),
    )


def _context_json() -> dict[str, Any]:
    return {"context": {"_jsns": ZIMBRA_NS}}


def response(parsed: Parsed, body: Out, *, ns: str = ADMIN_NS) -> httpx.Response:
    """A 200 answer carrying ``body`` in the form the request asked for."""
    if parsed.answer_json:
        content = {
            "Header": _context_json(),
            "Body": {body.name: {**_to_json(body), "_jsns": ns}},
            "_jsns": SOAP_NS,
        }
        return httpx.Response(
            200, headers={"Content-Type": JSON_TYPE}, content=json.dumps(content).encode()
        )
    data = envelope(
        _to_node(body, ns),
        header=Node("", "context", attrs=(("xmlns", ZIMBRA_NS),)),
        version=parsed.version,
        env_prefix="soap",
    )
    return httpx.Response(200, headers={"Content-Type": XML_TYPE}, content=data)


def fault_element(
    code: str, message: str, *, receiver: bool, parsed: Parsed, trace: str = "qtp-mock-1"
) -> Out:
    """A ``Fault`` element as a batch answer carries it, in the form of the request: the
    JSON shape (plain values, as clients read ``Detail.Error.Code``), or the envelope's own
    ``soap:Fault`` of its SOAP version."""
    if parsed.answer_json:
        fault = Out("Fault", many=True)
        fault.add(Out("Code")).add(Out("Value", scalar=True, value=_sender(receiver, "soap")))
        fault.add(Out("Reason")).add(Out("Text", scalar=True, value=message))
        error = fault.add(Out("Detail")).add(Out("Error", ns=ZIMBRA_NS))
        error.add(Out("Code", scalar=True, value=code))
        error.add(Out("Trace", scalar=True, value=trace))
        return fault
    # The "soap" prefix is the one the answer's envelope declares (env_prefix="soap").
    if parsed.version is SoapVersion.SOAP12:
        fault = Out("soap:Fault", ns="")
        fault.add(Out("soap:Code")).add(Out("soap:Value", text=_sender(receiver, "soap")))
        fault.add(Out("soap:Reason")).add(Out("soap:Text", text=message))
        error = fault.add(Out("soap:Detail")).add(Out("Error", ns=ZIMBRA_NS))
    else:
        fault = Out("soap:Fault", ns="")
        code_11 = "soap:Server" if receiver else "soap:Client"
        fault.add(Out("faultcode", text=code_11))
        fault.add(Out("faultstring", text=message))
        error = fault.add(Out("detail")).add(Out("Error", ns=ZIMBRA_NS))
    error.add(Out("Code", text=code))
    error.add(Out("Trace", text=trace))
    return fault


def _sender(receiver: bool, prefix: str) -> str:
    return f"{prefix}:Receiver" if receiver else f"{prefix}:Sender"


def fault_response(
    code: str,
    message: str,
    *,
    receiver: bool,
    answer_json: bool,
    version: SoapVersion = SoapVersion.SOAP12,
    trace: str = "qtp-mock-1",
) -> httpx.Response:
    """The server's fault, with HTTP 500: ``Code/Value``, ``Reason/Text`` and
    ``Detail/Error`` (``Code``, ``Trace``) in JSON, SOAP 1.2 or SOAP 1.1."""
    if answer_json:
        content = {
            "Header": _context_json(),
            "Body": {
                "Fault": {
                    "Code": {"Value": "soap:Receiver" if receiver else "soap:Sender"},
                    "Reason": {"Text": message},
                    "Detail": {"Error": {"Code": code, "Trace": trace, "_jsns": ZIMBRA_NS}},
                }
            },
            "_jsns": SOAP_NS,
        }
        return httpx.Response(
            500, headers={"Content-Type": JSON_TYPE}, content=json.dumps(content).encode()
        )
    detail = Node(
        "",
        "Error",
        None,
        (Node("", "Code", code), Node("", "Trace", trace)),
        attrs=(("xmlns", ZIMBRA_NS),),
    )
    # Zimbra writes <soap:Text> without xml:lang (ZM soap.txt); clients that read the
    # Reason as plain text (python-zimbra) get a dict when the attribute is there.
    data = fault_envelope(
        version, "Receiver" if receiver else "Sender", message, detail=detail, lang=None
    )
    return httpx.Response(500, headers={"Content-Type": XML_TYPE}, content=data)
