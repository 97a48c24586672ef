"""WS-Management for the Exchange Server mock: read one request envelope, write answers.

The envelope shapes follow MS-WSMV and the shell actions of the Windows remote shell
(``rsp``): Create, Command, Send, Receive, Signal, Delete. Every answer repeats the
request's ``wsa:MessageID`` in ``wsa:RelatesTo`` (pypsrp checks it on every response);
faults go out with HTTP 500 (a fault body under 2xx is not read as a fault).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

import httpx
from defusedxml.ElementTree import fromstring

__all__ = [
    "NS",
    "WSManRequest",
    "envelope_response",
    "fault_response",
    "read_request",
]

NS: Final = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}

_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
#: Action URI -> the operation key the mock records (and faults name).
ACTIONS: Final = {
    _TRANSFER + "Create": "create",
    _TRANSFER + "Delete": "delete",
    _TRANSFER + "Get": "get",
    _SHELL + "Command": "command",
    _SHELL + "Send": "send",
    _SHELL + "Receive": "receive",
    _SHELL + "Signal": "signal",
}
_RESPONSE_ACTIONS: Final = {
    "create": _TRANSFER + "CreateResponse",
    "delete": _TRANSFER + "DeleteResponse",
    "get": _TRANSFER + "GetResponse",
    "command": _SHELL + "CommandResponse",
    "send": _SHELL + "SendResponse",
    "receive": _SHELL + "ReceiveResponse",
    "signal": _SHELL + "SignalResponse",
}
_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"


class WSManError(Exception):
    """A request the WS-Management layer refuses: answered as a ``WSManFault``."""

    def __init__(self, code: int, message: str, *, subcode: str = "w:InternalError") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode


@dataclass
class WSManRequest:
    """The parts of a WS-Management request the mock acts on."""

    action: str
    operation: str | None
    message_id: str
    resource_uri: str
    shell_id: str | None
    options: dict[str, str] = field(default_factory=dict)
    body: Element | None = None

    def find(self, path: str) -> Element | None:
        """An element under ``s:Body`` (``rsp:Shell/rsp:InputStreams``)."""
        return None if self.body is None else self.body.find(path, NS)


def read_request(content: bytes) -> WSManRequest:
    """Parse a WS-Management envelope; :class:`WSManError` when it is not one."""
    try:
        root = fromstring(content)
    except Exception:
        raise WSManError(
            2150858817,
            "The WS-Management service cannot process the request. "
            "The request is not a valid SOAP envelope.",
        ) from None
    header = root.find("s:Header", NS)
    if header is None:
        raise WSManError(2150858817, "The SOAP envelope has no header.")
    action = _text(header, "wsa:Action")
    message_id = _text(header, "wsa:MessageID")
    selector = header.find("wsman:SelectorSet/wsman:Selector[@Name='ShellId']", NS)
    options = {
        option.get("Name", ""): option.text or ""
        for option in header.findall("wsman:OptionSet/wsman:Option", NS)
    }
    return WSManRequest(
        action=action,
        operation=ACTIONS.get(action),
        message_id=message_id,
        resource_uri=_text(header, "wsman:ResourceURI"),
        shell_id=(selector.text or "").strip().upper() if selector is not None else None,
        options=options,
        body=root.find("s:Body", NS),
    )


def _text(parent: Element, path: str) -> str:
    found = parent.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    namespaces = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in NS.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope {namespaces}><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{escape(action)}</wsa:Action>'
        f"<wsa:MessageID>uuid:{str(uuid.uuid4()).upper()}</wsa:MessageID>"
        f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>"
        "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def envelope_response(request: WSManRequest, body: str = "") -> httpx.Response:
    """A 200 answer to ``request`` with ``body`` (XML text using the ``NS`` prefixes)."""
    action = _RESPONSE_ACTIONS.get(request.operation or "", request.action + "Response")
    return httpx.Response(
        200,
        headers={"Content-Type": _CONTENT_TYPE},
        content=_envelope(action, request.message_id, body),
    )


def fault_response(
    relates_to: str, error: WSManError, *, machine: str = "ex1.contoso.local"
) -> httpx.Response:
    """A SOAP 1.2 fault carrying a ``WSManFault`` (MS-WSMV 2.2.4.43), HTTP 500."""
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode>"
        f"<s:Value>{escape(error.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(error.message)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="{error.code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(error.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return httpx.Response(
        500,
        headers={"Content-Type": _CONTENT_TYPE},
        content=_envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body),
    )
