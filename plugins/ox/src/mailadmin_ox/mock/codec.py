"""Request decoding and response encoding for the OX mock, driven by :mod:`.schema`.

Decoding is as lenient as OX's CXF stack (reference section 1.2): children may be
qualified or unqualified; SOAP::Lite's generic names (``c-gensym5``, ``param0``) are
mapped by position; any other element the schema does not know is refused with OX's
``Unexpected element`` client fault. Values come out as plain Python: ``int``, ``bool``,
``str``, ``None`` for ``xsi:nil``, ``list`` for repeated elements, ``dict`` for data
objects, and user attributes as ``{namespace: {name: value}}``.

Encoding writes CXF's shapes: ``<op>Response`` with one ``return`` (repeated for lists,
``xsi:nil`` for a null string) or an empty body for void operations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mailadmin.sdk import Node, envelope, is_nil, local_name, namespace_of
from mailadmin_ox import namespaces
from mailadmin_ox.mock.schema import TYPES, Field, Operation, Service, namespace_of_type
from mailadmin_ox.mock.state import OXFault

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["decode", "encode_response", "to_attribute_entries"]

_GENERIC = re.compile(r"^(c-gensym\d+|param\d+)$")
_OX_NAMESPACES = frozenset(
    {namespaces.S, namespaces.D, namespaces.R, namespaces.RS, namespaces.RD, namespaces.RR}
)
_MAPS = {"SOAPStringMapMap", "SOAPStringMap"}


def decode(operation: Operation, wrapper: Element) -> dict[str, Any]:
    """The request children of ``wrapper`` as ``{param name: value}``; repeated params
    that are absent come out as ``[]``, other absent params are missing."""
    by_name = {p.name: p for p in operation.params}
    values: dict[str, Any] = {p.name: [] for p in operation.params if p.repeated}
    for position, item in enumerate(wrapper):
        name = local_name(item.tag)
        param = by_name.get(name)
        if param is None and _GENERIC.match(name) and position < len(operation.params):
            param = operation.params[position]
        if param is None or not _namespace_ok(item):
            raise _unexpected(item)
        value = _value(param, item)
        if param.repeated:
            values[param.name].append(value)
        else:
            values[param.name] = value
    return values


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


def _namespace_ok(item: Element) -> bool:
    ns = namespace_of(item.tag)
    return ns == "" or ns in _OX_NAMESPACES


def _unexpected(item: Element) -> OXFault:
    return OXFault(
        None,
        f'Unexpected element "{local_name(item.tag)}" (URI={namespace_of(item.tag)}). '
        "Please remove that element from SOAP request.",
        code="Client",
    )


def _value(field: Field, item: Element) -> Any:
    if is_nil(item):
        return None
    if field.is_simple:
        return _simple(field.type, item.text or "", item)
    type_name = field.type.partition(":")[2]
    fields = {f.name: f for f in TYPES[(namespace_of_type(field.type), type_name)]}
    data: dict[str, Any] = {f.name: [] for f in fields.values() if f.repeated}
    for kid in item:
        sub = fields.get(local_name(kid.tag))
        if sub is None or not _namespace_ok(kid):
            raise _unexpected(kid)
        value = _value(sub, kid)
        if sub.repeated:
            data[sub.name].append(value)
        else:
            data[sub.name] = value
    if type_name == "SOAPStringMapMap":
        return {
            str(e.get("key")): (e.get("value") or {}).get("map", {})
            for e in data.get("entries", [])
            if e.get("key") is not None
        }
    if type_name == "SOAPStringMap":
        return {"map": {str(e.get("key")): e.get("value") for e in data.get("entries", [])}}
    return data


def _simple(type_name: str, text: str, item: Element) -> Any:
    text = text.strip() if type_name != "xsd:string" else text
    if type_name in ("xsd:int", "xsd:long"):
        try:
            return int(text)
        except ValueError:
            raise _unmarshal(item, text) from None
    if type_name == "xsd:boolean":
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise _unmarshal(item, text)
    return text


def _unmarshal(item: Element, text: str) -> OXFault:
    return OXFault(
        None,
        f'Unmarshalling Error: Not a valid value for {local_name(item.tag)}: "{text}"',
        code="Client",
    )


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
        kids += [_node(type_ns, field.name, field.type, v) for v in items]
    return Node(ns, name, children=tuple(kids))


def _is_attribute_map(value: Any) -> bool:
    return isinstance(value, Mapping) and "entries" not in value
