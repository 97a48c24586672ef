"""The Exchange mock's handlers: read the real wire format, call the state, write the real
wire format (reference 1.5-1.8 for the admin API, 3 for Graph, 1.2 for the token).
"""

from __future__ import annotations

import functools
import itertools
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload
from urllib.parse import urlsplit

import httpx

from mailadmin.mock import MalformedRequest, MockRequest, Reply, odata
from mailadmin_exchange.mock.cmdlets import CMDLETS, bind
from mailadmin_exchange.mock.model import MockMailbox, MockSku, MockTenant
from mailadmin_exchange.mock.state import (
    ADMIN_SCOPE,
    GRAPH_SCOPE,
    CmdletError,
    ExchangeState,
    GraphError,
    Listing,
)
from mailadmin_exchange.sizes import format_size

__all__ = [
    "RECIPIENT_TYPES",
    "admin_error",
    "assign_license",
    "count_users",
    "get_user",
    "invoke_command",
    "invoke_get",
    "openid_configuration",
    "subscribed_skus",
]

_ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)
_COLLECTION = "$metadata#Collection(Exchange.GenericHashTable)"
#: Every value ``-RecipientTypeDetails`` accepts (reference 2.2).
RECIPIENT_TYPES = (
    "DiscoveryMailbox",
    "EquipmentMailbox",
    "GroupMailbox",
    "LegacyMailbox",
    "LinkedMailbox",
    "LinkedRoomMailbox",
    "RoomMailbox",
    "SchedulingMailbox",
    "SharedMailbox",
    "TeamMailbox",
    "UserMailbox",
)
_NO_CHANGE = "The command completed successfully but no settings of '{0}' have been modified."
_MORE = (
    "There are more results available than are currently displayed. To view them, follow "
    "the next link."
)
_RESULT_SIZE = (
    "By default, only the first {0} items are returned. Use the ResultSize parameter to "
    'specify the number of items returned. To return all items, specify "-ResultSize '
    'Unlimited".'
)
_PAGE_DEFAULT = 1000
_PAGE_MAX = 1000
_DEFAULT_RESULT_SIZE = 1000
_FILTER_CLAUSE = re.compile(r"^\s*(\w+)\s+-eq\s+'([^']*)'\s*$", re.IGNORECASE)


# -- token endpoint ------------------------------------------------------------------------


def openid_configuration(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``GET /{tenant}/v2.0/.well-known/openid-configuration``: where the token endpoint is,
    for clients such as msal that discover it."""
    tenant = state.tenant(request.path_params["tenant"])
    if tenant is None:
        return httpx.Response(400, json={"error": "invalid_tenant", "error_codes": [90002]})
    root = _origin(request)
    base = f"{root}/{tenant.id}"
    return httpx.Response(
        200,
        json={
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"{root}/{tenant.id}/v2.0",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "tenant_region_scope": "EU",
        },
    )


def instance_discovery(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``GET /common/discovery/instance``: the authority's metadata (msal asks for it)."""
    host = urlsplit(request.url).netloc or "login.microsoftonline.com"
    return httpx.Response(
        200,
        json={
            "tenant_discovery_endpoint": f"{_origin(request)}/common/v2.0/.well-known/"
            "openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        },
    )


# -- admin API (InvokeCommand) -------------------------------------------------------------


def admin_error(status: int, exc: CmdletError | None, message: str = "") -> httpx.Response:
    """The admin API's OData error envelope (reference 1.7)."""
    code = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}.get(status, "Error")
    outer = "Error executing cmdlet" if exc is not None else (message or "Invalid Operation")
    error: dict[str, Any] = {"code": code, "message": outer}
    if exc is not None:
        text = f"{exc.error_id}|{exc.exception}|{exc.text}"
        if exc.in_details:
            error["details"] = [{"code": "Client", "target": "", "message": text}]
        error["innererror"] = {
            "message": outer,
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "stacktrace": "",
            "internalexception": {
                "message": exc.text,
                "type": "Microsoft.Exchange.Management.PSDirectInvoke."
                "DirectInvokeCmdletExecutionException",
                "stacktrace": "",
            },
        }
    return httpx.Response(
        status,
        json={
            "error": error,
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": [],
        },
        headers={"Content-Type": _ODATA_JSON},
    )


def invoke_command(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``POST /adminapi/beta/{tenant}/InvokeCommand``: run one cmdlet. A next link (the
    same URL with ``$skiptoken``) is followed by posting the same body to it again."""
    tenant, client_id = _admin_caller(request, state)
    cmdlet, parameters = _cmdlet_input(request.json())
    if not state.may_run(tenant, client_id, cmdlet):
        raise Reply(_forbidden())
    return _run(request, state, tenant, cmdlet, parameters)


def invoke_get(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``GET`` of a next link (how GOX follows it, reference 1.6): the link carries no body,
    so it continues the tenant's last paged listing."""
    tenant, _ = _admin_caller(request, state)
    listing = state.listings.get(tenant.id)
    if odata.SKIP_TOKEN not in request.query:
        return admin_error(405, None, "The HTTP method 'GET' is not allowed.")
    if listing is None:
        raise Reply(_expired_page())
    return _listing(request, state, tenant, listing.cmdlet, listing.parameters)


def _admin_caller(request: MockRequest, state: ExchangeState) -> tuple[MockTenant, str]:
    # No token, an expired one or a Graph token: 401 without a body (G2O, reference 1.2).
    token = state.oauth.check(request, scope=ADMIN_SCOPE, reply=lambda _: httpx.Response(401))
    tenant = state.tenant(request.path_params["tenant"])
    issued_in = state.token_tenant(token)
    if tenant is None or issued_in is None or issued_in.id != tenant.id:
        raise Reply(httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm=""'}))
    return tenant, token.client_id


def _cmdlet_input(body: Any) -> tuple[str, dict[str, Any]]:
    cmdlet_input = body.get("CmdletInput") if isinstance(body, dict) else None
    name = cmdlet_input.get("CmdletName") if isinstance(cmdlet_input, dict) else None
    if not isinstance(name, str) or not name:
        raise MalformedRequest("The request body has no CmdletInput.CmdletName")
    parameters = cmdlet_input.get("Parameters", {})  # type: ignore[union-attr]
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise MalformedRequest("CmdletInput.Parameters must be an object")
    return name, parameters


def _run(
    request: MockRequest,
    state: ExchangeState,
    tenant: MockTenant,
    cmdlet: str,
    parameters: dict[str, Any],
) -> httpx.Response:
    key = cmdlet.lower()
    if key not in CMDLETS:
        # Unknown to the role as well: the same NUL-bodied 403 (reference 1.7).
        raise Reply(_forbidden())
    try:
        parameters = bind(cmdlet, parameters)
        if key in ("get-mailbox", "get-casmailbox", "get-mailboxplan"):
            _check_listing_parameters(parameters)
            return _listing(request, state, tenant, cmdlet, parameters)
        if key == "set-mailbox":
            changed = state.set_mailbox(tenant, parameters)
            return _result(request, tenant, [], [] if changed else [_no_change(parameters)])
        if key == "set-casmailbox":
            changed = state.set_cas_mailbox(tenant, parameters)
            return _result(request, tenant, [], [] if changed else [_no_change(parameters)])
        if key == "new-mailbox":
            mailbox = state.create_mailbox(tenant, parameters)
            return _result(request, tenant, [mailbox_row(state, tenant, mailbox)], [])
        state.remove_mailbox(tenant, parameters)
        return _result(request, tenant, [], [])
    except CmdletError as exc:
        return admin_error(exc.status, exc)


def _check_listing_parameters(parameters: Mapping[str, Any]) -> None:
    types = parameters.get("RecipientTypeDetails")
    if types is not None:
        for value in types if isinstance(types, list) else [types]:
            if not isinstance(value, str) or value.lower() not in (
                t.lower() for t in RECIPIENT_TYPES
            ):
                raise CmdletError(
                    400,
                    "System.Management.Automation.ParameterBindingException",
                    f"Cannot bind parameter 'RecipientTypeDetails'. Cannot convert value "
                    f'"{value}" to type "Microsoft.Exchange.Data.Directory.Recipient.'
                    'RecipientTypeDetails". Error: "Unable to match the identifier name '
                    f"{value} to a valid enumerator name. Specify one of the following "
                    f'enumerator names and try again: {", ".join(RECIPIENT_TYPES)}"',
                    in_details=False,
                )
    size = parameters.get("ResultSize")
    if size is not None and not (
        (isinstance(size, str) and (size.lower() == "unlimited" or size.isdigit()))
        or (isinstance(size, int) and not isinstance(size, bool) and size > 0)
    ):
        raise CmdletError(
            400,
            "System.Management.Automation.ParameterBindingException",
            f"Cannot process argument transformation on parameter 'ResultSize'. Cannot "
            f'convert value "{size}" to type "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]".',
            in_details=False,
        )
    if "Filter" in parameters:
        _filter(parameters["Filter"])


def _listing(
    request: MockRequest,
    state: ExchangeState,
    tenant: MockTenant,
    cmdlet: str,
    parameters: dict[str, Any],
) -> httpx.Response:
    """One page of a listing: at most ``Prefer: odata.maxpagesize`` rows (1000 without it),
    a next link and a warning while more remain, never more than ``ResultSize`` rows."""
    try:
        rows, total = _rows(state, tenant, cmdlet, parameters)
    except CmdletError as exc:
        return admin_error(exc.status, exc)
    limit = _result_size(parameters.get("ResultSize"))
    capped = rows if limit is None or total <= limit else _Capped(rows, limit)
    page = odata.page(request, capped, default_size=_PAGE_DEFAULT, max_size=_PAGE_MAX)
    warnings: list[str] = []
    if page.next_link is not None:
        warnings.append(_MORE)
        state.listings[tenant.id] = Listing(cmdlet, parameters)
    elif limit is not None and total > limit:
        warnings.append(_RESULT_SIZE.format(limit))
    return _result(request, tenant, page.value, warnings, next_link=page.next_link)


class _Capped(Sequence[dict[str, Any]]):
    """The first ``limit`` rows of a listing (``ResultSize``)."""

    def __init__(self, rows: Sequence[dict[str, Any]], limit: int) -> None:
        self._rows = rows
        self._limit = limit

    def __len__(self) -> int:
        return min(len(self._rows), self._limit)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            return self._rows[start:stop]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._rows[index]


class _Mailboxes(Sequence[dict[str, Any]]):
    """Rows of stored mailboxes then fillers, built only for the slice a page asks for."""

    def __init__(
        self,
        state: ExchangeState,
        tenant: MockTenant,
        stored: list[MockMailbox],
        fillers: int,
        write: Callable[[ExchangeState, MockTenant, MockMailbox], dict[str, Any]],
    ) -> None:
        self._state = state
        self._tenant = tenant
        self._stored = stored
        self._fillers = fillers
        self._write = write

    def __len__(self) -> int:
        return len(self._stored) + self._fillers

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if not isinstance(index, slice):
            if not 0 <= index < len(self):
                raise IndexError(index)
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        head = self._stored[start:stop]
        rows = [self._write(self._state, self._tenant, m) for m in head]
        wanted = stop - max(start, len(self._stored))
        if wanted > 0:
            skip = max(0, start - len(self._stored))
            more = self._state.fillers(self._tenant, skip=skip)
            rows += [
                self._write(self._state, self._tenant, m) for m in itertools.islice(more, wanted)
            ]
        return rows


def _rows(
    state: ExchangeState,
    tenant: MockTenant,
    cmdlet: str,
    parameters: Mapping[str, Any],
) -> tuple[Sequence[dict[str, Any]], int]:
    """The rows of a listing as a sequence that builds rows on demand, and their number."""
    key = cmdlet.lower()
    if key == "get-mailboxplan":
        plans = [_plan_row(tenant, sku) for sku in tenant.skus]
        wanted = parameters.get("Identity")
        if wanted:
            names = str(wanted).lower()
            plans = [p for p in plans if names in (p["Name"].lower(), p["DisplayName"].lower())]
            if not plans:
                state.find(tenant, str(wanted))  # raises the 404
        return plans, len(plans)
    write = cas_row if key == "get-casmailbox" else mailbox_row
    types = parameters.get("RecipientTypeDetails")
    wanted_types = (
        {t.lower() for t in (types if isinstance(types, list) else [types])} if types else None
    )
    clauses = _filter(parameters["Filter"]) if "Filter" in parameters else []

    def keep(mailbox: MockMailbox) -> bool:
        if wanted_types is not None and mailbox.type.lower() not in wanted_types:
            return False
        return not clauses or any(
            all(_property(mailbox, name).lower() == value.lower() for name, value in clause)
            for clause in clauses
        )

    identity = parameters.get("Identity")
    if identity:
        found = [m for m in [state.find(tenant, str(identity))] if keep(m)]
        return _Mailboxes(state, tenant, found, 0, write), len(found)
    stored = [m for m in tenant.mailboxes.values() if keep(m)]
    if clauses:
        # A filter on names: test every filler (rare; tests use small tenants for it).
        stored += [m for m in state.fillers(tenant) if keep(m)]
        return _Mailboxes(state, tenant, stored, 0, write), len(stored)
    users = wanted_types is None or "usermailbox" in wanted_types
    fillers = state.filler_count(tenant) if users else 0
    return _Mailboxes(state, tenant, stored, fillers, write), len(stored) + fillers


def _filter(text: Any) -> list[list[tuple[str, str]]]:
    """An OPATH filter of ``Prop -eq 'value'`` clauses joined by ``-and`` / ``-or``."""
    if not isinstance(text, str):
        raise _bad_filter(text)
    alternatives = []
    for part in re.split(r"\s+-or\s+", text.strip().strip("()"), flags=re.IGNORECASE):
        clause = []
        for item in re.split(r"\s+-and\s+", part, flags=re.IGNORECASE):
            found = _FILTER_CLAUSE.match(item.strip().strip("()"))
            if not found:
                raise _bad_filter(text)
            clause.append((found.group(1), found.group(2)))
        alternatives.append(clause)
    return alternatives


def _bad_filter(text: Any) -> CmdletError:
    return CmdletError(
        400,
        "Microsoft.Exchange.Management.Tasks.ThrowTerminatingErrorException",
        f"Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": "
        f'"Invalid filter syntax. For a description of the filter parameter syntax see the '
        f'command help. "{text}" at position 1."',
    )


def _property(mailbox: MockMailbox, name: str) -> str:
    values = {
        "recipienttypedetails": mailbox.type,
        "primarysmtpaddress": mailbox.address,
        "userprincipalname": mailbox.upn,
        "name": mailbox.name,
        "alias": mailbox.alias,
        "displayname": mailbox.display_name,
    }
    return values.get(name.lower(), "")


def _result_size(value: Any) -> int | None:
    if value is None:
        return _DEFAULT_RESULT_SIZE
    if isinstance(value, str):
        return None if value.lower() == "unlimited" else int(value)
    return int(value)


def _select(request: MockRequest, row: dict[str, Any]) -> dict[str, Any]:
    wanted = request.query.get("$select")
    if not wanted:
        return row
    names = frozenset(n.strip().lower() for n in wanted.split(",") if n.strip())
    return {k: v for k, v in row.items() if _property_name(k) in names}


@functools.lru_cache(maxsize=512)
def _property_name(key: str) -> str:
    """``"Guid@odata.type"`` -> ``"guid"``: annotations go with their property."""
    return key.split("@", 1)[0].lower()


def _result(
    request: MockRequest,
    tenant: MockTenant,
    rows: list[dict[str, Any]],
    warnings: list[str],
    *,
    next_link: str | None = None,
) -> httpx.Response:
    root = _origin(request)
    body: dict[str, Any] = {
        "@odata.context": f"{root}/adminapi/beta/{tenant.id}/{_COLLECTION}",
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": warnings,
        "value": [_select(request, row) for row in rows],
    }
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return httpx.Response(200, json=body, headers={"Content-Type": _ODATA_JSON})


def _no_change(parameters: Mapping[str, Any]) -> str:
    return _NO_CHANGE.format(parameters.get("Identity", ""))


def _forbidden() -> httpx.Response:
    # Real answers declare gzip but carry NUL bytes (reference 1.7); the mock sends the NUL
    # bytes undeclared, since no HTTP client can read past a bad gzip stream to the status.
    return httpx.Response(403, content=b"\x00" * 16, headers={"Content-Type": "application/json"})


def _expired_page() -> httpx.Response:
    return admin_error(
        400,
        CmdletError(
            400,
            "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "Expired or Invalid pagination request. Default Expiry time is 00:30:00",
        ),
    )


def mailbox_row(state: ExchangeState, tenant: MockTenant, mailbox: MockMailbox) -> dict[str, Any]:
    """A ``Get-Mailbox`` / ``New-Mailbox`` row, with the annotations BURP shows."""
    plan = state.mailbox_plan_of(tenant, mailbox)
    resource = {
        "RoomMailbox": "Room",
        "LinkedRoomMailbox": "Room",
        "EquipmentMailbox": "Equipment",
    }.get(mailbox.type)
    capabilities = (
        [f"BPOS_S_{'Enterprise' if plan and plan.quota > 50 << 30 else 'Standard'}"] if plan else []
    )
    return {
        "Name": mailbox.name,
        "Identity": mailbox.name,
        "DisplayName": mailbox.display_name,
        "Alias": mailbox.alias,
        "PrimarySmtpAddress": mailbox.address,
        "UserPrincipalName": mailbox.upn,
        "EmailAddresses@odata.type": "#Collection(String)",
        "EmailAddresses": [f"SMTP:{mailbox.address}", *(f"smtp:{a}" for a in mailbox.aliases)],
        "ForwardingSmtpAddress": f"smtp:{mailbox.forwarding}" if mailbox.forwarding else None,
        "DeliverToMailboxAndForward": mailbox.deliver_and_forward,
        "ExternalDirectoryObjectId": mailbox.object_id,
        "Guid@data.type": "System.Guid",
        "Guid@odata.type": "#Guid",
        "Guid": mailbox.exchange_guid,
        "ExchangeGuid@data.type": "System.Guid",
        "ExchangeGuid@odata.type": "#Guid",
        "ExchangeGuid": mailbox.exchange_guid,
        "RecipientType": "UserMailbox",
        "RecipientTypeDetails": mailbox.type,
        "IsShared": mailbox.type == "SharedMailbox",
        "IsResource": resource is not None,
        "ResourceType": resource,
        "ResourceCapacity": mailbox.resource_capacity,
        "IssueWarningQuota": format_size(mailbox.issue_warning_quota),
        "ProhibitSendQuota": format_size(mailbox.prohibit_send_quota),
        "ProhibitSendReceiveQuota": format_size(mailbox.prohibit_send_receive_quota),
        "UseDatabaseQuotaDefaults": mailbox.use_database_quota_defaults,
        **{
            f"CustomAttribute{n}": mailbox.custom_attributes.get(f"CustomAttribute{n}", "")
            for n in range(1, 16)
        },
        "MailboxPlan": f"{plan.mailbox_plan}-{plan.mailbox_plan_guid}" if plan else None,
        "SKUAssigned": bool(mailbox.licenses) if mailbox.type == "UserMailbox" else None,
        "PersistedCapabilities@odata.type": "#Collection(String)",
        "PersistedCapabilities": capabilities,
        "WhenMailboxCreated": mailbox.created,
    }


def cas_row(state: ExchangeState, tenant: MockTenant, mailbox: MockMailbox) -> dict[str, Any]:
    """A ``Get-CASMailbox`` row."""
    return {
        "Name": mailbox.name,
        "Identity": mailbox.name,
        "DisplayName": mailbox.display_name,
        "PrimarySmtpAddress": mailbox.address,
        "ExternalDirectoryObjectId": mailbox.object_id,
        "Guid@data.type": "System.Guid",
        "Guid@odata.type": "#Guid",
        "Guid": mailbox.exchange_guid,
        "ActiveSyncEnabled": mailbox.activesync,
        "OWAEnabled": mailbox.owa,
        "MAPIEnabled": mailbox.mapi,
        "PopEnabled": mailbox.pop,
        "ImapEnabled": mailbox.imap,
        "EwsEnabled": mailbox.ews,
        "ECPEnabled": mailbox.ecp,
    }


def _plan_row(tenant: MockTenant, sku: MockSku) -> dict[str, Any]:
    quota = sku.quota
    return {
        "Name": f"{sku.mailbox_plan}-{sku.mailbox_plan_guid}",
        "Identity": f"{sku.mailbox_plan}-{sku.mailbox_plan_guid}",
        "DisplayName": sku.mailbox_plan,
        "Guid@data.type": "System.Guid",
        "Guid@odata.type": "#Guid",
        "Guid": sku.mailbox_plan_guid,
        "IsDefault": sku.sku_id == tenant.skus[0].sku_id,
        "IssueWarningQuota": format_size(quota * 98 // 100),
        "ProhibitSendQuota": format_size(quota * 99 // 100),
        "ProhibitSendReceiveQuota": format_size(quota),
        "MaxSendSize": format_size(35 << 20),
        "MaxReceiveSize": format_size(36 << 20),
        "RecipientLimits": 500,
    }


# -- Graph ---------------------------------------------------------------------------------


def _graph_caller(request: MockRequest, state: ExchangeState) -> MockTenant:
    # Graph's own error body (innerError with date, request-id, client-request-id).
    token = state.oauth.check(
        request,
        scope=GRAPH_SCOPE,
        reply=lambda message: graph_error(
            request, GraphError(401, "InvalidAuthenticationToken", message)
        ),
    )
    tenant = state.token_tenant(token)
    if tenant is None:
        raise Reply(
            graph_error(
                request,
                GraphError(401, "InvalidAuthenticationToken", "Access token validation failure."),
            )
        )
    return tenant


def graph_error(request: MockRequest, exc: GraphError) -> httpx.Response:
    """Graph's error envelope (reference 3)."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "")
    return httpx.Response(
        exc.status,
        json={
            "error": {
                "code": exc.code,
                "message": exc.message,
                "innerError": {
                    "date": now,
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": request.headers.get(
                        "client-request-id", str(uuid.uuid4())
                    ),
                },
            }
        },
        headers={"Content-Type": "application/json"},
    )


def _graph_json(request: MockRequest, body: dict[str, Any]) -> httpx.Response:
    headers = {"Content-Type": _ODATA_JSON, "request-id": str(uuid.uuid4())}
    if "client-request-id" in request.headers:
        headers["client-request-id"] = request.headers["client-request-id"]
    return httpx.Response(200, json=body, headers=headers)


def subscribed_skus(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``GET /v1.0/subscribedSkus`` (``$select`` honoured, ``$filter`` refused)."""
    tenant = _graph_caller(request, state)
    if "$filter" in request.query:
        return graph_error(
            request,
            GraphError(400, "Request_UnsupportedQuery", "Unsupported Query."),
        )
    rows = [_sku_row(state, tenant, sku) for sku in tenant.skus]
    return _graph_json(
        request,
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
            "value": [_select(request, row) for row in rows],
        },
    )


def _sku_row(state: ExchangeState, tenant: MockTenant, sku: MockSku) -> dict[str, Any]:
    return {
        "accountName": tenant.name.split(".", 1)[0],
        "accountId": tenant.id,
        "appliesTo": "User",
        "capabilityStatus": sku.capability_status,
        "consumedUnits": state.consumed(tenant, sku),
        "id": f"{tenant.id}_{sku.sku_id}",
        "skuId": sku.sku_id,
        "skuPartNumber": sku.part_number,
        "subscriptionIds": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"sub:{tenant.id}:{sku.sku_id}"))],
        "prepaidUnits": {
            "enabled": sku.enabled,
            "suspended": sku.suspended,
            "warning": sku.warning,
            "lockedOut": sku.locked_out,
        },
        "servicePlans": [
            {
                "servicePlanId": sku.service_plan_id,
                "servicePlanName": sku.service_plan,
                "provisioningStatus": "Success",
                "appliesTo": "User",
            }
        ],
    }


def _user_row(mailbox: MockMailbox) -> dict[str, Any]:
    return {
        "id": mailbox.object_id,
        "userPrincipalName": mailbox.upn,
        "displayName": mailbox.display_name,
        "mail": mailbox.address,
        "accountEnabled": mailbox.account_enabled,
        "usageLocation": mailbox.usage_location,
        "assignedLicenses": [{"disabledPlans": [], "skuId": s} for s in mailbox.licenses],
    }


def get_user(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``GET /v1.0/users/{id | userPrincipalName}`` (``$select`` honoured)."""
    tenant = _graph_caller(request, state)
    try:
        user = state.user(tenant, request.path_params["user"])
    except GraphError as exc:
        return graph_error(request, exc)
    row = _select(request, _user_row(user))
    row["id"] = user.object_id
    return _graph_json(
        request,
        {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", **row},
    )


def update_user(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``PATCH /v1.0/users/{id | userPrincipalName}``: ``accountEnabled`` and
    ``passwordProfile``; 204 with no body, as Graph answers."""
    tenant = _graph_caller(request, state)
    body = request.json()
    enabled = body.get("accountEnabled") if isinstance(body, dict) else None
    profile = body.get("passwordProfile") if isinstance(body, dict) else None
    password = profile.get("password") if isinstance(profile, dict) else None
    bad = (enabled is not None and not isinstance(enabled, bool)) or (
        profile is not None and not isinstance(password, str)
    )
    if not isinstance(body, dict) or bad:
        return graph_error(
            request,
            GraphError(400, "Request_BadRequest", "Invalid value specified for property."),
        )
    try:
        state.update_user(
            tenant, request.path_params["user"], account_enabled=enabled, password=password
        )
    except GraphError as exc:
        return graph_error(request, exc)
    return httpx.Response(204)


def assign_license(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``POST /v1.0/users/{id}/assignLicense`` (reference 3.2): 200 with the user."""
    tenant = _graph_caller(request, state)
    body = request.json()
    add = body.get("addLicenses") if isinstance(body, dict) else None
    remove = body.get("removeLicenses") if isinstance(body, dict) else None
    if not isinstance(add, list) or not isinstance(remove, list):
        return graph_error(
            request,
            GraphError(
                400,
                "Request_BadRequest",
                "One or more parameters of the operation 'assignLicense' are missing from the "
                "request payload. The missing parameters are: addLicenses, removeLicenses.",
            ),
        )
    try:
        add_ids = [str(item.get("skuId", "")) for item in add if isinstance(item, dict)]
        user = state.assign_license(
            tenant, request.path_params["user"], add_ids, [str(r) for r in remove]
        )
    except GraphError as exc:
        return graph_error(request, exc)
    return _graph_json(
        request,
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            **_user_row(user),
        },
    )


def count_users(request: MockRequest, state: ExchangeState) -> httpx.Response:
    """``GET /v1.0/users/$count``: a bare number, only with ``ConsistencyLevel: eventual``."""
    tenant = _graph_caller(request, state)
    if request.headers.get("consistencylevel", "").lower() != "eventual":
        return graph_error(
            request, GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        )
    return httpx.Response(
        200, text=str(state.count(tenant)), headers={"Content-Type": "text/plain"}
    )


def _origin(request: MockRequest) -> str:
    """Scheme and host the client addressed; Microsoft's own hosts are https-only, also when
    a client reaches the mock through a plain-HTTP hop that keeps their ``Host``."""
    parts = urlsplit(request.url)
    if not parts.netloc:
        return "https://outlook.office365.com"
    if (parts.hostname or "").lower() in _MICROSOFT_HOSTS:
        return f"https://{parts.hostname}"
    return f"{parts.scheme}://{parts.netloc}"


_MICROSOFT_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "outlook.office365.com",
        "outlook.office.com",
        "graph.microsoft.com",
    }
)


def rate_limit_headers(calls: int) -> dict[str, str]:
    """The admin API's rate-limit headers (reference 1.8): 30,000 calls per window."""
    reset = datetime.now(UTC) + timedelta(minutes=5)
    return {
        "Rate-Limit-Limit": "30000",
        "Rate-Limit-Remaining": str(max(0, 30000 - calls)),
        "Rate-Limit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{reset.microsecond // 1000:03d}Z",
        "OData-Version": "4.0",
        "X-Exchangeversion": "Version 15.20 (Build 7587.36)",
    }
