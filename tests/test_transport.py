"""The shared transport: retries, request ids, dry runs, redaction, status mapping, backends."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import respx

from mailadmin.contract import errors
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    Outcome,
    TenantRef,
)
from mailadmin.contract.provider import Provider
from mailadmin.contract.settings import ProviderSettings
from mailadmin.wire.transport import (
    REQUEST_ID_HEADER,
    Backend,
    DryRunViolation,
    Transport,
    dry_run_active,
    dry_run_scope,
    parse_retry_after,
    raise_for_status,
)

BASE = "https://mail.example.test/api"
BACKENDS: tuple[Backend, ...] = ("httpx", "aiohttp")
# Characters that change under URL, XML and JSON escaping, so every wire form is exercised.
SECRET = 'Tr0ub4dor&3 "x<y>"'
SECRET_FORMS = {
    SECRET,
    quote(SECRET, safe=""),
    quote_plus(SECRET, safe=""),
    'Tr0ub4dor&amp;3 "x&lt;y&gt;"',
    "Tr0ub4dor&amp;3 &quot;x&lt;y&gt;&quot;",
    json.dumps(SECRET)[1:-1],
    base64.b64encode(f"admin:{SECRET}".encode()).decode(),
}


@dataclass
class Sleeps:
    """Stands in for asyncio.sleep and records what the transport asked for."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
def make_transport(router: respx.MockRouter, sleeps: Sleeps) -> Callable[..., Transport]:
    """Builds transports that talk to ``router``; keyword arguments override the defaults."""

    def make(**kwargs: Any) -> Transport:
        options: dict[str, Any] = {
            "name": "ox-eu",
            "backend": httpx.MockTransport(router.async_handler),
            "secrets": [SECRET],
            "sleep": sleeps,
        }
        options.update(kwargs)
        return Transport(BASE, **options)

    return make


# -- the basics ------------------------------------------------------------------------------


async def test_a_read_returns_the_response_and_sends_a_request_id(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.get("/users", params={"context": "1"}).respond(200, json={"users": ["anna"]})
    transport = make_transport()

    response = await transport.request("GET", "users", write=False, params={"context": "1"})

    assert response.json() == {"users": ["anna"]}
    sent = route.calls.last.request
    assert str(sent.url) == f"{BASE}/users?context=1"
    assert len(sent.headers[REQUEST_ID_HEADER]) == 32
    assert sent.headers["User-Agent"].startswith("mailadmin/")
    await transport.aclose()


async def test_every_status_is_returned_not_raised(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    router.get("/missing").respond(404, text="no such user")
    response = await make_transport().request("GET", "missing", write=False)
    assert response.status_code == 404


async def test_a_router_can_be_passed_as_it_is(router: respx.MockRouter, sleeps: Sleeps) -> None:
    router.get("/ping").respond(204)
    transport = Transport(BASE, backend=router, sleep=sleeps)  # type: ignore[arg-type]
    assert (await transport.request("GET", "ping", write=False)).status_code == 204


# -- retries ---------------------------------------------------------------------------------


async def test_429_is_retried_after_the_seconds_the_server_asks_for(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps
) -> None:
    route = router.get("/users")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, json={"ok": True}),
    ]

    response = await make_transport().request("GET", "users", write=False)

    assert response.status_code == 200
    assert sleeps.waits == [7.0]
    assert route.call_count == 2


async def test_retry_after_as_an_http_date_is_honoured(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps
) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    route = router.get("/users")
    route.side_effect = [
        httpx.Response(503, headers={"Retry-After": past}),
        httpx.Response(200),
    ]

    response = await make_transport().request("GET", "users", write=False)

    assert response.status_code == 200
    assert sleeps.waits == [0.0]  # a date already past means "now"


async def test_a_retry_after_beyond_the_cap_returns_the_response_at_once(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps
) -> None:
    route = router.get("/users").respond(429, headers={"Retry-After": "120"})

    response = await make_transport(max_retry_wait=30).request("GET", "users", write=False)

    assert response.status_code == 429
    assert route.call_count == 1
    assert sleeps.waits == []
    with pytest.raises(errors.RateLimited) as caught:
        raise_for_status(response, provider="ox-eu")
    assert caught.value.retry_after == 120.0
    assert "120 seconds" in str(caught.value)


async def test_503_is_retried_with_growing_jittered_backoff(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps
) -> None:
    route = router.get("/users")
    route.side_effect = [httpx.Response(503)] * 3 + [httpx.Response(200)]

    response = await make_transport(retries=3).request("GET", "users", write=False)

    assert response.status_code == 200
    assert route.call_count == 4
    assert len(sleeps.waits) == 3
    for wait, base in zip(sleeps.waits, (0.5, 1.0, 2.0), strict=True):
        assert base <= wait <= base * 1.5


async def test_when_retries_run_out_the_last_response_is_returned(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps
) -> None:
    route = router.get("/users").respond(502)

    response = await make_transport(retries=2).request("GET", "users", write=False)

    assert response.status_code == 502
    assert route.call_count == 3
    assert len(sleeps.waits) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 500, 501])
async def test_other_statuses_are_not_retried(
    router: respx.MockRouter, make_transport: Callable[..., Transport], status: int
) -> None:
    route = router.get("/users").respond(status)
    await make_transport().request("GET", "users", write=False)
    assert route.call_count == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_a_non_idempotent_write_is_never_retried(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps, method: str
) -> None:
    route = router.route(method=method, path="/users").respond(503, headers={"Retry-After": "1"})

    response = await make_transport().request(method, "users", write=True, json={"a": 1})

    assert response.status_code == 503
    assert route.call_count == 1
    assert sleeps.waits == []


async def test_a_non_idempotent_write_is_not_resent_after_a_dropped_connection(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.post("/users").mock(side_effect=httpx.RemoteProtocolError("dropped"))

    with pytest.raises(errors.Unavailable):
        await make_transport().request("POST", "users", write=True, idempotent=False)

    assert route.call_count == 1


async def test_an_idempotent_write_is_retried(
    router: respx.MockRouter, make_transport: Callable[..., Transport], sleeps: Sleeps
) -> None:
    route = router.put("/users/anna/plan")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(200)]

    response = await make_transport().request(
        "PUT", "users/anna/plan", write=True, idempotent=True, json={"plan": "sync"}
    )

    assert response.status_code == 200
    assert route.call_count == 3
    assert [json.loads(c.request.content) for c in route.calls] == [{"plan": "sync"}] * 3


async def test_a_read_marked_not_idempotent_is_not_retried(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.post("/search").respond(503)
    await make_transport().request("POST", "search", write=False, idempotent=False)
    assert route.call_count == 1


async def test_zero_retries_sends_once(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.get("/users").respond(503)
    await make_transport(retries=0).request("GET", "users", write=False)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("reset"),
    ],
)
async def test_transport_errors_of_a_read_are_retried(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    sleeps: Sleeps,
    error: Exception,
) -> None:
    route = router.get("/users")
    route.side_effect = [error, httpx.Response(200)]

    response = await make_transport().request("GET", "users", write=False)

    assert response.status_code == 200
    assert route.call_count == 2
    assert len(sleeps.waits) == 1


async def test_a_timeout_that_outlasts_the_retries_is_unavailable(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.get("/users").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(errors.Unavailable) as caught:
        await make_transport(retries=2).request("GET", "users", write=False)

    assert str(caught.value) == "ox-eu did not answer in time"
    assert route.call_count == 3
    assert caught.value.debug["attempts"] == 3
    assert caught.value.debug["request"] == f"GET {BASE}/users"
    assert caught.value.debug["request_id"] == route.calls.last.request.headers[REQUEST_ID_HEADER]
    assert "ReadTimeout" in caught.value.debug["cause"]


async def test_an_unreachable_platform_is_unavailable(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    router.get("/users").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(errors.Unavailable, match=r"^ox-eu could not be reached$"):
        await make_transport().request("GET", "users", write=False)


@pytest.mark.parametrize("endpoint", ["ftp://files.example.test", "mail.example.test"])
async def test_an_endpoint_that_is_not_http_is_a_configuration_error(
    endpoint: str, sleeps: Sleeps
) -> None:
    transport = Transport(endpoint, name="ox-eu", backend="httpx", sleep=sleeps)
    with pytest.raises(errors.ConfigurationError, match="must start with http:// or https://"):
        await transport.request("GET", "users", write=False)
    assert sleeps.waits == []
    await transport.aclose()


@pytest.mark.parametrize(("endpoint", "path"), [("http://[::1", "users"), (BASE, "http://h:port/")])
async def test_an_invalid_url_is_a_configuration_error(
    endpoint: str, path: str, sleeps: Sleeps
) -> None:
    transport = Transport(endpoint, name="ox-eu", backend="httpx", sleep=sleeps)
    with pytest.raises(
        errors.ConfigurationError, match="^The address of 'ox-eu' is not a valid URL$"
    ):
        await transport.request("GET", path, write=False)
    await transport.aclose()


# -- request ids -----------------------------------------------------------------------------


async def test_the_request_id_is_the_same_across_retries_and_new_per_call(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.get("/users")
    route.side_effect = [httpx.Response(503), httpx.Response(429), httpx.Response(200)] * 2
    transport = make_transport()

    await transport.request("GET", "users", write=False)
    await transport.request("GET", "users", write=False)

    ids = [call.request.headers[REQUEST_ID_HEADER] for call in route.calls]
    assert len(ids) == 6
    assert len(set(ids[:3])) == 1
    assert len(set(ids[3:])) == 1
    assert ids[0] != ids[3]


async def test_a_request_id_given_by_the_caller_is_kept(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    route = router.get("/users").respond(200)
    await make_transport().request(
        "GET", "users", write=False, headers={REQUEST_ID_HEADER: "from-the-panel"}
    )
    assert route.calls.last.request.headers[REQUEST_ID_HEADER] == "from-the-panel"


# -- dry runs --------------------------------------------------------------------------------


async def test_a_dry_run_refuses_writes_and_lets_reads_through(
    router: respx.MockRouter, make_transport: Callable[..., Transport]
) -> None:
    read = router.get("/users").respond(200, json=[])
    write = router.post("/users").respond(201)
    transport = make_transport()

    with dry_run_scope(True):
        assert (await transport.request("GET", "users", write=False)).status_code == 200
        with pytest.raises(DryRunViolation) as caught:
            await transport.request("POST", "users", write=True, idempotent=True, json={})

    assert read.call_count == 1
    assert write.call_count == 0
    assert isinstance(caught.value, errors.ProviderError)
    assert str(caught.value) == "ox-eu tried to send a change during a dry run; nothing was sent"
    assert caught.value.debug["request"] == f"POST {BASE}/users"
    # Outside the scope the same write goes out.
    await transport.request("POST", "users", write=True, json={})
    assert write.call_count == 1


def test_dry_run_scopes_nest_and_restore() -> None:
    assert not dry_run_active()
    with dry_run_scope(False):
        assert not dry_run_active()
        with dry_run_scope(True):
            assert dry_run_active()
            with dry_run_scope(False):
                assert dry_run_active()  # an inner scope cannot end an outer dry run
            assert dry_run_active()
        assert not dry_run_active()
    assert not dry_run_active()


async def test_dry_run_state_is_per_task() -> None:
    seen: dict[str, bool] = {}

    async def look(label: str, active: bool) -> None:
        with dry_run_scope(active):
            await asyncio.sleep(0)
            seen[label] = dry_run_active()

    await asyncio.gather(look("dry", True), look("real", False))
    assert seen == {"dry": True, "real": False}


# -- redaction and logging -------------------------------------------------------------------


def _all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.extend(str(value) for value in vars(record).values())
    return "\n".join(parts)


def _assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text


async def test_a_secret_never_reaches_an_error_or_a_log_line(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailadmin.wire.transport")
    soap = (
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
        "<AuthRequest><account>admin</account>"
        f"<password>{SECRET.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}"
        "</password></AuthRequest></soap:Body></soap:Envelope>"
    )
    # The platform echoes the secret back in its fault, as some do.
    router.post("/soap").respond(
        401,
        text=f"<Fault><Reason>bad password {SECRET} for admin</Reason></Fault>",
        headers={"Set-Cookie": f"session={SECRET}"},
    )
    transport = make_transport()

    response = await transport.request(
        "POST",
        "soap",
        write=False,
        params={"q": SECRET},
        content=soap,
        auth=("admin", SECRET),
        headers={"Content-Type": "application/soap+xml"},
    )
    with pytest.raises(errors.AuthenticationError) as caught:
        raise_for_status(response, provider="ox-eu")

    error = caught.value
    assert str(error) == "ox-eu rejected the credentials"
    _assert_no_secret(str(error))
    _assert_no_secret(repr(error.debug))
    _assert_no_secret(_all_log_text(caplog))
    # The bodies were logged at DEBUG (masked), so the check above had something to check.
    assert "<password>***</password>" in _all_log_text(caplog)
    assert "bad password *** for admin" in error.debug["body"]
    assert error.debug["request"].startswith(f"POST {BASE}/soap?q=")


async def test_secret_named_fields_are_masked_even_when_the_value_is_unknown(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailadmin.wire.transport")
    router.post("/users").respond(400, json={"error": "weak", "password": "new-mailbox-pw-1"})
    transport = make_transport(secrets=[])

    response = await transport.request(
        "POST",
        "users",
        write=True,
        params={"session": "sess-4711", "name": "anna"},
        json={"name": "anna", "password": "new-mailbox-pw-1", "access_token": "tok-99"},
    )
    with pytest.raises(errors.ProviderError) as caught:
        raise_for_status(response, provider="ox-eu")

    text = _all_log_text(caplog) + repr(caught.value.debug)
    for value in ("new-mailbox-pw-1", "sess-4711", "tok-99"):
        assert value not in text
    assert "name=anna" in text


async def test_a_secret_learnt_at_run_time_is_masked(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailadmin.wire.transport")
    router.get("/ctx").respond(200, text="context for opaque-ticket-42")
    transport = make_transport()
    transport.add_secret("opaque-ticket-42")

    await transport.request("GET", "ctx", write=False, params={"t": "opaque-ticket-42"})

    assert "opaque-ticket-42" not in _all_log_text(caplog)
    assert transport.redact("t=opaque-ticket-42") == "t=***"


async def test_a_secret_in_a_transport_error_is_masked(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailadmin.wire.transport")
    router.get("/users").mock(side_effect=httpx.ConnectError(f"cannot reach ?key={SECRET}"))

    with pytest.raises(errors.Unavailable) as caught:
        await make_transport(retries=1).request("GET", "users", write=False, params={"k": SECRET})

    _assert_no_secret(str(caught.value) + repr(caught.value.debug) + _all_log_text(caplog))
    assert "ConnectError" in caught.value.debug["cause"]


async def test_each_attempt_is_logged_with_structured_fields_and_no_body_at_info(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mailadmin.wire.transport")
    route = router.post("/count")
    route.side_effect = [httpx.Response(503), httpx.Response(200, text="body-marker")]

    await make_transport().request(
        "POST", "count", write=False, operation="count_mailboxes", content="request-marker"
    )

    attempts = [r for r in caplog.records if hasattr(r, "status")]
    assert [(r.attempt, r.status) for r in attempts] == [(1, 503), (2, 200)]  # type: ignore[attr-defined]
    first = attempts[0]
    assert first.provider == "ox-eu"  # type: ignore[attr-defined]
    assert first.operation == "count_mailboxes"  # type: ignore[attr-defined]
    assert first.method == "POST"  # type: ignore[attr-defined]
    assert first.url == f"{BASE}/count"  # type: ignore[attr-defined]
    assert first.request_id == route.calls.last.request.headers[REQUEST_ID_HEADER]  # type: ignore[attr-defined]
    assert isinstance(first.elapsed_ms, float)  # type: ignore[attr-defined]
    assert any(
        r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in caplog.records
    )
    text = _all_log_text(caplog)
    assert "body-marker" not in text
    assert "request-marker" not in text


async def test_failed_attempts_are_logged_when_only_warnings_are_enabled(
    router: respx.MockRouter,
    make_transport: Callable[..., Transport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mailadmin.wire.transport")
    route = router.get("/users")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200)]

    await make_transport().request("GET", "users", write=False)

    failed = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert len(failed) == 1
    assert failed[0].levelno == logging.WARNING
    assert "ConnectError: refused" in failed[0].getMessage()
    assert not any(r.levelno < logging.WARNING for r in caplog.records)


# -- status mapping --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, errors.AuthenticationError, "ox-eu rejected the credentials"),
        (403, errors.AuthenticationError, "ox-eu refused access with these credentials"),
        (404, errors.NotFoundError, "ox-eu could not find the requested object"),
        (409, errors.ConflictError, "ox-eu refused the change because it conflicts"),
        (429, errors.RateLimited, "ox-eu is limiting the request rate; try again later"),
        (500, errors.Unavailable, "ox-eu failed with a server error (HTTP 500)"),
        (503, errors.Unavailable, "ox-eu failed with a server error (HTTP 503)"),
        (400, errors.ProviderError, "ox-eu refused the request (HTTP 400)"),
        (422, errors.ProviderError, "ox-eu refused the request (HTTP 422)"),
    ],
)
def test_raise_for_status_maps_statuses_to_user_safe_errors(
    status: int, error: type[errors.ProviderError], message: str
) -> None:
    request = httpx.Request("GET", f"{BASE}/users", headers={REQUEST_ID_HEADER: "rid-1"})
    response = httpx.Response(status, text="platform said no", request=request)

    with pytest.raises(error) as caught:
        raise_for_status(response, provider="ox-eu")

    assert type(caught.value) is error
    assert str(caught.value).startswith(message)
    assert caught.value.debug == {
        "status": status,
        "request": f"GET {BASE}/users",
        "request_id": "rid-1",
        "body": "platform said no",
    }


@pytest.mark.parametrize("status", [200, 201, 204, 302, 304])
def test_raise_for_status_lets_success_and_redirects_pass(status: int) -> None:
    raise_for_status(httpx.Response(status), provider="ox-eu")


def test_raise_for_status_reads_retry_after_and_uses_a_given_redactor() -> None:
    response = httpx.Response(429, headers={"Retry-After": "15"}, text="slow down, hunter2")
    with pytest.raises(errors.RateLimited) as caught:
        raise_for_status(response, provider="zx", redactor=Transport(BASE, secrets=["hunter2"]))
    assert caught.value.retry_after == 15.0
    assert caught.value.debug["body"] == "slow down, ***"
    assert "request" not in caught.value.debug  # built by hand, no request


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after("soon") is None


# -- construction and settings ---------------------------------------------------------------


def test_from_settings_needs_an_endpoint_unless_a_transport_is_injected() -> None:
    settings = ProviderSettings(credentials={"username": "admin", "secret": SECRET})
    with pytest.raises(errors.ConfigurationError, match="No endpoint is configured for 'ox-eu'"):
        Transport.from_settings(settings, name="ox-eu")

    injected = httpx.MockTransport(lambda request: httpx.Response(200))
    transport = Transport.from_settings(settings, name="ox-eu", http=injected)
    assert transport.base_url == "http://mock.invalid"
    assert transport.redact(f"x {SECRET} y") == "x *** y"


def test_from_settings_takes_limits_from_the_settings() -> None:
    settings = ProviderSettings(
        endpoint="https://ox.example.test/webservices",
        timeout=5,
        retries=1,
        max_connections=4,
        transport="httpx",
        verify_tls=False,
    )
    transport = Transport.from_settings(settings, name="ox-eu")
    assert (transport.base_url, transport.timeout, transport.retries) == (
        "https://ox.example.test/webservices",
        5,
        1,
    )
    assert (transport.max_connections, transport.verify, transport.name) == (4, False, "ox-eu")


def test_an_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError, match="Unknown HTTP transport 'curl'"):
        Transport(BASE, backend="curl")  # type: ignore[arg-type]


async def test_both_backends_construct_with_the_configured_limits() -> None:
    from httpx_aiohttp import AiohttpTransport

    for backend, kind in (("httpx", httpx.AsyncHTTPTransport), ("aiohttp", AiohttpTransport)):
        transport = Transport(BASE, backend=backend, max_connections=7)  # type: ignore[arg-type]
        made = transport._make_backend()
        assert isinstance(made, kind)
        await made.aclose()


def test_importing_the_transport_loads_neither_http_library() -> None:
    code = (
        "import sys, mailadmin.wire.transport, mailadmin.wire.safexml; "
        "loaded = [m for m in ('httpx', 'aiohttp', 'tenacity', 'defusedxml') if m in sys.modules]; "
        "print(','.join(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


# -- named endpoints -------------------------------------------------------------------------


async def test_a_named_endpoint_joins_relative_urls_and_absolute_urls_pass(
    router: respx.MockRouter, sleeps: Sleeps
) -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    transport = Transport(
        BASE,
        backend=httpx.MockTransport(record),
        endpoints={"graph": "https://graph.example.test/v1.0", "login": "https://login.test/"},
        sleep=sleeps,
    )
    await transport.request("GET", "users", write=False)
    await transport.request("GET", "users", endpoint="graph", write=False)
    await transport.request("GET", "/users?$top=1", endpoint="graph", write=False)
    await transport.request("POST", "t/oauth2/v2.0/token", endpoint="login", write=False)
    link = "https://graph.example.test/v1.0/users?$skiptoken=abc"
    await transport.request("GET", link, endpoint="graph", write=False)

    assert seen == [
        f"{BASE}/users",
        "https://graph.example.test/v1.0/users",
        "https://graph.example.test/v1.0/users?$top=1",
        "https://login.test/t/oauth2/v2.0/token",
        link,
    ]
    assert transport.endpoint_url("graph", "me") == "https://graph.example.test/v1.0/me"
    assert transport.endpoint_url(None, "x") == f"{BASE}/x"


async def test_an_unknown_endpoint_name_is_a_configuration_error(
    make_transport: Callable[..., Transport],
) -> None:
    transport = make_transport(endpoints={"graph": "https://graph.example.test"})
    with pytest.raises(errors.ConfigurationError) as caught:
        await transport.request("GET", "users", endpoint="grpah", write=False)
    assert str(caught.value) == "'ox-eu' has no endpoint named 'grpah' (configured: graph)"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("graph.example.test/v1.0", "must start with http:// or https://"),
        ("ftp://graph.example.test", "must start with http:// or https://"),
        ("https:///v1.0", "names no host"),
        ("https://graph.example.test/v1.0?x=1", "must not carry a query"),
        ("https://graph.example.test:port/", "is not a valid URL"),
    ],
)
def test_a_bad_endpoint_url_is_a_configuration_error(url: str, problem: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=f"endpoint 'graph' of 'x'.*{problem}"):
        Transport(BASE, name="x", endpoints={"graph": url})
    with pytest.raises(errors.ConfigurationError, match=f"endpoint 'graph': .*{problem}"):
        _Echo({"endpoints": {"graph": url}}, instance="x")


class _GraphSettings(ProviderSettings):
    default_endpoints = {
        "login": "https://login.microsoftonline.com",
        "graph": "https://graph.microsoft.com/v1.0",
    }


def test_a_settings_model_gives_defaults_per_endpoint_name_that_configuration_overrides() -> None:
    assert _GraphSettings().endpoints == dict(_GraphSettings.default_endpoints)
    chosen = _GraphSettings(endpoints={"graph": "https://graph.microsoft.us/v1.0"})
    assert chosen.endpoints == {
        "login": "https://login.microsoftonline.com",
        "graph": "https://graph.microsoft.us/v1.0",
    }
    transport = Transport.from_settings(chosen, name="exchange")
    assert transport.endpoints == chosen.endpoints
    assert ProviderSettings().endpoints == {}


async def test_the_injected_transport_serves_every_host_of_an_instance() -> None:
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(200, json={"n": 1})

    provider = _Echo(
        {
            "endpoint": "https://admin.example.test/api",
            "endpoints": {"graph": "https://graph.example.test/v1.0"},
        },
        instance="echo-1",
        http=httpx.MockTransport(answer),
    )
    async with provider:
        await provider.http.request("GET", "t/count", write=False)
        await provider.http.request("GET", "subscribedSkus", endpoint="graph", write=False)
    assert hosts == ["admin.example.test", "graph.example.test"]


# -- through a provider ----------------------------------------------------------------------


class _Echo(Provider):
    name = "echo"
    platform = "Echo"

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        response = await self.http.request(
            "GET", f"tenants/{tenant.key}/count", write=False, operation="count_mailboxes"
        )
        raise_for_status(response, provider=self.instance)
        return MailboxCount(tenant=tenant.name, by_kind={MailboxKind.USER: response.json()["n"]})

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        await self.http.request("PUT", f"mailboxes/{mailbox.address}", write=True, json={})
        return ChangeResult(
            operation="set_plan",
            subject=mailbox.address,
            outcome=Outcome.CHANGED,
            before="mail",
            after=plan,
        )

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        raise NotImplementedError

    async def _get_licence(self) -> Licence:
        raise NotImplementedError

    async def _test_connection(self) -> ConnectionStatus:
        raise NotImplementedError

    async def _list_plans(self) -> list[NativePlan]:
        raise NotImplementedError


async def test_a_provider_talks_through_the_transport_and_dry_runs_send_nothing() -> None:
    router = respx.MockRouter(base_url="http://mock.invalid")
    count = router.get("/tenants/example.com/count").respond(200, json={"n": 3})
    change = router.put("/mailboxes/anna@example.com").respond(200)
    provider = _Echo(
        {"plans": {"sync": {}}},
        instance="echo-1",
        http=httpx.MockTransport(router.async_handler),
    )
    async with provider:
        counted = await provider.count_mailboxes(TenantRef(name="example.com"))
        assert counted.total == 3
        with pytest.raises(DryRunViolation):
            await provider.set_plan(
                MailboxRef(tenant=TenantRef(name="example.com"), address="anna@example.com"),
                "sync",
                dry_run=True,
            )
    assert count.call_count == 1
    assert change.call_count == 0


# -- real sockets ----------------------------------------------------------------------------


@dataclass
class _Server:
    url: str
    seen: list[dict[str, Any]]
    drops: dict[str, int]


async def _http_server(
    seen: list[dict[str, Any]], drops: dict[str, int]
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                lines: list[str] = []
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                    lines.append(name.strip().lower())
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen.append(
                    {
                        "method": method,
                        "target": target,
                        "headers": headers,
                        "lines": lines,
                        "body": body,
                    }
                )
                if drops.get(target, 0) > 0:
                    drops[target] -= 1
                    return  # close the connection without an answer
                if target == "/garbage":
                    writer.write(b"this is not HTTP\r\n\r\n")
                    await writer.drain()
                    return
                payload = json.dumps(
                    {
                        "method": method,
                        "target": target,
                        "body": body.decode(),
                        "request_id": headers.get("x-request-id"),
                        "cookie": headers.get("cookie"),
                        "authorization": headers.get("authorization"),
                    }
                ).encode()
                status, extra = b"200 OK", b""
                if target == "/login":
                    extra = b"Set-Cookie: session=s3cr3t; Path=/\r\n"
                if target == "/guarded" and headers.get("authorization") != "Bearer fresh":
                    status = b"401 Unauthorized"
                writer.write(
                    b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n%s"
                    b"Content-Length: %d\r\n\r\n%s" % (status, extra, len(payload), payload)
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return handle


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    seen: list[dict[str, Any]] = []
    drops: dict[str, int] = {}
    srv = await asyncio.start_server(await _http_server(seen, drops), "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield _Server(f"http://127.0.0.1:{port}", seen, drops)
    finally:
        srv.close()
        await srv.wait_closed()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_talks_to_a_real_server(server: _Server, backend: Backend) -> None:
    transport = Transport(server.url, name="local", backend=backend)
    try:
        got = await transport.request("GET", "/ping?x=1", write=False)
        sent = await transport.request("POST", "/users", write=True, json={"name": "anna"})
    finally:
        await transport.aclose()

    assert got.status_code == 200
    assert got.json()["target"] == "/ping?x=1"
    assert sent.json()["method"] == "POST"
    assert json.loads(sent.json()["body"]) == {"name": "anna"}
    assert sent.json()["request_id"] == server.seen[-1]["headers"]["x-request-id"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_retries_a_dropped_connection(
    server: _Server, backend: Backend, sleeps: Sleeps
) -> None:
    server.drops["/flaky"] = 1
    transport = Transport(server.url, backend=backend, sleep=sleeps)
    try:
        response = await transport.request("GET", "/flaky", write=False)
    finally:
        await transport.aclose()

    assert response.status_code == 200
    assert [s["target"] for s in server.seen] == ["/flaky", "/flaky"]
    ids = {s["headers"]["x-request-id"] for s in server.seen}
    assert len(ids) == 1
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_reports_a_closed_port_as_unreachable(
    backend: Backend, sleeps: Sleeps
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(
        f"http://127.0.0.1:{port}",
        name="local",
        backend=backend,
        retries=1,
        sleep=sleeps,
    )
    try:
        with pytest.raises(errors.Unavailable, match="^local could not be reached$"):
            await transport.request("GET", "/", write=False)
    finally:
        await transport.aclose()
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_sends_a_non_idempotent_write_once_over_a_dropped_connection(
    server: _Server, backend: Backend, sleeps: Sleeps
) -> None:
    server.drops["/users/anna"] = 5
    transport = Transport(server.url, name="local", backend=backend, sleep=sleeps)
    try:
        with pytest.raises(errors.Unavailable, match="^local broke off the connection$"):
            await transport.request("PUT", "/users/anna", write=True, json={"plan": "sync"})
    finally:
        await transport.aclose()

    # PUT is idempotent to HTTP, but this call said it is not: one request reached the server.
    assert [s["method"] for s in server.seen] == ["PUT"]
    assert sleeps.waits == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_reports_a_malformed_answer_as_unavailable(
    server: _Server, backend: Backend, sleeps: Sleeps
) -> None:
    transport = Transport(server.url, name="local", backend=backend, retries=1, sleep=sleeps)
    try:
        with pytest.raises(errors.Unavailable, match="^local broke off the connection$") as caught:
            await transport.request("GET", "/garbage", write=False)
    finally:
        await transport.aclose()

    assert len(server.seen) == 2  # a read is retried
    assert caught.value.debug["attempts"] == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_sends_back_the_cookies_a_platform_sets(
    server: _Server, backend: Backend
) -> None:
    transport = Transport(server.url, backend=backend)
    try:
        first = await transport.request("GET", "/before", write=False)
        await transport.request("POST", "/login", write=False)
        after = await transport.request("GET", "/after", write=False)
    finally:
        await transport.aclose()
    assert first.json()["cookie"] is None
    assert after.json()["cookie"] == "session=s3cr3t"


class _RenewingToken(httpx.Auth):
    """Sends a token; on 401 fetches a fresh one and sends the request again."""

    def __init__(self) -> None:
        self.token = "stale"
        self.renewals = 0

    async def async_auth_flow(self, request: httpx.Request):  # type: ignore[override]
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            self.renewals += 1
            self.token = "fresh"
            request.headers["Authorization"] = "Bearer fresh"
            yield request


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_runs_an_auth_flow_through_to_its_last_answer(
    server: _Server, backend: Backend
) -> None:
    auth = _RenewingToken()
    transport = Transport(server.url, backend=backend)
    transport.set_auth(auth)
    try:
        guarded = await transport.request("GET", "/guarded", write=False)
        again = await transport.request("GET", "/guarded", write=False)
        basic = await transport.request("GET", "/open", write=False, auth=("admin", "pw"))
        bare = await transport.request("GET", "/open", write=False, auth=False)
    finally:
        await transport.aclose()
    assert guarded.status_code == 200 and again.status_code == 200
    assert auth.renewals == 1  # the second call used the renewed token at once
    assert [s["headers"].get("authorization") for s in server.seen[:3]] == [
        "Bearer stale",
        "Bearer fresh",
        "Bearer fresh",
    ]
    assert basic.json()["authorization"] == "Basic YWRtaW46cHc="
    assert bare.json()["authorization"] is None


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_sends_default_and_call_headers_once_each(
    server: _Server, backend: Backend
) -> None:
    transport = Transport(server.url, backend=backend, headers={"X-Tenant": "default"})
    try:
        await transport.request("GET", "/h", write=False, headers={"x-tenant": "call"})
    finally:
        await transport.aclose()
    (seen,) = server.seen
    assert seen["headers"]["x-tenant"] == "call"
    assert seen["lines"].count("x-tenant") == 1  # the call's value, not both
    assert seen["headers"]["user-agent"].startswith("mailadmin/")
    assert seen["headers"]["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_backend_encodes_json_and_text_bodies_alike(
    server: _Server, backend: Backend
) -> None:
    transport = Transport(server.url, backend=backend)
    try:
        await transport.request("POST", "/j", write=False, json={"name": "Zoë", "n": [1, 2]})
        await transport.request(
            "POST", "/t", write=False, content="<a>Zoë</a>", headers={"content-type": "text/xml"}
        )
        await transport.request("POST", "/e", write=False)
        await transport.request("GET", "/g", write=False, params={"q": "a b"})
    finally:
        await transport.aclose()
    j, t, e, g = server.seen
    assert j["body"] == '{"name":"Zoë","n":[1,2]}'.encode()
    assert j["headers"]["content-type"] == "application/json"
    assert j["headers"]["content-length"] == str(len(j["body"]))
    assert t["body"] == "<a>Zoë</a>".encode() and t["headers"]["content-type"] == "text/xml"
    assert t["lines"].count("content-type") == 1
    assert e["body"] == b"" and e["headers"].get("content-length", "0") == "0"
    assert g["target"] == "/g?q=a+b"
