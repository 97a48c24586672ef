"""The mock answers the exact requests the reference quotes with the real shapes, so a client
written against Exchange Online works against it unchanged (reference 1, 3, 6)."""

from __future__ import annotations

import httpx
import pytest
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID, STANDARD
from mailadmin_exchange.mock.state import ExchangeState

from mailadmin.mock import MockServer

GRAPH = "https://graph.microsoft.com/v1.0"
TOKEN_URL = f"https://login.microsoftonline.com/{DEFAULT_TENANT}/oauth2/v2.0/token"
INVOKE_URL = f"https://outlook.office365.com/adminapi/beta/{DEFAULT_TENANT_ID}/InvokeCommand"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ADMIN_SCOPE = "https://outlook.office365.com/.default"
DOMAIN = DEFAULT_TENANT


def _state(server: MockServer) -> ExchangeState:
    state = server.state
    assert isinstance(state, ExchangeState)
    return state


async def _ask_token(
    client: httpx.AsyncClient, *, secret: str = "secret", scope: str = ADMIN_SCOPE
) -> httpx.Response:
    """The client-credentials request as Entra ID takes it (a form)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": "mock-client",
        "client_secret": secret,
        "scope": scope,
    }
    return await client.post(TOKEN_URL, data=form)


async def _token(client: httpx.AsyncClient, scope: str = ADMIN_SCOPE) -> str:
    answer = await _ask_token(client, scope=scope)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _invoke(cmdlet: str, **parameters: object) -> dict[str, object]:
    return {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}


async def _admin(
    client: httpx.AsyncClient,
    body: object,
    *,
    url: str = INVOKE_URL,
    page: int | None = None,
    token: str | None = None,
) -> httpx.Response:
    headers = {
        "X-AnchorMailbox": f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{DEFAULT_TENANT_ID}"
    }
    headers["Authorization"] = f"Bearer {token or await _token(client)}"
    if page:
        headers["Prefer"] = f"odata.maxpagesize={page}"
    return await client.post(url, json=body, headers=headers)


# -- token endpoint ------------------------------------------------------------------------


async def test_the_token_endpoint_issues_a_bearer_token(client: httpx.AsyncClient) -> None:
    answer = await _ask_token(client)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["access_token"].count(".") == 2  # JWT-shaped: clients read tid from it


async def test_a_wrong_secret_is_invalid_client(client: httpx.AsyncClient) -> None:
    answer = await _ask_token(client, secret="nope", scope=GRAPH_SCOPE)
    assert answer.status_code == 401
    body = answer.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert "nope" not in answer.text


async def test_a_scope_without_default_is_refused(client: httpx.AsyncClient) -> None:
    answer = await _ask_token(client, scope="User.Read")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


# -- admin API -----------------------------------------------------------------------------


async def test_get_mailbox_answers_the_captured_shape(client: httpx.AsyncClient) -> None:
    answer = await _admin(client, _invoke("Get-Mailbox", Identity=f"anna@{DOMAIN}"))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    assert answer.headers["OData-Version"] == "4.0"
    assert int(answer.headers["Rate-Limit-Remaining"]) < int(answer.headers["Rate-Limit-Limit"])
    body = answer.json()
    assert body["@odata.context"].endswith("$metadata#Collection(Exchange.GenericHashTable)")
    assert body["adminapi.warnings@odata.type"] == "#Collection(String)"
    assert body["@adminapi.warnings"] == []
    (row,) = body["value"]
    assert row["RecipientTypeDetails"] == "UserMailbox" and row["IsShared"] is False
    assert row["ProhibitSendReceiveQuota"] == "50 GB (53,687,091,200 bytes)"
    assert row["MailboxPlan"].startswith("ExchangeOnline-")
    assert row["ExchangeGuid@odata.type"] == "#Guid"
    assert row["EmailAddresses@odata.type"] == "#Collection(String)"


async def test_select_keeps_only_the_named_properties(client: httpx.AsyncClient) -> None:
    answer = await _admin(
        client,
        _invoke("Get-Mailbox", RecipientTypeDetails=["SharedMailbox"], ResultSize="Unlimited"),
        url=INVOKE_URL + "?$select=RecipientTypeDetails,PrimarySmtpAddress",
    )
    assert answer.json()["value"] == [
        {"RecipientTypeDetails": "SharedMailbox", "PrimarySmtpAddress": f"info@{DOMAIN}"}
    ]


async def test_pages_follow_by_reposting_the_same_body(client: httpx.AsyncClient) -> None:
    body = _invoke("Get-Mailbox", ResultSize="Unlimited")
    token = await _token(client)
    seen: list[str] = []
    answer = await _admin(client, body, page=4, token=token)
    while True:
        data = answer.json()
        seen += [row["PrimarySmtpAddress"] for row in data["value"]]
        link = data.get("@odata.nextLink")
        if not link:
            assert data["@adminapi.warnings"] == []
            break
        assert len(data["value"]) == 4 and data["@adminapi.warnings"]  # the truncation warning
        answer = await _admin(client, body, url=link, page=4, token=token)
    assert len(seen) == len(set(seen)) == 6


async def test_a_next_link_can_be_followed_by_get(client: httpx.AsyncClient) -> None:
    token = await _token(client)
    first = await _admin(
        client, _invoke("Get-Mailbox", ResultSize="Unlimited"), page=5, token=token
    )
    link = first.json()["@odata.nextLink"]
    second = await client.get(link, headers={"Authorization": f"Bearer {token}"})
    assert second.status_code == 200 and len(second.json()["value"]) == 1


async def test_a_skip_token_not_made_here_is_expired(client: httpx.AsyncClient) -> None:
    answer = await _admin(
        client, _invoke("Get-Mailbox", ResultSize="Unlimited"), url=INVOKE_URL + "?$skiptoken=bogus"
    )
    assert answer.status_code == 400
    assert (
        "Expired or Invalid pagination request" in answer.json()["error"]["details"][0]["message"]
    )


async def test_result_size_caps_the_rows_with_a_warning(client: httpx.AsyncClient) -> None:
    answer = await _admin(client, _invoke("Get-Mailbox", ResultSize=2))
    body = answer.json()
    assert len(body["value"]) == 2 and "@odata.nextLink" not in body
    assert "ResultSize" in body["@adminapi.warnings"][0]


async def test_without_a_token_the_admin_api_answers_401(client: httpx.AsyncClient) -> None:
    answer = await client.post(INVOKE_URL, json=_invoke("Get-Mailbox"))
    assert answer.status_code == 401 and answer.content == b""


async def test_a_graph_token_is_rejected_by_the_admin_api(client: httpx.AsyncClient) -> None:
    graph = await _token(client, GRAPH_SCOPE)
    answer = await _admin(client, _invoke("Get-Mailbox"), token=graph)
    assert answer.status_code == 401


async def test_a_cmdlet_outside_the_role_is_a_nul_bodied_403(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    _state(server).data.tenants[DEFAULT_TENANT_ID].apps[0].cmdlets = ["Get-Mailbox"]
    answer = await _admin(client, _invoke("Set-Mailbox", Identity="anna"))
    assert answer.status_code == 403 and set(answer.content) == {0}
    unknown = await _admin(client, _invoke("Get-User"))
    assert unknown.status_code == 403


async def test_an_unknown_parameter_fills_details_and_innererror(client: httpx.AsyncClient) -> None:
    answer = await _admin(client, _invoke("Get-Mailbox", Bogus=1))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "BadRequest" and error["message"] == "Error executing cmdlet"
    assert "'Bogus'" in error["details"][0]["message"]
    assert error["innererror"]["internalexception"]["message"]


async def test_a_bad_enum_fills_only_the_internal_exception(client: httpx.AsyncClient) -> None:
    answer = await _admin(client, _invoke("Get-Mailbox", RecipientTypeDetails=["Bogus"]))
    error = answer.json()["error"]
    assert answer.status_code == 400 and "details" not in error
    assert "Bogus" in error["innererror"]["internalexception"]["message"]


async def test_remove_mailbox_of_nobody_is_the_captured_404(client: httpx.AsyncClient) -> None:
    answer = await _admin(client, _invoke("Remove-Mailbox", Identity=f"x@{DOMAIN}"))
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "NotFound"
    error_id, kind, text = error["details"][0]["message"].split("|", 2)
    assert error_id == "Ex6F9304" and kind.endswith("ManagementObjectNotFoundException")
    assert f"object 'x@{DOMAIN}' couldn't be found" in text


async def test_set_mailbox_writes_the_state_and_a_repeat_warns(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    body = _invoke(
        "Set-Mailbox",
        Identity=f"anna@{DOMAIN}",
        IssueWarningQuota="1.8GB",
        ProhibitSendQuota=2040109465,
        ProhibitSendReceiveQuota="2GB",
    )
    first = await _admin(client, body)
    assert first.status_code == 200 and first.json()["@adminapi.warnings"] == []
    anna = _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[f"anna@{DOMAIN}"]
    assert anna.prohibit_send_receive_quota == 2 << 30
    assert anna.prohibit_send_quota == 2040109465
    again = await _admin(client, body)
    assert again.json()["@adminapi.warnings"] == [
        f"The command completed successfully but no settings of 'anna@{DOMAIN}' have been modified."
    ]


async def test_quotas_out_of_order_are_refused(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    answer = await _admin(
        client,
        _invoke(
            "Set-Mailbox", Identity="anna", IssueWarningQuota="6GB", ProhibitSendReceiveQuota="5GB"
        ),
    )
    assert answer.status_code == 400
    assert "must be less than or equal to" in answer.json()["error"]["details"][0]["message"]
    anna = _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[f"anna@{DOMAIN}"]
    assert anna.prohibit_send_receive_quota == 50 << 30  # nothing written


async def test_set_cas_mailbox_switches_flags(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    answer = await _admin(
        client,
        _invoke("Set-CASMailbox", Identity="anna", ActiveSyncEnabled=False, PopEnabled=False),
    )
    assert answer.status_code == 200
    anna = _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[f"anna@{DOMAIN}"]
    assert (anna.activesync, anna.pop, anna.owa) == (False, False, True)
    cas = await _admin(client, _invoke("Get-CASMailbox", Identity="anna"))
    row = cas.json()["value"][0]
    assert (row["ActiveSyncEnabled"], row["PopEnabled"], row["OWAEnabled"]) == (False, False, True)


@pytest.mark.parametrize(
    ("switches", "kind", "resource"),
    [
        ({"Shared": True}, "SharedMailbox", None),
        ({"Room": True, "ResourceCapacity": 8}, "RoomMailbox", "Room"),
        ({"Equipment": True}, "EquipmentMailbox", "Equipment"),
    ],
)
async def test_new_mailbox_creates_each_kind_as_cipp_sends_it(
    client: httpx.AsyncClient,
    server: MockServer,
    switches: dict[str, object],
    kind: str,
    resource: str | None,
) -> None:
    body = _invoke(
        "New-Mailbox",
        Name="sales",
        DisplayName="Sales",
        PrimarySmtpAddress=f"sales@{DOMAIN}",
        **switches,
    )
    answer = await _admin(client, body)
    assert answer.status_code == 200
    (row,) = answer.json()["value"]
    assert row["RecipientTypeDetails"] == kind and row["ResourceType"] == resource
    assert row["IsShared"] is (kind == "SharedMailbox")
    assert row["ExternalDirectoryObjectId"] and row["Guid"]
    stored = _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[f"sales@{DOMAIN}"]
    assert stored.type == kind
    duplicate = await _admin(client, body)
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.json()["error"]["details"][0]["message"]


async def test_get_mailbox_plan_lists_the_licence_plans(client: httpx.AsyncClient) -> None:
    answer = await _admin(client, _invoke("Get-MailboxPlan"))
    names = [row["DisplayName"] for row in answer.json()["value"]]
    assert names == ["ExchangeOnline", "ExchangeOnlineEnterprise"]


# -- Graph ---------------------------------------------------------------------------------


async def test_subscribed_skus_has_prepaid_and_consumed_units(client: httpx.AsyncClient) -> None:
    token = await _token(client, GRAPH_SCOPE)
    answer = await client.get(
        f"{GRAPH}/subscribedSkus?$select=skuId,skuPartNumber,capabilityStatus,consumedUnits,prepaidUnits",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    skus = {s["skuPartNumber"]: s for s in answer.json()["value"]}
    standard = skus["EXCHANGESTANDARD"]
    assert set(standard) == {
        "skuId",
        "skuPartNumber",
        "capabilityStatus",
        "consumedUnits",
        "prepaidUnits",
    }
    assert standard["prepaidUnits"] == {"enabled": 25, "suspended": 0, "warning": 0, "lockedOut": 0}
    assert standard["consumedUnits"] == 2 and skus["EXCHANGEENTERPRISE"]["consumedUnits"] == 1


async def test_assign_license_enforces_prepaid_units(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    tenant = _state(server).data.tenants[DEFAULT_TENANT_ID]
    tenant.skus[0].enabled = 2  # anna and carla hold both units of Plan 1
    token = await _token(client, GRAPH_SCOPE)
    answer = await client.post(
        f"{GRAPH}/users/ben@{DOMAIN}/assignLicense",
        json={"addLicenses": [{"skuId": STANDARD, "disabledPlans": []}], "removeLicenses": []},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert (
        error["message"]
        == f"Subscription with SKU {STANDARD} does not have any available licenses."
    )
    assert STANDARD not in tenant.mailboxes[f"ben@{DOMAIN}"].licenses


async def test_assign_license_needs_a_usage_location(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    tenant = _state(server).data.tenants[DEFAULT_TENANT_ID]
    tenant.mailboxes[f"ben@{DOMAIN}"].usage_location = None
    token = await _token(client, GRAPH_SCOPE)
    answer = await client.post(
        f"{GRAPH}/users/ben@{DOMAIN}/assignLicense",
        json={"addLicenses": [{"skuId": STANDARD, "disabledPlans": []}], "removeLicenses": []},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 400
    assert "invalid usage location" in answer.json()["error"]["message"]


async def test_assign_license_swaps_and_applies_the_mailbox_plan(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    token = await _token(client, GRAPH_SCOPE)
    ben = _state(server).data.tenants[DEFAULT_TENANT_ID].mailboxes[f"ben@{DOMAIN}"]
    answer = await client.post(
        f"{GRAPH}/users/{ben.object_id}/assignLicense",
        json={
            "addLicenses": [{"skuId": STANDARD, "disabledPlans": []}],
            "removeLicenses": list(ben.licenses),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    assert answer.json()["assignedLicenses"] == [{"disabledPlans": [], "skuId": STANDARD}]
    assert ben.licenses == [STANDARD] and ben.prohibit_send_receive_quota == 50 << 30


async def test_users_count_needs_consistency_level(client: httpx.AsyncClient) -> None:
    token = await _token(client, GRAPH_SCOPE)
    refused = await client.get(
        f"{GRAPH}/users/$count", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "$count is not currently supported."
    answer = await client.get(
        f"{GRAPH}/users/$count",
        headers={"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"},
    )
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text == "6"


async def test_graph_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{GRAPH}/subscribedSkus")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_state_snapshots_and_seeds_round_trip(server: MockServer) -> None:
    state = _state(server)
    snapshot = state.snapshot()
    assert snapshot["tenants"][DEFAULT_TENANT_ID]["name"] == DEFAULT_TENANT
    fresh = ExchangeState()
    fresh.load_seed({"tenants": {DEFAULT_TENANT_ID: {"filler_users": 3}}})
    assert fresh.count(fresh.data.tenants[DEFAULT_TENANT_ID]) == 9
    fresh.load_seed({"tenants": snapshot["tenants"]})
    assert fresh.snapshot()["tenants"] == snapshot["tenants"]


async def test_each_host_answers_only_its_own_paths(client: httpx.AsyncClient) -> None:
    token = await _token(client)
    body = _invoke("Get-Mailbox")
    wrong_host = INVOKE_URL.replace("outlook.office365.com", "graph.microsoft.com")
    answer = await client.post(wrong_host, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadRequest"
    other_admin_host = INVOKE_URL.replace("outlook.office365.com", "outlook.office.com")
    answer = await client.post(
        other_admin_host, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200  # the capture's host serves the admin API too
    loopback = INVOKE_URL.replace("https://outlook.office365.com", "http://127.0.0.1:8080")
    answer = await client.post(loopback, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200  # an unknown host routes by path


def test_a_custom_attribute_is_one_mailbox_s_own_even_on_fillers() -> None:
    """Set-Mailbox -CustomAttribute15 on one filler user leaves the others untouched
    (fillers are built from one template and must not share what is written)."""
    from mailadmin_exchange.mock.platform import ExchangeMock

    server = MockServer(ExchangeMock, seed={"tenants": {DEFAULT_TENANT_ID: {"filler_users": 3}}})
    state = server.state
    assert isinstance(state, ExchangeState)
    tenant = state.tenant(DEFAULT_TENANT_ID)
    assert tenant is not None
    first, second = (f"user00000{n}@{DEFAULT_TENANT}" for n in (1, 2))
    state.set_mailbox(tenant, {"Identity": first, "CustomAttribute15": "mailadmin-storage-gb=5"})
    assert state.find(tenant, first).custom_attributes == {
        "CustomAttribute15": "mailadmin-storage-gb=5"
    }
    assert state.find(tenant, second).custom_attributes == {}
    state.set_mailbox(tenant, {"Identity": first, "CustomAttribute15": ""})
    assert state.find(tenant, first).custom_attributes == {}
