"""Calling OX's SOAP services through the core's SOAP client.

:class:`OXSoap` sends one operation (``POST /webservices/<Service>``) with
:class:`mailadmin.wire.soap.SoapClient`, which turns a SOAP fault into a typed mailadmin
error (:mod:`mailadmin_ox.faults`) and any other HTTP error into the core's generic one;
it returns the ``return`` elements of the answer. :class:`Service` describes an endpoint:
its path, the namespace of its wrappers, the namespace its data objects use and the name
of its credentials element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from mailadmin.sdk import (
    Credentials,
    Node,
    SoapClient,
    SoapVersion,
    child,
    child_text,
    children,
    errors,
    is_nil,
    local_name,
    native_name,
    node,
)
from mailadmin_ox.faults import to_error
from mailadmin_ox.namespaces import PREFIXES, RR, RS, D, R, S

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from mailadmin.sdk import Transport

__all__ = [
    "CONTEXT",
    "RESELLER",
    "RESELLER_CONTEXT",
    "RESELLER_USER",
    "RESOURCE",
    "SECONDARY_ACCOUNT",
    "USER",
    "OXSoap",
    "Service",
    "read_attributes",
    "read_combination",
]


@dataclass(frozen=True)
class Service:
    """One OX SOAP endpoint: ``name`` (path under ``/webservices/``), ``ns`` (operation
    wrappers and their children), ``data_ns`` (fields of contexts and users, including
    those a ResellerContext inherits from Context),
    ``credentials`` (``auth``, or ``creds`` in OXResellerService)."""

    name: str
    ns: str
    data_ns: str
    credentials: str = "auth"

    def field(self, name: str, value: object = None, *kids: Node | None) -> Node:
        """A direct child of an operation wrapper (``ctx``, ``user``, ``auth``...)."""
        return node(self.ns, name, value, *kids)

    def data(self, name: str, value: object = None, *kids: Node | None) -> Node:
        """A field of a data object (``id``, ``name``, ``maxQuota``)."""
        return node(self.data_ns, name, value, *kids)

    def auth(self, credentials: Credentials) -> Node:
        """The credentials element."""
        return node(
            self.ns,
            self.credentials,
            None,
            node(R, "login", credentials.username),
            node(R, "password", credentials.secret.get_secret_value()),
        )


USER = Service("OXUserService", S, D)
CONTEXT = Service("OXContextService", S, D)
RESOURCE = Service("OXResourceService", S, D)
SECONDARY_ACCOUNT = Service("OXSecondaryAccountService", S, D)
# The reseller services' ``ctx`` is a ResellerContext (RD), which extends OX's Context: the
# inherited fields (``id``, ``name``, ``maxQuota``) stay in D; their users are OX's User (D).
RESELLER_USER = Service("OXResellerUserService", RS, D)
RESELLER_CONTEXT = Service("OXResellerContextService", RS, D)
RESELLER = Service("OXResellerService", RS, RR, credentials="creds")


class OXSoap:
    """Sends OX SOAP operations over ``transport`` for the instance called ``name``."""

    def __init__(self, transport: Transport, *, name: str) -> None:
        self.transport = transport
        self.name = name
        # One SOAP client per operation, built on first use: a fault names the operation.
        self._clients: dict[str, SoapClient] = {}

    async def call(
        self,
        service: Service,
        operation: str,
        params: Sequence[Node | None],
        *,
        write: bool,
        idempotent: bool | None = None,
    ) -> list[Element]:
        """Send ``operation`` with ``params`` (``None`` entries skipped); return the
        ``return`` elements (empty for void operations).

        ``write`` marks a change (refused in a dry run); ``idempotent`` lets the transport
        resend a write whose answer was lost (absolute changes only).
        """
        label = f"{service.name}.{operation}"
        client = self._client(label)
        first = await client.send(
            f"/webservices/{service.name}",
            node(service.ns, operation, None, *params),
            write=write,
            idempotent=idempotent,
            operation=label,
            # OX ignores SOAPAction; its WSDL declares Axis2-style "urn:<operation>".
            action=f"urn:{operation}",
        )
        if first is None:
            return []
        if local_name(first.tag) != f"{operation}Response":
            # After a write, an answer of another operation says nothing about whether the
            # platform holds the change: unknown, so the change is read back.
            kind = errors.OutcomeUnknown if write else errors.ProtocolError
            raise kind(
                f"{self.name} answered {operation} with an unexpected element",
                debug={"element": first.tag},
            )
        returned = list(children(first, "return"))
        if write and not _answer_fits(operation, returned):
            raise errors.OutcomeUnknown(
                f"{self.name} answered {operation} with fields it does not have",
                debug={"element": first.tag},
            )
        return returned

    async def stream(
        self,
        service: Service,
        operation: str,
        params: Sequence[Node | None],
        *,
        handle: Callable[[Element], object],
    ) -> None:
        """Send the read ``operation`` and pass each ``return`` element of its answer to
        ``handle`` as it arrives (a list answer of any length held one item at a time)."""
        label = f"{service.name}.{operation}"
        first = await self._client(label).stream(
            f"/webservices/{service.name}",
            node(service.ns, operation, None, *params),
            item="return",
            handle=handle,
            write=False,
            operation=label,
            action=f"urn:{operation}",
        )
        if first is not None and local_name(first.tag) != f"{operation}Response":
            raise errors.ProtocolError(
                f"{self.name} answered {operation} with an unexpected element",
                debug={"element": first.tag},
            )

    def _client(self, label: str) -> SoapClient:
        client = self._clients.get(label)
        if client is None:
            client = self._clients[label] = SoapClient(
                self.transport,
                name=self.name,
                version=SoapVersion.SOAP11,
                to_error=partial(to_error, provider=self.name, operation=label),
                prefixes=PREFIXES,
            )
        return client


#: Writes whose answer is empty (OX's SOAP ``void``): any ``return`` in it is not theirs.
_VOID_WRITES = frozenset(
    {"change", "changeByModuleAccessName", "changeModuleAccess", "delete", "changeQuota"}
)


def _answer_fits(operation: str, returned: list[Element]) -> bool:
    """Whether a write's ``return`` elements are the ones the operation answers with:
    none for a void write; an object with a numeric ``id`` for a creation."""
    if operation in _VOID_WRITES:
        return not returned
    if operation.startswith("create"):
        ids = [child_text(r, "id") for r in returned]
        return len(returned) == 1 and bool(ids[0]) and str(ids[0]).isdigit()
    return True


def read_attributes(element: Element | None) -> dict[str, dict[str, str]]:
    """A ``SOAPStringMapMap`` (``userAttributes``) as ``{namespace: {name: value}}``."""
    found: dict[str, dict[str, str]] = {}
    if element is None:
        return found
    for entry in children(element, "entries"):
        key_el = child(entry, "key")
        value_el = child(entry, "value")
        if key_el is None or key_el.text is None:
            continue
        values = found.setdefault(key_el.text, {})
        for inner in children(value_el, "entries") if value_el is not None else ():
            k, v = child(inner, "key"), child(inner, "value")
            if k is not None and k.text is not None and v is not None and not is_nil(v):
                values[k.text] = v.text or ""
    return found


def read_combination(element: Element, *, source: str) -> str | None:
    """The access combination name in a ``return`` element (``None`` when nil), refused
    as a protocol error unless it looks like one, so no garbage is compared or written."""
    if is_nil(element):
        return None
    return native_name(element.text, what="access combination", source=source)
