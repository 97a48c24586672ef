"""JsonClient and ErrorTable: a JSON API over the shared transport, its errors as data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.wire.dryrun import DryRunViolation, dry_run_scope
from mailadmin.wire.jsonapi import ErrorRule, ErrorTable, JsonClient, error_code
from mailadmin.wire.transport import Transport

ERRORS = ErrorTable(
    [
        ErrorRule(status=404, error=errors.NotFoundError, message="{provider} has no such thing"),
        ErrorRule(
            code="mailbox_not_found",
            error=errors.NotFoundError,
            message="The mailbox {subject} does not exist",
        ),
        ErrorRule(
            status=409, code="over_limit", error=errors.QuotaExceeded, message="No room left"
        ),
    ]
)


def client(handler: Any, **kwargs: Any) -> JsonClient:
    transport = Transport(
        "https://api.example.test",
        name="acme-eu",
        backend=httpx.MockTransport(handler),
        secrets=["s3cr3t-value"],
        retries=0,
    )
    return JsonClient(transport, name="acme-eu", errors=ERRORS, **kwargs)


async def test_calls_return_parsed_json() -> None:
    seen: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), request.content))
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={"ok": True, "method": request.method})

    api = client(handler, auth=httpx.BasicAuth("admin", "s3cr3t-value"))
    assert await api.get("/v1/things", params={"page": 2}) == {"ok": True, "method": "GET"}
    assert (await api.put("/v1/things/1", json={"a": 1}, idempotent=True))["method"] == "PUT"
    assert (await api.post("/v1/things", json={"b": 2}))["method"] == "POST"
    assert (await api.patch("/v1/things/1", json={"c": 3}))["method"] == "PATCH"
    assert await api.delete("/v1/things/1") is None  # an empty body
    assert seen[0][1] == "https://api.example.test/v1/things?page=2"
    assert seen[1][2] == b'{"a":1}'


async def test_a_platform_code_beats_a_status_and_messages_are_user_safe() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "mailbox_not_found", "message": "no s3cr3t-value here"}}
        return httpx.Response(404, json=body)

    with pytest.raises(errors.NotFoundError) as caught:
        await client(handler).get("/v1/mailboxes/anna", subject="anna@example.com")
    error = caught.value
    assert str(error) == "The mailbox anna@example.com does not exist"
    assert error.debug["code"] == "mailbox_not_found" and error.debug["status"] == 404
    assert error.debug["platform_message"] == "no *** here"
    assert "s3cr3t-value" not in repr(error.debug)


async def test_a_status_rule_and_the_generic_mapping() -> None:
    answers = iter(
        [
            httpx.Response(404, text="nope"),
            httpx.Response(409, json={"code": "over_limit"}),
            httpx.Response(409, json={"code": "other"}),
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
        ]
    )
    api = client(lambda request: next(answers))
    with pytest.raises(errors.NotFoundError, match="acme-eu has no such thing"):
        await api.get("/x")
    with pytest.raises(errors.QuotaExceeded, match="No room left"):
        await api.get("/x")
    with pytest.raises(errors.ConflictError) as conflict:  # 409 without a rule: generic
        await api.get("/x")
    assert conflict.value.debug["code"] == "other"
    with pytest.raises(errors.RateLimited) as limited:
        await api.get("/x")
    assert limited.value.retry_after == 7
    with pytest.raises(errors.Unavailable):
        await api.get("/x")


async def test_missing_answers_none_for_the_named_code_only() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        code = "mailbox_not_found" if "anna" in request.url.path else "tenant_not_found"
        return httpx.Response(404, json={"error": {"code": code}})

    api = client(handler)
    assert await api.get("/t/anna", missing="mailbox_not_found") is None
    with pytest.raises(errors.NotFoundError):
        await api.get("/t/ben", missing="mailbox_not_found")
    assert await api.delete("/t/ben", missing=404) is None


async def test_an_unreadable_answer_is_a_protocol_error() -> None:
    api = client(lambda request: httpx.Response(200, text="<html>password=s3cr3t-value"))
    with pytest.raises(errors.ProtocolError) as caught:
        await api.get("/x")
    assert "s3cr3t-value" not in repr(caught.value.debug)


async def test_writes_are_refused_during_a_dry_run_reads_are_not() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(200, json={})

    api = client(handler)
    with dry_run_scope(True):
        await api.get("/x")
        await api.post("/search", json={"q": 1}, write=False)  # a query sent as a POST
        with pytest.raises(DryRunViolation):
            await api.put("/x", json={})
    assert sent == ["GET", "POST"]


async def test_a_named_endpoint_is_passed_to_the_transport() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=1)

    transport = Transport(
        "https://a.test",
        endpoints={"graph": "https://graph.test/v1.0"},
        backend=httpx.MockTransport(answer),
    )
    api = JsonClient(transport, name="x", errors=ErrorTable())
    assert await api.get("/a") == 1 and await api.get("users", endpoint="graph") == 1
    assert seen == ["https://a.test/a", "https://graph.test/v1.0/users"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"error": {"code": "Request_ResourceNotFound", "message": "m"}},
            "Request_ResourceNotFound",
        ),
        ({"error": "unauthorized"}, "unauthorized"),
        ({"code": "x1"}, "x1"),
        ({"error": {"message": "no code"}}, None),
        ([1, 2], None),
        (None, None),
    ],
)
def test_error_codes_of_the_common_shapes(body: Any, code: str | None) -> None:
    assert error_code(body) == code


def test_a_table_can_read_codes_its_own_way() -> None:
    table = ErrorTable(
        [ErrorRule(code="42", error=errors.ConflictError, message="busy")],
        code=lambda body: str(body["fault"]["n"]) if isinstance(body, dict) else None,
    )
    response = httpx.Response(
        500, json={"fault": {"n": 42}}, request=httpx.Request("POST", "https://h/")
    )
    error = table.error_for(response, provider="p")
    assert isinstance(error, errors.ConflictError) and str(error) == "busy"
