"""The OAuth2 token endpoint and the OData paging helpers of the mock toolkit."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.mock import (
    ManualClock,
    MockPlatform,
    MockRequest,
    MockServer,
    MockState,
    Route,
    odata,
)
from mailadmin.mock import oauth as mock_oauth
from mailadmin.wire.auth import ClientCredentialsAuth
from mailadmin.wire.transport import Transport

BASE = "https://login.example.test"
SCOPE = "https://graph.example.test/.default"


class DirectoryState(MockState):
    oauth: mock_oauth.TokenIssuer
    users: list[dict[str, Any]]

    def reset(self) -> None:
        super().reset()
        self.oauth = mock_oauth.TokenIssuer(
            {"mock-client": "secret"},
            clock=self.clock,
            lifetime=3599,
            tenants={"contoso.onmicrosoft.com"},
        )
        self.users = [{"id": n, "name": f"user{n}"} for n in range(7)]


def list_users(request: MockRequest, state: DirectoryState) -> httpx.Response:
    state.oauth.check(request, scope=SCOPE)
    page = odata.page(request, state.users, default_size=5, max_size=100)
    return httpx.Response(200, json=page.body(**{"@odata.context": "users"}))


def invoke(request: MockRequest, state: DirectoryState) -> httpx.Response:
    body = request.json()
    assert body == request.json()  # parsed once, the same object
    wanted = body["CmdletInput"]["Parameters"]["Prefix"]
    chosen = [u for u in state.users if u["name"].startswith(wanted)]
    return httpx.Response(200, json=odata.page(request, chosen).body())


class DirectoryMock(MockPlatform):
    name = "directory"
    state_class = DirectoryState
    base_url = BASE
    routes = (
        mock_oauth.token_route(lambda state: state.oauth),
        Route("GET", "/v1.0/users", list_users),
        Route("POST", "/adminapi/InvokeCommand", invoke),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock) -> MockServer:
    return MockServer(DirectoryMock, clock=clock)


async def token_request(server: MockServer, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=server.transport()) as client:
        return await client.post(
            f"{BASE}/{form.pop('tenant', 'contoso.onmicrosoft.com')}/oauth2/v2.0/token", data=form
        )


GOOD = {
    "grant_type": "client_credentials",
    "client_id": "mock-client",
    "client_secret": "secret",
    "scope": SCOPE,
}


# -- the token endpoint ----------------------------------------------------------------------


async def test_the_token_endpoint_issues_an_expiring_bearer_token(server: MockServer) -> None:
    response = await token_request(server, **GOOD)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    _header, claims, _ = body["access_token"].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["tid"] == "contoso.onmicrosoft.com"
    assert decoded["aud"] == "https://graph.example.test"
    assert server.state.oauth.issued == 1


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_id": "someone"}, 400, "unauthorized_client", 700016),
        ({"tenant": "fabrikam.example"}, 400, "invalid_request", 90002),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"scope": "User.Read"}, 400, "invalid_scope", 1002012),
        ({"scope": ""}, 400, "invalid_request", 900144),
    ],
)
async def test_token_errors_are_shaped_like_entra_id(
    server: MockServer, change: dict[str, str], status: int, error: str, code: int
) -> None:
    response = await token_request(server, **{**GOOD, **change})

    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in body["error_description"]
    assert body["error_codes"] == [code]
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= body.keys()
    assert server.state.oauth.issued == 0


async def test_a_protected_call_needs_a_valid_unexpired_token(
    server: MockServer, clock: ManualClock
) -> None:
    token = (await token_request(server, **GOOD)).json()["access_token"]
    async with httpx.AsyncClient(transport=server.transport(), base_url=BASE) as client:
        missing = await client.get("/v1.0/users")
        good = await client.get("/v1.0/users", headers={"Authorization": f"Bearer {token}"})
        clock.advance(3599)
        expired = await client.get("/v1.0/users", headers={"Authorization": f"Bearer {token}"})
        forged = await client.get("/v1.0/users", headers={"Authorization": "Bearer forged"})

    assert good.status_code == 200
    assert missing.status_code == expired.status_code == forged.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert 'error="invalid_token"' not in missing.headers["WWW-Authenticate"]
    assert 'error_description="The access token has expired"' in expired.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "expired" in expired.json()["error"]["message"]


async def test_client_credentials_auth_renews_when_the_mock_clock_expires_the_token(
    server: MockServer, clock: ManualClock
) -> None:
    transport = Transport(f"{BASE}/v1.0", backend=server.transport(), name="directory")
    auth = ClientCredentialsAuth(
        f"{BASE}/contoso.onmicrosoft.com/oauth2/v2.0/token", "mock-client", "secret", SCOPE
    )
    transport.set_auth(auth)

    await transport.request("GET", "users", write=False)
    server.state.oauth.expire_all()  # the platform says expired; our cache still trusts it
    response = await transport.request("GET", "users", write=False)

    assert response.status_code == 200
    assert auth.logins == 2
    assert [r.route for r in server.requests] == [
        "oauth2_token",
        "GET /v1.0/users",
        "GET /v1.0/users",
        "oauth2_token",
        "GET /v1.0/users",
    ]
    assert [r.status for r in server.requests] == [200, 200, 401, 200, 200]


async def test_a_wrong_secret_reaches_the_caller_as_an_authentication_error(
    server: MockServer,
) -> None:
    transport = Transport(f"{BASE}/v1.0", backend=server.transport(), name="directory")
    transport.set_auth(
        ClientCredentialsAuth(
            f"{BASE}/contoso.onmicrosoft.com/oauth2/v2.0/token", "mock-client", "not-it", SCOPE
        )
    )
    with pytest.raises(errors.AuthenticationError) as caught:
        await transport.request("GET", "users", write=False)
    assert caught.value.debug["description"].startswith("AADSTS7000215")


# -- OData paging ----------------------------------------------------------------------------


async def test_a_list_is_paged_with_the_size_the_client_prefers(server: MockServer) -> None:
    token = server.state.oauth.issue("mock-client", SCOPE).value
    headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=3"}
    pages = []
    async with httpx.AsyncClient(transport=server.transport()) as client:
        url: str | None = f"{BASE}/v1.0/users?$select=name"
        while url is not None:
            body = (await client.get(url, headers=headers)).json()
            pages.append([u["id"] for u in body["value"]])
            url = body.get("@odata.nextLink")
            assert body["@odata.context"] == "users"
            if url is not None:
                assert httpx.URL(url).params["$select"] == "name"  # the query is kept

    assert pages == [[0, 1, 2], [3, 4, 5], [6]]


async def test_without_a_preference_the_default_page_size_applies(server: MockServer) -> None:
    token = server.state.oauth.issue("mock-client", SCOPE).value
    async with httpx.AsyncClient(transport=server.transport()) as client:
        body = (
            await client.get(f"{BASE}/v1.0/users", headers={"Authorization": f"Bearer {token}"})
        ).json()
    assert len(body["value"]) == 5
    assert "$skiptoken=" in body["@odata.nextLink"]


async def test_a_next_link_works_for_a_repost_of_the_same_body(server: MockServer) -> None:
    command = {"CmdletInput": {"CmdletName": "Get-User", "Parameters": {"Prefix": "user"}}}
    headers = {"Prefer": "odata.maxpagesize = 4;odata.continue-on-error"}
    async with httpx.AsyncClient(transport=server.transport()) as client:
        first = (
            await client.post(f"{BASE}/adminapi/InvokeCommand", json=command, headers=headers)
        ).json()
        second = (await client.post(first["@odata.nextLink"], json=command, headers=headers)).json()

    assert [u["id"] for u in first["value"]] == [0, 1, 2, 3]
    assert [u["id"] for u in second["value"]] == [4, 5, 6]
    assert "@odata.nextLink" not in second


def test_a_skip_token_not_made_by_the_mock_is_malformed() -> None:
    from mailadmin.mock.request import MalformedRequest

    request = MockRequest("GET", "/", query=httpx.QueryParams({"$skiptoken": "bogus!"}))
    with pytest.raises(MalformedRequest, match="Invalid pagination"):
        odata.skip_of(request)


def test_max_page_size_reads_the_prefer_header() -> None:
    def size(prefer: str) -> int | None:
        return odata.max_page_size(
            MockRequest("GET", "/", headers=httpx.Headers({"Prefer": prefer}))
        )

    assert size("odata.maxpagesize=1000") == 1000
    assert size("return=minimal, odata.maxpagesize=20") == 20
    assert size('odata.maxpagesize="7"') == 7
    assert size("return=minimal") is None
