"""Request decoding and response encoding for the OX mock, driven by :mod:`.schema`.

Decoding is as lenient as OX's CXF stack and no more (reference section 1.2): children
may be qualified in the schema's namespace or unqualified (OX renames those, see
:class:`_Level`), in any order (JAXB binds by name); SOAP::Lite's generic names
(``c-gensym5``, ``param0``) are placed by ``xsi:type`` or position. An element the
schema does not declare at that place, or one qualified in another namespace (``rd:id``
where ``ResellerContext`` inherits ``d:id``), is what JAXB calls an unexpected element;
CXF's default validation event handler makes it fatal, so it is refused with the client
fault OX sends (worded by OX's ``DocLiteralInInterceptor`` for wrapped operations, by CXF
for the BARE void ones). :func:`tolerated_deviations` lists what OX accepts but the schema
does not say (a plugin's own tests keep that list empty). Values come out as plain
Python: ``int``, ``bool``, ``str``, ``None`` for ``xsi:nil``, ``list`` for repeated
elements, ``dict`` for data objects, and user attributes as ``{namespace: {name: value}}``.

Encoding writes CXF's shapes: ``<op>Response`` with one ``return`` (repeated for lists,
``xsi:nil`` for a null string) or an empty body for void operations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mailadmin.sdk import Node, envelope, is_nil, local_name, namespace_of
from mailadmin_ox import namespaces
from mailadmin_ox.mock.schema import BASES, TYPES, Field, Operation, Service, namespace_of_type
from mailadmin_ox.mock.state import OXFault

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["decode", "encode_response", "to_attribute_entries", "tolerated_deviations"]

_GENERIC = re.compile(r"^(c-gensym\d+|param\d+)$")
_MAPS = {"SOAPStringMapMap", "SOAPStringMap"}


def decode(
    operation: Operation,
    wrapper: Element,
    namespace: str,
    *,
    tolerated: list[str] | None = None,
) -> dict[str, Any]:
    """The request children of ``wrapper`` (an operation of the service in ``namespace``)
    as ``{param name: value}``; repeated params that are absent come out as ``[]``, other
    absent params are missing.

    Refused as OX refuses them (an :class:`OXFault`): an element the schema does not
    declare there, or one qualified in another namespace than the schema's. What OX lets
    through although the schema says otherwise (unqualified or generically named
    elements, elements out of the schema's order) is accepted and, when ``tolerated`` is
    given, described there.
    """
    return _sequence(
        operation.params,
        namespace,
        wrapper,
        _Reading(operation, tolerated),
        local_name(wrapper.tag),
    )


def tolerated_deviations(service: Service, body: Element) -> list[str]:
    """What a request (the body's operation element) does that OX accepts but the schema
    does not say: unqualified or generic element names, elements out of order. Empty for
    a request exactly as the schema describes it; refused requests raise :class:`OXFault`."""
    found: list[str] = []
    operation = service.operations.get(local_name(body.tag))
    if operation is None:
        return [f"{local_name(body.tag)}: not an operation of {service.name}"]
    if namespace_of(body.tag) != service.namespace:
        found.append(f"{local_name(body.tag)}: not qualified in {service.namespace}")
    decode(operation, body, service.namespace, tolerated=found)
    return found


def encode_response(service: Service, operation: Operation, result: Any) -> bytes:
    """The SOAP envelope answering ``operation`` with ``result``."""
    if operation.returns is None:
        return envelope(None, env_prefix="soap", prefixes=namespaces.PREFIXES)
    ret = operation.returns
    wrapper_ns = service.namespace
    if ret.repeated:
        kids = tuple(_node(wrapper_ns, "return", ret.type, item) for item in result or [])
    elif result is None:
        kids = (Node(wrapper_ns, "return", nil=True),)
    else:
        kids = (_node(wrapper_ns, "return", ret.type, result),)
    return envelope(
        Node(wrapper_ns, f"{operation.name}Response", children=kids),
        env_prefix="soap",
        prefixes=namespaces.PREFIXES,
    )


def to_attribute_entries(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """``{namespace: {name: value}}`` in the ``SOAPStringMapMap`` shape."""
    return {
        "entries": [
            {"key": ns, "value": {"entries": [{"key": k, "value": v} for k, v in values.items()]}}
            for ns, values in attributes.items()
        ]
    }


# -- decoding -----------------------------------------------------------------------------------


class _Reading:
    """One request being read: its operation (the fault wording depends on it) and the
    list collecting tolerated deviations (``None``: not collected)."""

    def __init__(self, operation: Operation, tolerated: list[str] | None) -> None:
        self.operation = operation
        self.tolerated = tolerated

    def note(self, text: str) -> None:
        if self.tolerated is not None:
            self.tolerated.append(text)


class _Level:
    """How OX's ``ReplacingXMLStreamReader`` renames the children of one element.

    Only a child without a namespace, or with a generic SOAP::Lite / PHP name (``c-gensymN``,
    ``paramN``), is renamed, and only when its parent was itself matched to the schema (the
    wrapper is; a qualified element is not, so the unqualified children of a qualified
    element keep their empty namespace and JAXB refuses them). A name is looked up among
    the parent's elements (by element name, or by type name: ``xsi:type`` for generic names);
    before the first such match at this level, an unknown name falls back to the element at
    the same position (PHP sends "Struct"); after it, it does not (OX bug 24484). In a
    derived type (ResellerContext) its own elements are searched first, then the base's,
    and a name never falls back to a position.
    """

    def __init__(self, fields: tuple[Field, ...], *, derived: bool, matched: bool) -> None:
        self.fields = fields
        self.derived = derived
        self.matched = matched
        self.position = 0
        self.only_with_name = False

    def rename(self, item: Element) -> Field | None:
        """The schema element ``item`` is read as, or ``None`` (left as it is)."""
        if not self.matched:
            return None
        name = local_name(item.tag)
        by_type = _GENERIC.fullmatch(name) is not None
        lookup = _xsi_type(item) if by_type else name
        if not self.derived:
            return self._find(lookup, self.fields, strict=False, by_type=by_type)
        own = tuple(f for f in self.fields if not f.ns)
        inherited = tuple(f for f in self.fields if f.ns)
        return self._find(lookup, own, strict=True, by_type=by_type) or self._find(
            lookup, inherited, strict=True, by_type=by_type
        )

    def _find(
        self, lookup: str | None, fields: tuple[Field, ...], *, strict: bool, by_type: bool
    ) -> Field | None:
        remembered = self.position
        self.position += 1
        found: Field | None = None
        if lookup is not None:
            self.position = 0
            for field in fields:
                self.position += 1
                if lookup in (field.name, field.type.partition(":")[2]):
                    found = field
                    break
            if found is not None and not by_type:
                self.only_with_name = True
        if found is not None or (lookup is not None and strict) or self.only_with_name:
            return found
        self.position = remembered + 1
        return fields[remembered] if remembered < len(fields) else None


def _xsi_type(item: Element) -> str | None:
    for key, value in item.attrib.items():
        if local_name(key) == "type":
            return value.partition(":")[2] or value
    return None


def _sequence(
    fields: tuple[Field, ...],
    namespace: str,
    element: Element,
    reading: _Reading,
    path: str,
    *,
    matched: bool = True,
    derived: bool = False,
) -> dict[str, Any]:
    """The children of ``element`` read against ``fields`` (declared in ``namespace``);
    ``matched``: ``element`` was matched to the schema (see :class:`_Level`)."""
    level = _Level(fields, derived=derived, matched=matched)
    by_qname = {(f.ns or namespace, f.name): (i, f) for i, f in enumerate(fields)}
    data: dict[str, Any] = {f.name: [] for f in fields if f.repeated}
    last = -1
    for item in element:
        name, ns = local_name(item.tag), namespace_of(item.tag)
        qname, renamed = (ns, name), False
        if ns == "" or _GENERIC.fullmatch(name):
            target = level.rename(item)
            if target is not None:
                qname, renamed = (target.ns or namespace, target.name), True
                reading.note(f"{path}/{name}: read as {{{qname[0]}}}{qname[1]}")
        hit = by_qname.get(qname)
        if hit is None:
            # JAXB meets an element its bean does not declare (unknown, or {ns}name where
            # the schema has {other}name): fatal under CXF's default validation handler.
            raise _unexpected(item, fields, namespace, reading.operation)
        index, field = hit
        if index < last:
            reading.note(f"{path}/{field.name}: out of the schema's order")
        last = max(last, index)
        value = _value(field, item, reading, f"{path}/{field.name}", matched=renamed)
        if field.repeated:
            data[field.name].append(value)
        else:
            data[field.name] = value
    return data


def _unexpected(
    item: Element, fields: tuple[Field, ...], namespace: str, operation: Operation
) -> OXFault:
    uri, local = namespace_of(item.tag), local_name(item.tag)
    if operation.bare:
        # BARE (void) operations: CXF's own text, JAXB's message inside (OX does not
        # rewrite it on this path of its DocLiteralInInterceptor).
        expected = ",".join(f"<{{{f.ns or namespace}}}{f.name}>" for f in fields) or "(none)"
        return OXFault(
            None,
            f'Unmarshalling Error: unexpected element (uri:"{uri}", local:"{local}"). '
            f"Expected elements are {expected} ",
            code="Client",
        )
    where = f" (URI={uri})" if uri else ""
    return OXFault(
        None,
        f'Unexpected element "{local}"{where}. Please remove that element from SOAP request.',
        code="Client",
    )


def _value(field: Field, item: Element, reading: _Reading, path: str, *, matched: bool) -> Any:
    if is_nil(item):
        return None
    if field.is_simple:
        return _simple(field.type, item.text or "")
    type_ns = namespace_of_type(field.type)
    type_name = field.type.partition(":")[2]
    data = _sequence(
        TYPES[(type_ns, type_name)],
        type_ns,
        item,
        reading,
        path,
        matched=matched,
        derived=(type_ns, type_name) in BASES,
    )
    if type_name == "SOAPStringMapMap":
        return {
            str(e.get("key")): (e.get("value") or {}).get("map", {})
            for e in data.get("entries", [])
            if e.get("key") is not None
        }
    if type_name == "SOAPStringMap":
        return {"map": {str(e.get("key")): e.get("value") for e in data.get("entries", [])}}
    return data


def _simple(type_name: str, text: str) -> Any:
    # JAXB RI's DatatypeConverterImpl: int parses digit by digit ("Not a number: x"), long
    # through Long.valueOf ('For input string: "x"'); a boolean it cannot read is null.
    if type_name == "xsd:int":
        digits = text.strip()
        if not digits or any(c not in "0123456789+-" for c in digits):
            raise _unmarshal(f"Not a number: {text}")
        try:
            return int(digits)
        except ValueError:
            raise _unmarshal(f"Not a number: {text}") from None
    if type_name == "xsd:long":
        try:
            return int(text.strip())
        except ValueError:
            raise _unmarshal(f'For input string: "{text.strip()}"') from None
    if type_name == "xsd:boolean":
        word = text.strip()
        if word in ("true", "1"):
            return True
        if word in ("false", "0"):
            return False
        return None
    return text


def _unmarshal(message: str) -> OXFault:
    return OXFault(None, f"Unmarshalling Error: {message} ", code="Client")


# -- encoding -----------------------------------------------------------------------------------


def _node(ns: str, name: str, type_name: str, value: Any) -> Node:
    if type_name.startswith("xsd:"):
        if isinstance(value, bool):
            return Node(ns, name, "true" if value else "false")
        return Node(ns, name, str(value))
    type_ns = namespace_of_type(type_name)
    short = type_name.partition(":")[2]
    if short == "SOAPStringMapMap" and _is_attribute_map(value):
        value = to_attribute_entries(value)
    kids: list[Node] = []
    for field in TYPES[(type_ns, short)]:
        item = value.get(field.name)
        if item is None:
            continue
        items = item if field.repeated else [item]
        kids += [_node(field.ns or type_ns, field.name, field.type, v) for v in items]
    return Node(ns, name, children=tuple(kids))


def _is_attribute_map(value: Any) -> bool:
    return isinstance(value, Mapping) and "entries" not in value
