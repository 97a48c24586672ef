"""Credentials with a lifecycle: login once, share the token, renew once on expiry, redact."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.wire.auth import ClientCredentialsAuth, SessionAuth, Token, with_body, with_cookie
from mailadmin.wire.dryrun import DryRunViolation, dry_run_scope
from mailadmin.wire.transport import Transport

BASE = "https://outlook.example.test/adminapi/beta/contoso"
LOGIN = "https://login.example.test"
GRAPH = "https://graph.example.test/v1.0"
CLIENT_SECRET = "s3cr3t-Client~Value"


@dataclass
class FakeEntra:
    """A token endpoint and an API that accepts only the newest token it issued."""

    lifetime: int = 3600
    issued: list[str] = field(default_factory=list)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    api_calls: list[httpx.Request] = field(default_factory=list)
    reject_all: bool = False
    login_status: int = 200
    login_delay: float = 0.0
    api_status: list[int] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "login.example.test":
            return await self._token(request)
        self.api_calls.append(request)
        if self.api_status:
            return httpx.Response(self.api_status.pop(0))
        sent = request.headers.get("Authorization", "")
        if self.reject_all or not self.issued or sent != f"Bearer {self.issued[-1]}":
            return httpx.Response(
                401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                json={"error": {"code": "InvalidAuthenticationToken", "message": "expired"}},
            )
        return httpx.Response(200, json={"value": [], "seen": sent})

    async def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.token_requests.append(form)
        if self.login_delay:
            await asyncio.sleep(self.login_delay)
        if self.login_status >= 500:
            return httpx.Response(self.login_status)
        if self.login_status != 200 or form["client_secret"] != [CLIENT_SECRET]:
            return httpx.Response(
                401,
                json={
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.\r\n"
                    "Trace ID: 1",
                    "error_codes": [7000215],
                },
            )
        token = f"eyJ0eXAi.token-{len(self.issued) + 1}.sig"
        self.issued.append(token)
        return httpx.Response(
            200,
            json={"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token},
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(entra: FakeEntra, **auth_options: Any) -> tuple[Transport, ClientCredentialsAuth]:
    transport = Transport(
        BASE,
        name="exchange-eu",
        backend=httpx.MockTransport(entra),
        endpoints={"login": LOGIN, "graph": GRAPH},
        retries=2,
        sleep=_no_sleep,
    )
    auth = ClientCredentialsAuth(
        "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "mock-client",
        auth_options.pop("client_secret", CLIENT_SECRET),
        "https://outlook.office365.com/.default",
        endpoint="login",
        **auth_options,
    )
    transport.set_auth(auth)
    return transport, auth


async def _no_sleep(seconds: float) -> None:
    return None


# -- the usage first -------------------------------------------------------------------------


async def test_client_credentials_log_in_on_first_use_and_send_a_bearer_token() -> None:
    entra = FakeEntra()
    transport, auth = make(entra)

    response = await transport.request("POST", "InvokeCommand", json={}, write=False)

    assert response.status_code == 200
    assert response.json()["seen"] == f"Bearer {entra.issued[0]}"
    (form,) = entra.token_requests
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["mock-client"],
        "client_secret": [CLIENT_SECRET],
        "scope": ["https://outlook.office365.com/.default"],
    }
    assert auth.token is not None and auth.token.value == entra.issued[0]
    assert auth.cache_key == (
        "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "https://outlook.office365.com/.default",
    )


async def test_the_token_is_reused_until_shortly_before_it_expires() -> None:
    entra = FakeEntra(lifetime=3600)
    clock = Clock()
    transport, auth = make(entra, clock=clock, refresh_margin=300)

    await transport.request("GET", "Mailbox", write=False)
    clock.now += 3600 - 301
    await transport.request("GET", "Mailbox", write=False)
    assert auth.logins == 1
    clock.now += 2  # now inside the margin
    await transport.request("GET", "Mailbox", write=False)

    assert auth.logins == 2
    assert [c.headers["Authorization"] for c in entra.api_calls] == [
        f"Bearer {entra.issued[0]}",
        f"Bearer {entra.issued[0]}",
        f"Bearer {entra.issued[1]}",
    ]


async def test_a_margin_longer_than_the_lifetime_does_not_log_in_on_every_call() -> None:
    entra = FakeEntra(lifetime=60)
    clock = Clock()
    transport, auth = make(entra, clock=clock, refresh_margin=300)

    for _ in range(5):
        await transport.request("GET", "Mailbox", write=False)
    assert auth.logins == 1
    clock.now += 31  # past half the lifetime
    await transport.request("GET", "Mailbox", write=False)
    assert auth.logins == 2


async def test_fifty_concurrent_first_calls_share_one_login() -> None:
    entra = FakeEntra(login_delay=0.01)
    transport, auth = make(entra)

    responses = await asyncio.gather(
        *(transport.request("GET", f"Mailbox/{n}", write=False) for n in range(50))
    )

    assert [r.status_code for r in responses] == [200] * 50
    assert len(entra.token_requests) == 1
    assert auth.logins == 1
    assert {c.headers["Authorization"] for c in entra.api_calls} == {f"Bearer {entra.issued[0]}"}


async def test_an_expired_token_is_renewed_once_and_the_call_resent_once() -> None:
    entra = FakeEntra()
    transport, _auth = make(entra)
    await transport.request("GET", "Mailbox", write=False)
    entra.issued.append("revoked-by-the-server")  # the platform no longer takes token 1

    response = await transport.request("POST", "InvokeCommand", json={"a": 1}, write=True)

    assert response.status_code == 200
    assert len(entra.token_requests) == 2
    assert [c.method for c in entra.api_calls] == ["GET", "POST", "POST"]
    assert json.loads(entra.api_calls[-1].content) == {"a": 1}  # the same body resent
    assert entra.api_calls[-1].headers["Authorization"] == f"Bearer {entra.issued[-1]}"


async def test_a_second_expiry_raises_instead_of_looping() -> None:
    entra = FakeEntra(reject_all=True)
    transport, auth = make(entra)

    with pytest.raises(errors.AuthenticationError) as caught:
        await transport.request("GET", "Mailbox", write=False)

    assert "refused a freshly obtained session" in str(caught.value)
    assert len(entra.api_calls) == 2
    assert len(entra.token_requests) == 2
    assert auth.token is None  # the next call starts with a fresh login
    assert all(token not in repr(caught.value.debug) for token in entra.issued)


async def test_concurrent_expiries_share_one_renewal() -> None:
    entra = FakeEntra(login_delay=0.01)
    transport, auth = make(entra)
    await transport.request("GET", "Mailbox", write=False)
    entra.issued.append("revoked")

    responses = await asyncio.gather(
        *(transport.request("GET", "Mailbox", write=False) for _ in range(20))
    )

    assert {r.status_code for r in responses} == {200}
    assert auth.logins == 2


async def test_a_rejected_secret_is_an_authentication_error_for_every_waiting_call() -> None:
    entra = FakeEntra(login_delay=0.01)
    transport, _auth = make(entra, client_secret="wrong-secret-value")

    results = await asyncio.gather(
        *(transport.request("GET", "Mailbox", write=False) for _ in range(10)),
        return_exceptions=True,
    )

    assert all(isinstance(r, errors.AuthenticationError) for r in results)
    assert len(entra.token_requests) == 1
    error = results[0]
    assert isinstance(error, errors.AuthenticationError)
    assert str(error) == "exchange-eu rejected the client credentials"
    assert error.debug["error"] == "invalid_client"
    assert error.debug["description"] == "AADSTS7000215: Invalid client secret provided."
    assert error.debug["error_codes"] == [7000215]
    assert not entra.api_calls


async def test_a_token_endpoint_outage_is_unavailable_after_the_transport_retries() -> None:
    entra = FakeEntra(login_status=503)
    transport, _auth = make(entra)

    with pytest.raises(errors.Unavailable):
        await transport.request("GET", "Mailbox", write=False)
    assert len(entra.token_requests) == 3  # retries=2: the login is retried like a read


async def test_a_retried_call_keeps_its_token() -> None:
    entra = FakeEntra(api_status=[503])
    transport, auth = make(entra)

    response = await transport.request("GET", "Mailbox", write=False)

    assert response.status_code == 200
    assert auth.logins == 1
    assert len(entra.api_calls) == 2


# -- endpoints, dry runs, logs ---------------------------------------------------------------


async def test_credentials_attach_per_endpoint() -> None:
    entra = FakeEntra()
    transport, admin = make(entra)
    graph = ClientCredentialsAuth(
        "/contoso/oauth2/v2.0/token",
        "mock-client",
        CLIENT_SECRET,
        "https://graph.microsoft.com/.default",
        endpoint="login",
    )
    transport.set_auth(graph, endpoint="graph")

    await transport.request("GET", "subscribedSkus", endpoint="graph", write=False)
    await transport.request("GET", "Mailbox", write=False)

    assert [c.url.host for c in entra.api_calls] == ["graph.example.test", "outlook.example.test"]
    assert [f["scope"] for f in entra.token_requests] == [
        ["https://graph.microsoft.com/.default"],
        ["https://outlook.office365.com/.default"],
    ]
    assert graph.logins == admin.logins == 1
    assert str(entra.api_calls[0].url) == f"{GRAPH}/subscribedSkus"


async def test_a_dry_run_logs_in_for_reads_and_sends_no_write() -> None:
    entra = FakeEntra()
    transport, auth = make(entra)

    with dry_run_scope(True):
        with pytest.raises(DryRunViolation):
            await transport.request("POST", "InvokeCommand", json={}, write=True)
        assert auth.logins == 0  # a refused write needs no token
        await transport.request("GET", "Mailbox", write=False)

    assert auth.logins == 1
    assert [c.method for c in entra.api_calls] == ["GET"]


async def test_no_token_or_secret_reaches_a_log_line_or_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailadmin")
    entra = FakeEntra(api_status=[])
    transport, auth = make(entra)
    await transport.request("GET", "Mailbox", write=False)
    entra.issued.append("revoked")
    await transport.request("GET", "Mailbox", write=False)
    entra.reject_all = True
    with pytest.raises(errors.AuthenticationError) as caught:
        await transport.request("GET", "Mailbox", write=False)

    logged = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [str(v) for r in caplog.records for v in vars(r).values()]
    )
    secrets = [CLIENT_SECRET, *(t for t in entra.issued if t != "revoked")]
    for secret in secrets:
        assert secret not in logged
        assert secret not in repr(caught.value.debug)
        assert secret not in repr(auth.token)
    # The logins themselves were logged (redacted), through the same transport.
    token_lines = [r for r in caplog.records if getattr(r, "operation", "") == "oauth2_token"]
    assert token_lines and "login.example.test" in token_lines[0].getMessage()
    assert "access_token" in logged and "client_secret=***" in logged


# -- sessions of one's own -------------------------------------------------------------------


class BodySession(SessionAuth):
    """A Zimbra-like session: JSON login, token in the body header, expiry as a fault."""

    def __init__(self, password: str, **options: Any) -> None:
        super().__init__(secrets=[password], **options)
        self.password = password

    async def login(self) -> Token:
        response = await self.transport.request(
            "POST",
            "soap",
            json={"Body": {"AuthRequest": {"name": "admin", "password": self.password}}},
            write=False,
            auth=False,
            operation="AuthRequest",
        )
        body = response.json()["Body"]["AuthResponse"]
        return self.token_for(body["authToken"][0]["_content"], body["lifetime"] / 1000)

    def apply(self, request: httpx.Request, token: Token) -> httpx.Request:
        body = json.loads(request.content)
        body.setdefault("Header", {}).setdefault("context", {})["authToken"] = {
            "_content": token.value
        }
        return with_body(request, json.dumps(body).encode())

    def is_expired(self, response: httpx.Response) -> bool:
        if response.status_code != 500:
            return False
        code = response.json()["Body"]["Fault"]["Detail"]["Error"]["Code"]
        return code in ("service.AUTH_EXPIRED", "service.AUTH_REQUIRED")


@dataclass
class FakeZimbra:
    valid: set[str] = field(default_factory=set)
    logins: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if "AuthRequest" in body["Body"]:
            assert "authToken" not in json.dumps(body)
            self.logins += 1
            token = f"0_zimbra-token-{self.logins}"
            self.valid = {token}
            return httpx.Response(
                200,
                json={
                    "Body": {
                        "AuthResponse": {
                            "authToken": [{"_content": token}],
                            "lifetime": 43200000,
                        }
                    }
                },
            )
        self.calls.append(body)
        token = body.get("Header", {}).get("context", {}).get("authToken", {}).get("_content")
        if token not in self.valid:
            fault = {"Code": {"Value": "soap:Sender"}, "Reason": {"Text": "expired"}}
            fault["Detail"] = {"Error": {"Code": "service.AUTH_EXPIRED"}}
            return httpx.Response(500, json={"Body": {"Fault": fault}})
        return httpx.Response(200, json={"Body": {"CountAccountResponse": {}}})


async def test_a_session_can_carry_its_token_in_the_body_and_read_expiry_from_a_fault() -> None:
    zimbra = FakeZimbra()
    transport = Transport(
        "https://zimbra.example.test:7071/service/admin", backend=httpx.MockTransport(zimbra)
    )
    session = BodySession("zimbra-Pa55")
    transport.set_auth(session)
    request_body = {"Body": {"CountAccountRequest": {"domain": "example.com"}}}

    first = await transport.request("POST", "soap", json=request_body, write=False)
    zimbra.valid.clear()  # the server forgets the session (restart, lifetime over)
    second = await transport.request("POST", "soap", json=request_body, write=False)

    assert first.status_code == second.status_code == 200
    assert zimbra.logins == 2
    tokens = [c["Header"]["context"]["authToken"]["_content"] for c in zimbra.calls]
    assert tokens == ["0_zimbra-token-1", "0_zimbra-token-1", "0_zimbra-token-2"]
    assert all(c["Body"] == request_body["Body"] for c in zimbra.calls)
    assert transport.redact("pw zimbra-Pa55 t 0_zimbra-token-2") == "pw *** t ***"


async def test_a_session_needs_a_transport_before_it_can_log_in() -> None:
    with pytest.raises(errors.ConfigurationError, match="not attached to a transport"):
        BodySession("pw").transport  # noqa: B018


def test_cookie_placement_keeps_other_cookies() -> None:
    request = httpx.Request("GET", "https://h/", headers={"Cookie": "a=1; ZM_ADMIN_AUTH_TOKEN=old"})
    with_cookie(request, "ZM_ADMIN_AUTH_TOKEN", "new")
    assert request.headers["Cookie"] == "a=1; ZM_ADMIN_AUTH_TOKEN=new"


def test_a_token_hides_its_value() -> None:
    assert "abc" not in repr(Token("abc", 5.0))


async def test_a_login_that_forgets_auth_false_fails_instead_of_waiting_for_itself() -> None:
    class Forgetful(SessionAuth):
        async def login(self) -> Token:
            await self.transport.request("POST", "login", write=False)  # no auth=False
            return Token("never")

    transport = Transport(BASE, backend=httpx.MockTransport(lambda r: httpx.Response(200)))
    transport.set_auth(Forgetful())
    with pytest.raises(errors.ConfigurationError, match="auth=False"):
        await asyncio.wait_for(transport.request("GET", "x", write=False), timeout=5)


def test_the_token_outlives_the_event_loop_of_each_blocking_call() -> None:
    # The blocking facade runs every call in its own asyncio.run: the token is kept, the
    # login machinery (a task) is made anew on each loop.
    entra = FakeEntra()
    transport, auth = make(entra)
    for _ in range(3):
        asyncio.run(transport.request("GET", "Mailbox", write=False))
    assert auth.logins == 1
    assert len(entra.api_calls) == 3


async def test_an_api_key_goes_in_its_header_on_every_call_and_never_shows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mailadmin.sdk import ApiKeyAuth, ErrorTable, JsonClient

    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("X-API-Key"))
        if request.headers.get("X-API-Key") != "ABCDEF-123456":
            return httpx.Response(401, json={"type": "error", "msg": "authentication failed"})
        return httpx.Response(200, json=[])

    transport = Transport(
        "https://mc.example.test",
        name="mc",
        backend=httpx.MockTransport(handler),
        secrets=["ABCDEF-123456"],
        retries=0,
    )
    auth = ApiKeyAuth("ABCDEF-123456")
    api = JsonClient(transport, name="mc", errors=ErrorTable(), auth=auth)
    caplog.set_level(logging.DEBUG)
    assert await api.get("/api/v1/get/domain/all") == []
    assert await api.get("/api/v1/get/mailbox/all") == []
    assert seen == ["ABCDEF-123456", "ABCDEF-123456"]
    assert "ABCDEF-123456" not in repr(auth) + caplog.text
    wrong = JsonClient(transport, name="mc", errors=ErrorTable(), auth=ApiKeyAuth("nope-1"))
    with pytest.raises(errors.AuthenticationError):
        await wrong.get("/api/v1/get/domain/all")
    bearer = ApiKeyAuth("t0k", header="Authorization", prefix="Bearer ")
    request = next(bearer.auth_flow(httpx.Request("GET", "https://x.test")))
    assert request.headers["Authorization"] == "Bearer t0k"
    for bad in ({"key": ""}, {"key": "k", "header": "X Key"}):
        with pytest.raises(errors.ConfigurationError):
            ApiKeyAuth(**bad)  # type: ignore[arg-type]
