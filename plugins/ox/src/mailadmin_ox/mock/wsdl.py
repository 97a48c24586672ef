"""The WSDL the mock serves at ``/webservices/<Service>?wsdl``.

Generated from :mod:`.schema` for the operations the mock implements, in the shape CXF
publishes for OX: document/literal SOAP 1.1, one ``<op>`` / ``<op>Response`` wrapper
element per operation (void operations have an output message without parts, matching
their empty response body), ``soapAction`` ``urn:<op>`` and a single port named
``<Service>HttpsEndpoint``. A standard SOAP toolkit (zeep) builds a working client from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import quoteattr

from mailadmin_ox.mock.schema import BASES, TYPES, Field, Service, namespace_of_type
from mailadmin_ox.namespaces import PREFIXES, XSI

__all__ = ["wsdl"]

_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_XSD = "http://www.w3.org/2001/XMLSchema"
_HTTP = "http://schemas.xmlsoap.org/soap/http"


def wsdl(service: Service, address: str) -> bytes:
    """The WSDL document of ``service`` with ``address`` as its endpoint URL."""
    tns = service.namespace
    used = _types_used(service)
    namespaces = sorted({tns} | {ns for ns, _ in used}, key=_order)
    decls = " ".join(f"xmlns:{PREFIXES[ns]}={quoteattr(ns)}" for ns in namespaces if ns != XSI)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<wsdl:definitions name={quoteattr(service.name)} targetNamespace={quoteattr(tns)}"
        f' xmlns:wsdl="{_WSDL}" xmlns:soap="{_SOAP}" xmlns:xsd="{_XSD}"'
        f" xmlns:tns={quoteattr(tns)} {decls}>",
        "<wsdl:types>",
    ]
    for ns in namespaces:
        if ns == tns:
            continue
        out.append(_schema_open(ns, [o for o in namespaces if o != ns]))
        for type_ns, name in sorted(used):
            if type_ns == ns:
                out.append(_complex_type(type_ns, name))
        out.append("</xsd:schema>")
    out.append(_schema_open(tns, [ns for ns in namespaces if ns != tns]))
    for op in service.operations.values():
        out.append(f"<xsd:element name={quoteattr(op.name)}>{_sequence(op.params)}</xsd:element>")
        if op.returns is not None:
            out.append(
                f"<xsd:element name={quoteattr(op.name + 'Response')}>"
                f"{_sequence((op.returns,))}</xsd:element>"
            )
    out.append("</xsd:schema></wsdl:types>")
    for op in service.operations.values():
        out.append(
            f"<wsdl:message name={quoteattr(op.name)}>"
            f'<wsdl:part name="parameters" element="tns:{op.name}"/></wsdl:message>'
        )
        if op.returns is None:
            out.append(f"<wsdl:message name={quoteattr(op.name + 'Response')}/>")
        else:
            out.append(
                f"<wsdl:message name={quoteattr(op.name + 'Response')}>"
                f'<wsdl:part name="parameters" element="tns:{op.name}Response"/></wsdl:message>'
            )
    port_type = f"{service.name}PortType"
    binding = f"{service.name}SoapBinding"
    out.append(f"<wsdl:portType name={quoteattr(port_type)}>")
    for op in service.operations.values():
        out.append(
            f"<wsdl:operation name={quoteattr(op.name)}>"
            f'<wsdl:input name="{op.name}" message="tns:{op.name}"/>'
            f'<wsdl:output name="{op.name}Response" message="tns:{op.name}Response"/>'
            "</wsdl:operation>"
        )
    out.append("</wsdl:portType>")
    out.append(
        f"<wsdl:binding name={quoteattr(binding)} type={quoteattr('tns:' + port_type)}>"
        f'<soap:binding style="document" transport="{_HTTP}"/>'
    )
    for op in service.operations.values():
        out.append(
            f"<wsdl:operation name={quoteattr(op.name)}>"
            f'<soap:operation soapAction="urn:{op.name}" style="document"/>'
            f'<wsdl:input name="{op.name}"><soap:body use="literal"/></wsdl:input>'
            f'<wsdl:output name="{op.name}Response"><soap:body use="literal"/></wsdl:output>'
            "</wsdl:operation>"
        )
    out.append("</wsdl:binding>")
    out.append(
        f"<wsdl:service name={quoteattr(service.name)}>"
        f"<wsdl:port name={quoteattr(service.name + 'HttpsEndpoint')}"
        f" binding={quoteattr('tns:' + binding)}>"
        f"<soap:address location={quoteattr(address)}/></wsdl:port></wsdl:service>"
    )
    out.append("</wsdl:definitions>")
    return "".join(out).encode("utf-8")


def _order(ns: str) -> int:
    return list(PREFIXES).index(ns) if ns in PREFIXES else len(PREFIXES)


def _schema_open(ns: str, imports: list[str]) -> str:
    head = (
        f'<xsd:schema targetNamespace={quoteattr(ns)} elementFormDefault="qualified"'
        ' attributeFormDefault="unqualified">'
    )
    return head + "".join(f"<xsd:import namespace={quoteattr(i)}/>" for i in imports)


def _complex_type(ns: str, name: str) -> str:
    fields = TYPES[(ns, name)]
    base = BASES.get((ns, name))
    if base is None:
        body = _bare_sequence(fields)
    else:
        # A derived type declares only its own elements; the inherited ones stay the
        # base's (and so in the base's namespace), as JAXB's schema for a subclass.
        own = tuple(f for f in fields if not f.ns)
        base_type = f"{PREFIXES[base[0]]}:{base[1]}"
        body = (
            f"<xsd:complexContent><xsd:extension base={quoteattr(base_type)}>"
            f"{_bare_sequence(own)}</xsd:extension></xsd:complexContent>"
        )
    return f"<xsd:complexType name={quoteattr(name)}>{body}</xsd:complexType>"


def _sequence(fields: tuple[Field, ...]) -> str:
    return f"<xsd:complexType>{_bare_sequence(fields)}</xsd:complexType>"


def _bare_sequence(fields: tuple[Field, ...]) -> str:
    parts = ["<xsd:sequence>"]
    for field in fields:
        attrs = f'name={quoteattr(field.name)} type={quoteattr(field.type)} minOccurs="0"'
        if field.repeated:
            attrs += ' maxOccurs="unbounded"'
        if field.nillable:
            attrs += ' nillable="true"'
        parts.append(f"<xsd:element {attrs}/>")
    parts.append("</xsd:sequence>")
    return "".join(parts)


def _types_used(service: Service) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for op in service.operations.values():
        for field in (*op.params, *((op.returns,) if op.returns else ())):
            found.update(_walk(field))
    return found


def _walk(field: Field, seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    if field.is_simple or field.type in seen:
        return
    key = (namespace_of_type(field.type), field.type.partition(":")[2])
    yield key
    if key in BASES:
        yield BASES[key]
    for sub in TYPES[key]:
        yield from _walk(sub, seen | {field.type})
