"""What each admin request may carry, and how the server reads it (no HTTP here).

Names come from the JAXB request classes of ``Zimbra/zm-mailbox``
(``soap/src/java/com/zimbra/soap/admin/message/*Request.java``, with
``AttributeSelectorImpl``'s ``attrs``) and from ``store/docs/soap-admin.txt``. The
handlers read requests through Zimbra's ``Element`` API, which gives the server's
behaviour at the edges:

* a scalar parameter may be an attribute or a child element (``getAttribute`` falls back
  to a child), but a selector (``<account by="name">``) must be an element: given as an
  attribute it is missing (``missing required element: account``);
* a typed value is parsed when the handler reads it: ``invalid boolean value 'x' for
  attribute: countOnly`` (``1``/``0``/``true``/``false``, any case for the words),
  ``invalid long value 'x' for attribute: limit``;
* a selector's ``by`` must be one of its enum's names, case as written:
  ``unknown key: x``;
* a parameter the handler does not read is ignored: the real server neither refuses nor
  uses it. The mock ignores it the same way and records it in
  :attr:`~mailadmin_zextras.mock.state.ZextrasState.ignored`, so tests can insist that a
  client sends nothing the server would drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BY", "REQUESTS", "RequestShape", "parse_bool", "parse_long"]


@dataclass(frozen=True)
class RequestShape:
    """One request: its scalar parameters (name -> ``"str"``, ``"bool"`` or ``"long"``)
    and the child elements it reads (selectors, ``a`` lists)."""

    params: dict[str, str] = field(default_factory=dict)
    elements: frozenset[str] = frozenset()

    def known(self, name: str) -> bool:
        """Whether the server reads a parameter or element of this name."""
        return name in self.params or name in self.elements or name in _EVERY_REQUEST


#: Read on every request by the SOAP engine (``SoapEngine``: the batch correlator).
_EVERY_REQUEST = frozenset({"requestId"})
_ATTRS = frozenset({"a"})

#: The names of each selector's ``by`` enum (``Key.AccountBy``, ``Key.DomainBy``...).
BY: dict[str, frozenset[str]] = {
    "account": frozenset(
        {"adminName", "appAdminName", "id", "foreignPrincipal", "name", "krb5Principal"}
    ),
    "calresource": frozenset({"id", "foreignPrincipal", "name"}),
    "cos": frozenset({"id", "name"}),
    "domain": frozenset({"id", "name", "virtualHostname", "krb5Realm", "foreignName"}),
}

REQUESTS: dict[str, RequestShape] = {
    "AuthRequest": RequestShape(
        {
            "name": "str",
            "password": "str",
            "persistAuthTokenCookie": "bool",
            "csrfTokenSecured": "bool",
            "twoFactorCode": "str",
            "virtualHost": "str",
            "authToken": "str",
        },
        frozenset({"account"}),
    ),
    "GetVersionInfoRequest": RequestShape(),
    "GetAccountRequest": RequestShape(
        {"applyCos": "bool", "attrs": "str", "effectiveQuota": "bool"}, frozenset({"account"})
    ),
    "CreateAccountRequest": RequestShape({"name": "str", "password": "str"}, _ATTRS),
    "ModifyAccountRequest": RequestShape({"id": "str"}, _ATTRS),
    "DeleteAccountRequest": RequestShape({"id": "str"}),
    "SetPasswordRequest": RequestShape({"id": "str", "newPassword": "str", "dryRun": "bool"}),
    "AddAccountAliasRequest": RequestShape({"id": "str", "alias": "str"}),
    "RemoveAccountAliasRequest": RequestShape({"id": "str", "alias": "str"}),
    "GetCalendarResourceRequest": RequestShape(
        {"applyCos": "bool", "attrs": "str"}, frozenset({"calresource"})
    ),
    "CreateCalendarResourceRequest": RequestShape({"name": "str", "password": "str"}, _ATTRS),
    "ModifyCalendarResourceRequest": RequestShape({"id": "str"}, _ATTRS),
    "DeleteCalendarResourceRequest": RequestShape({"id": "str"}),
    "GetAllCosRequest": RequestShape(),
    "GetCosRequest": RequestShape({"attrs": "str"}, frozenset({"cos"})),
    "GetDomainRequest": RequestShape(
        {"applyConfig": "bool", "attrs": "str"}, frozenset({"domain"})
    ),
    "ModifyDomainRequest": RequestShape({"id": "str"}, _ATTRS),
    "CountAccountRequest": RequestShape({}, frozenset({"domain"})),
    "SearchDirectoryRequest": RequestShape(
        {
            "query": "str",
            "maxResults": "long",
            "limit": "long",
            "offset": "long",
            "domain": "str",
            "applyCos": "bool",
            "applyConfig": "bool",
            "sortBy": "str",
            "types": "str",
            "sortAscending": "bool",
            "countOnly": "bool",
            "attrs": "str",
        }
    ),
    "GetQuotaUsageRequest": RequestShape(
        {
            "domain": "str",
            "allServers": "bool",
            "limit": "long",
            "offset": "long",
            "sortBy": "str",
            "sortAscending": "bool",
            "refresh": "bool",
        }
    ),
    "BatchRequest": RequestShape({"onerror": "str"}),
}


def parse_bool(key: str, value: str) -> bool:
    """``Element.parseBool``: ``1``/``0`` or ``true``/``false`` in any case; anything else
    raises a :class:`ValueError` carrying the server's reason."""
    if value == "1" or value.lower() == "true":
        return True
    if value == "0" or value.lower() == "false":
        return False
    raise ValueError(f"invalid boolean value '{value}' for attribute: {key}")


def parse_long(key: str, value: str) -> int:
    """``Element.parseLong`` (Java's ``Long.parseLong``: an optional sign and digits)."""
    digits = value[1:] if value[:1] in "+-" else value
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"invalid long value '{value}' for attribute: {key}")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"invalid long value '{value}' for attribute: {key}")
    return number
