"""The OX App Suite mock platform: routes, dispatch and OX-shaped errors.

Every SOAP operation is one route, ``POST /webservices/<Service>`` narrowed to the body
element's local name (the ``SOAPAction`` header is ignored, as OX ignores it). The WSDL
is served at ``GET /webservices/<Service>?wsdl``; ``GET /webservices`` lists the
services. Unknown operations, unreadable bodies and SOAP 1.2 envelopes get the SOAP
faults CXF sends.

Run it: ``mailadmin mock serve ox`` or, in process, ``MockServer(OXMock)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import httpx

from mailadmin.mock import MockPlatform, MockRequest, Route
from mailadmin.mock.soap import read_soap, soap_fault_response
from mailadmin.sdk import (
    EnvelopeError,
    Node,
    SoapVersion,
    content_type,
    local_name,
    namespace_of,
)
from mailadmin_ox.mock.codec import decode, encode_response
from mailadmin_ox.mock.handlers import HANDLERS
from mailadmin_ox.mock.schema import SERVICES, Service
from mailadmin_ox.mock.state import OXFault, OXState
from mailadmin_ox.mock.wsdl import wsdl

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from mailadmin.mock import Fault

__all__ = ["OXMock"]

_XML = {"Content-Type": "text/xml;charset=UTF-8"}
# CXF's answer (message, fault code) to each way a body can fail to be a SOAP envelope.
_UNREADABLE = {
    "xml": ("Error reading XMLStreamReader: the request is not well-formed XML", "Client"),
    "not_envelope": ("Message is not a SOAP envelope", "Client"),
    "version": ("Message is not a SOAP envelope", "VersionMismatch"),
    "no_body": ("No body element was found in the SOAP message", "Client"),
}


def _unreadable(reason: str) -> OXFault:
    message, code = _UNREADABLE[reason]
    return OXFault(None, message, code=code)


def _fault_response(fault: OXFault) -> httpx.Response:
    detail = Node(fault.namespace, fault.exception) if fault.exception else None
    # OX's endpoints speak SOAP 1.1 only, so every fault is a SOAP 1.1 fault.
    return soap_fault_response(SoapVersion.SOAP11, fault.code, fault.message, detail=detail)


def _wrapper(request: MockRequest) -> Element:
    """The body's operation element, or raise the :class:`OXFault` OX would send."""
    try:
        message = read_soap(request)
    except EnvelopeError as exc:
        raise _unreadable(exc.reason) from None
    if message.version is SoapVersion.SOAP12:
        raise OXFault(
            None,
            "A SOAP 1.2 message is not valid when sent to a SOAP 1.1 only endpoint.",
            code="VersionMismatch",
        )
    if message.body is None:
        raise _unreadable("no_body")
    return message.body


def _not_recognized(wrapper: Element) -> OXFault:
    qname = f"{{{namespace_of(wrapper.tag)}}}{local_name(wrapper.tag)}"
    return OXFault(
        None,
        f"Message part {qname} was not recognized.  (Does it exist in service WSDL?)",
        code="Client",
    )


def _soap_handler(
    service: Service, operation: str
) -> Callable[[MockRequest, OXState], httpx.Response]:
    op = service.operations[operation]
    handler = HANDLERS[(service.name, operation)]

    def handle(request: MockRequest, state: OXState) -> httpx.Response:
        try:
            wrapper = _wrapper(request)
            if namespace_of(wrapper.tag) != service.namespace:
                # CXF finds the operation by the wrapper's qualified name.
                raise _not_recognized(wrapper)
            args = decode(op, wrapper, service.namespace)
            result = handler(state, args)
        except OXFault as fault:
            return _fault_response(fault)
        return httpx.Response(
            200,
            headers={"Content-Type": content_type(SoapVersion.SOAP11)},
            content=encode_response(service, op, result),
        )

    handle.__name__ = f"{service.name}_{operation}"
    return handle


def _wsdl_handler(request: MockRequest, state: OXState) -> httpx.Response:
    service = SERVICES.get(request.path_params.get("service", ""))
    if service is None:
        return _no_service()
    if not any(key.lower() == "wsdl" for key in request.query):
        return httpx.Response(
            405, headers={"Content-Type": "text/plain"}, content=b"Use POST with a SOAP envelope"
        )
    address = request.url.split("?", 1)[0] or f"{OXMock.base_url}/webservices/{service.name}"
    return httpx.Response(200, headers=_XML, content=wsdl(service, address))


def _service_list(request: MockRequest, state: OXState) -> httpx.Response:
    rows = "".join(f'<li><a href="webservices/{name}?wsdl">{name}</a></li>' for name in SERVICES)
    page = f"<html><body><h1>Available SOAP services</h1><ul>{rows}</ul></body></html>"
    return httpx.Response(200, headers={"Content-Type": "text/html"}, content=page.encode())


def _no_service() -> httpx.Response:
    return httpx.Response(
        404, headers={"Content-Type": "text/plain"}, content=b"No service was found."
    )


def _routes() -> list[Route]:
    routes = [
        Route("GET", "/webservices", _service_list, name="services"),
        Route("GET", "/webservices/{service}", _wsdl_handler, name="wsdl"),
    ]
    for service in SERVICES.values():
        for name, op in service.operations.items():
            routes.append(
                Route(
                    "POST",
                    f"/webservices/{service.name}",
                    _soap_handler(service, name),
                    operation=name,
                    write=op.write,
                    name=f"{service.name}.{name}",
                )
            )
    return routes


class OXMock(MockPlatform):
    """OX App Suite's provisioning SOAP services, with OX's state and rules."""

    name = "ox"
    state_class = OXState
    routes: ClassVar = _routes()
    base_url = "http://ox.mock.invalid"

    def operation_of(self, request: MockRequest) -> str | None:
        """The local name of the SOAP body's first element."""
        if request.method != "POST":
            return None
        try:
            return local_name(_wrapper(request).tag)
        except OXFault:
            return None

    def unknown(self, request: MockRequest) -> httpx.Response:
        """CXF's answers: a client fault for an operation the service lacks, 404 for an
        unknown service."""
        service = SERVICES.get(request.path.removeprefix("/webservices/"))
        if service is None or request.method != "POST":
            return _no_service()
        try:
            wrapper = _wrapper(request)
        except OXFault as fault:
            return _fault_response(fault)
        return _fault_response(_not_recognized(wrapper))

    def malformed(self, request: MockRequest, reason: str) -> httpx.Response:
        """A client fault, as CXF answers a body it cannot read."""
        return _fault_response(
            OXFault(None, f"Error reading XMLStreamReader: {reason}", code="Client")
        )

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """An injected HTTP 500 carries a SOAP server fault, as OX's would; throttling is
        OX's "rate limited" error (code 39) with status 429 (reference §7)."""
        if fault.kind == "status" and fault.status_code == 500:
            return _fault_response(OXFault("RemoteException", "Injected server failure"))
        if fault.status_code == 429:
            error = {"code": "39", "status": "429", "title": "Rate limit exceeded"}
            return httpx.Response(429, json={"errors": [error]})
        return None

    def throttle_key(self, request: MockRequest, per: str) -> str:
        """OX's admin credentials travel in the SOAP body (``<auth><login>``): the key of
        ``credential`` and ``tenant`` (a context admin's login names its context)."""
        if per == "platform":
            return ""
        start = request.body.find(b"login>")
        return request.body[start : request.body.find(b"<", start + 6)].decode(errors="replace")
