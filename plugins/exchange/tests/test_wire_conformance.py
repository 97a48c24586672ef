"""Raw Exchange Online admin API and Graph requests, written from published sources, against
the mock.

Not from the plugin: the InvokeCommand bodies are the ones CIPP sends and the cmdlet docs
describe (``office-docs-powershell``: names, parameter sets, mandatory parameters); the
Graph calls follow Graph's docs (``subscribedsku-list``, ``user-list`` with
``ConsistencyLevel``). Valid requests succeed; malformed ones get the refusal the
reference quotes (1.7 for the admin API's OData envelope and statuses, 3 for Graph's).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID
from mailadmin_exchange.mock.state import ExchangeState

from mailadmin.mock import Fault, MockServer

TOKEN_URL = f"https://login.microsoftonline.com/{DEFAULT_TENANT}/oauth2/v2.0/token"
INVOKE = f"https://outlook.office365.com/adminapi/beta/{DEFAULT_TENANT_ID}/InvokeCommand"
GRAPH = "https://graph.microsoft.com/v1.0"
ANCHOR = f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{DEFAULT_TENANT_ID}"
DOMAIN = DEFAULT_TENANT


def _state(server: MockServer) -> ExchangeState:
    assert isinstance(server.state, ExchangeState)
    return server.state


async def _token(client: httpx.AsyncClient, scope: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": "mock-client",
        "client_secret": "secret",
        "scope": scope,
    }
    answer = await client.post(TOKEN_URL, data=form)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def invoke(
    client: httpx.AsyncClient, cmdlet: str, parameters: dict[str, Any], query: str = ""
) -> httpx.Response:
    """``POST .../InvokeCommand`` with the three headers CIPP sends (reference 1.3)."""
    token = await _token(client, "https://outlook.office365.com/.default")
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-AnchorMailbox": ANCHOR,
    }
    body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
    return await client.post(INVOKE + query, json=body, headers=headers)


def details(answer: httpx.Response) -> tuple[int, str, str, str]:
    """(status, error.code, error.message, details[0].message) of a cmdlet error."""
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"], error["details"][0]["message"]


# -- valid requests ---------------------------------------------------------------------------


async def test_get_mailbox_by_recipient_type_as_cipp_lists_them(client: httpx.AsyncClient) -> None:
    answer = await invoke(
        client,
        "Get-Mailbox",
        {"RecipientTypeDetails": ["SharedMailbox", "RoomMailbox"], "ResultSize": "Unlimited"},
        "?$select=RecipientTypeDetails,PrimarySmtpAddress",
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["@adminapi.warnings"] == []
    assert {row["RecipientTypeDetails"] for row in body["value"]} <= {
        "SharedMailbox",
        "RoomMailbox",
    }


@pytest.mark.parametrize(
    ("switch", "extra", "kind"),
    [
        ("Shared", {}, "SharedMailbox"),
        ("Room", {"ResourceCapacity": 10}, "RoomMailbox"),
        ("Equipment", {}, "EquipmentMailbox"),
    ],
)
async def test_new_mailbox_in_each_parameter_set(
    client: httpx.AsyncClient, server: MockServer, switch: str, extra: dict[str, Any], kind: str
) -> None:
    # CIPP Invoke-AddSharedMailbox / AddRoomMailbox / AddEquipmentMailbox bodies.
    address = f"box-{switch.lower()}@{DOMAIN}"
    parameters = {
        "Name": f"box-{switch.lower()}",
        "DisplayName": "Box",
        "PrimarySmtpAddress": address,
        switch: True,
        **extra,
    }
    answer = await invoke(client, "New-Mailbox", parameters)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"][0]["RecipientTypeDetails"] == kind
    assert _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[address].type == kind


async def test_parameter_names_bind_in_any_case(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    answer = await invoke(
        client,
        "set-casmailbox",
        {"identity": f"anna@{DOMAIN}", "popenabled": False, "IMAPENABLED": False},
    )
    assert answer.status_code == 200, answer.text
    anna = _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[f"anna@{DOMAIN}"]
    assert anna.pop is False and anna.imap is False


async def test_graph_subscribed_skus_and_user_count(client: httpx.AsyncClient) -> None:
    token = await _token(client, "https://graph.microsoft.com/.default")
    skus = await client.get(
        f"{GRAPH}/subscribedSkus?$select=skuPartNumber,prepaidUnits,consumedUnits",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert skus.status_code == 200
    assert {"skuPartNumber", "prepaidUnits", "consumedUnits"} <= set(skus.json()["value"][0])
    count = await client.get(
        f"{GRAPH}/users/$count",
        headers={"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"},
    )
    assert count.status_code == 200 and count.text.isdigit()


# -- refusals ---------------------------------------------------------------------------------

BINDING = "System.Management.Automation.ParameterBindingException"
AMBIGUOUS = "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException"

REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "unknown parameter",
        "Get-Mailbox",
        {"Bogus": 1},
        f"|{BINDING}|A parameter cannot be found that matches parameter name 'Bogus'.",
    ),
    (
        "parameters of two sets",
        "Get-Mailbox",
        {"Identity": f"anna@{DOMAIN}", "Anr": "an"},
        f"|{AMBIGUOUS}|Parameter set cannot be resolved using the specified named parameters.",
    ),
    (
        "a room parameter in the shared set",
        "New-Mailbox",
        {"Name": "x", "Shared": True, "ResourceCapacity": 4},
        f"|{AMBIGUOUS}|Parameter set cannot be resolved using the specified named parameters.",
    ),
    (
        "two kind switches",
        "New-Mailbox",
        {"Name": "x", "Shared": True, "Room": True},
        f"|{AMBIGUOUS}|Parameter set cannot be resolved using the specified named parameters.",
    ),
    (
        "missing mandatory Identity",
        "Set-Mailbox",
        {"ProhibitSendQuota": "1GB"},
        f"|{BINDING}|Cannot process command because of one or more missing mandatory "
        "parameters: Identity.",
    ),
    (
        "missing mandatory Name",
        "New-Mailbox",
        {"Shared": True, "DisplayName": "x"},
        f"|{BINDING}|Cannot process command because of one or more missing mandatory "
        "parameters: Name.",
    ),
    (
        "a user mailbox without its password",
        "New-Mailbox",
        {"Name": "x", "MicrosoftOnlineServicesID": f"x@{DOMAIN}"},
        f"|{BINDING}|Cannot process command because of one or more missing mandatory "
        "parameters: Password.",
    ),
]


@pytest.mark.parametrize(
    ("cmdlet", "parameters", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
async def test_malformed_cmdlets_get_the_binding_error(
    client: httpx.AsyncClient,
    server: MockServer,
    cmdlet: str,
    parameters: dict[str, Any],
    message: str,
) -> None:
    before = _state(server).snapshot()
    answer = await invoke(client, cmdlet, parameters)
    assert details(answer) == (400, "BadRequest", "Error executing cmdlet", message)
    assert answer.json()["@adminapi.warnings"] == []
    assert _state(server).snapshot() == before  # nothing half-applied


async def test_a_switch_given_text_fails_its_conversion(client: httpx.AsyncClient) -> None:
    answer = await invoke(client, "New-Mailbox", {"Name": "x", "Shared": "true"})
    error = answer.json()["error"]
    assert answer.status_code == 400 and "details" not in error
    assert "parameter 'Shared'" in error["innererror"]["internalexception"]["message"]


async def test_an_unknown_cmdlet_is_a_nul_bodied_403(client: httpx.AsyncClient) -> None:
    answer = await invoke(client, "Get-Recipient", {})
    assert answer.status_code == 403 and set(answer.content) == {0}


async def test_no_authorization_header(client: httpx.AsyncClient) -> None:
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}}
    admin = await client.post(INVOKE, json=body, headers={"X-AnchorMailbox": ANCHOR})
    assert admin.status_code == 401 and admin.content == b""
    graph = await client.get(f"{GRAPH}/subscribedSkus")
    assert graph.status_code == 401
    error = graph.json()["error"]
    assert (error["code"], error["message"]) == (
        "InvalidAuthenticationToken",
        "Access token is empty.",
    )
    assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])


async def test_count_without_consistency_level(client: httpx.AsyncClient) -> None:
    token = await _token(client, "https://graph.microsoft.com/.default")
    answer = await client.get(f"{GRAPH}/users/$count", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "Request_BadRequest",
        "$count is not currently supported.",
    )


async def test_invoke_command_on_v1_is_405(client: httpx.AsyncClient) -> None:
    # Only beta answers InvokeCommand (PYA, measured): v1.0 refuses the method.
    token = await _token(client, "https://outlook.office365.com/.default")
    answer = await client.post(
        INVOKE.replace("/beta/", "/v1.0/"),
        json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}},
        headers={"Authorization": f"Bearer {token}", "X-AnchorMailbox": ANCHOR},
    )
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "MethodNotAllowed"


async def test_throttling_in_each_hosts_form(client: httpx.AsyncClient, server: MockServer) -> None:
    # Reference 1.8 (the module's concurrency text) and 3.4 (Graph's TooManyRequests).
    admin_token = await _token(client, "https://outlook.office365.com/.default")
    graph_token = await _token(client, "https://graph.microsoft.com/.default")
    server.inject(Fault(kind="rate_limit", retry_after=41))
    admin = await client.post(
        INVOKE,
        json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}},
        headers={"Authorization": f"Bearer {admin_token}", "X-AnchorMailbox": ANCHOR},
    )
    assert admin.status_code == 429 and admin.headers["Retry-After"] == "41"
    assert admin.text.startswith("You have reached the maximum number of concurrent requests")
    graph = await client.get(
        f"{GRAPH}/subscribedSkus", headers={"Authorization": f"Bearer {graph_token}"}
    )
    assert graph.status_code == 429 and graph.headers["Retry-After"] == "41"
    assert graph.json()["error"]["code"] == "TooManyRequests"
