"""Issue 29.5: a request is authenticated before its body is read, its body is capped
(``[api] max_body_bytes``, 413 past it, a chunked body counted as it arrives) and a client
whose API keys keep being refused is throttled (429 with ``Retry-After``).

The application is driven as ASGI with a body handed over chunk by chunk, so each test
counts the bytes the service actually consumed: "refused without reading" is measured,
not inferred from timing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from apihelpers import config_text

from mailadmin.api.app import create_app
from mailadmin.api.keys import ApiKeys
from mailadmin.mock.server import MockServer
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.rules.identities import SITE_ADMIN

MIB = 1024 * 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Body bytes the service took from the client.
    consumed: int = 0
    problem: dict[str, Any] = field(default_factory=dict)


@dataclass
class Served:
    app: Any
    key: str

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        chunks: int = 0,
        chunk: int = MIB,
        length: int | None = None,
        body: bytes | None = None,
        client: str = "192.0.2.10",
    ) -> Answer:
        """One request; the body is ``body``, or ``chunks`` chunks of ``chunk`` bytes
        sent as a chunked body (or with ``length`` declared)."""
        headers = [(b"host", b"test")]
        if key is not None:
            headers.append((b"authorization", f"Bearer {key}".encode()))
        count = 1 if body is not None else chunks
        path, _, query = path.partition("?")
        if body is not None:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
        elif length is not None:
            headers.append((b"content-length", str(length).encode()))
        elif chunks:
            headers.append((b"transfer-encoding", b"chunked"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": (client, 50000),
            "server": ("test", 80),
        }
        answer = Answer(0, {}, b"")
        position = 0

        async def receive() -> dict[str, Any]:
            nonlocal position
            if position < count:
                # Made as it is asked for: a body of a gigabyte is never held whole.
                part = body if body is not None else b"x" * chunk
                position += 1
                answer.consumed += len(part)
                return {"type": "http.request", "body": part, "more_body": position < count}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        await self.app(scope, receive, send)
        if answer.headers.get("content-type", "").startswith("application/problem+json"):
            answer.problem = json.loads(answer.body)
        return answer


@asynccontextmanager
async def served(mock: MockServer, folder: Path, api: str = "") -> AsyncIterator[Served]:
    """The application over a configuration whose ``[api]`` table is ``api``."""
    config = folder / "mailadmin.toml"
    config.write_text(config_text(mock.url, folder, api=api))  # type: ignore[attr-defined]
    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = Orchestrator.from_config(config)
        return holder["orch"]

    app = create_app(orchestrator=factory)
    async with app.router.lifespan_context(app):
        key = ApiKeys(holder["orch"].rules.store).create(SITE_ADMIN).key
        yield Served(app, key)


async def test_a_large_body_without_a_key_is_refused_before_it_is_read(
    mock: MockServer, tmp_path: Path
) -> None:
    async with served(mock, tmp_path) as api:
        # 200 MB, chunked, no key; then the same with a wrong key.
        none = await api.call("POST", "/v1/runs/plan-changes", chunks=200)
        wrong = await api.call("POST", "/v1/runs/plan-changes", key="mak_wrong", chunks=200)
    for answer in (none, wrong):
        assert answer.status == 401, answer.body
        assert answer.problem["code"] == "unauthenticated"
        assert answer.consumed == 0, f"{answer.consumed} bytes read before the 401"
    assert none.headers["www-authenticate"] == "Bearer"
    assert "invalid_token" in wrong.headers["www-authenticate"]


async def test_a_body_past_the_cap_is_refused_as_it_arrives(
    mock: MockServer, tmp_path: Path
) -> None:
    async with served(mock, tmp_path, "max_body_bytes = 1048576") as api:
        chunked = await api.call("POST", "/v1/runs/plan-changes", key=api.key, chunks=1024)
        declared = await api.call(
            "POST", "/v1/runs/plan-changes", key=api.key, chunks=4, length=4 * MIB
        )
        small = json.dumps({"items": [{"address": "anna@example.com", "plan": "sync"}]})
        within = await api.call(
            "POST", "/v1/runs/plan-changes?dry_run=true", key=api.key, body=small.encode()
        )
    assert chunked.status == 413 and chunked.problem["code"] == "too_large"
    # A chunked 1 GiB body is refused once past the cap: at most one chunk more is read.
    assert chunked.consumed <= 2 * MIB, chunked.consumed
    assert declared.status == 413 and declared.consumed == 0
    assert within.status != 413, within.body


async def test_a_body_within_the_default_cap_is_served(mock: MockServer, tmp_path: Path) -> None:
    async with served(mock, tmp_path) as api:
        body = json.dumps({"name": "example.org"}).encode()
        answer = await api.call("POST", "/v1/customers?dry_run=true", key=api.key, body=body)
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["name"] == "example.org"


async def test_repeated_refused_keys_are_throttled_per_client(
    mock: MockServer, tmp_path: Path
) -> None:
    limits = "auth_failures = 5\nauth_window_seconds = 120"
    async with served(mock, tmp_path, limits) as api:
        refused = [
            await api.call("GET", "/v1/customers", key=f"mak_guess{n}", client="198.51.100.7")
            for n in range(5)
        ]
        throttled = await api.call("GET", "/v1/customers", key="mak_guess", client="198.51.100.7")
        # Even a right key waits while its address is throttled (no guessing around it).
        right_but_throttled = await api.call(
            "GET", "/v1/customers", key=api.key, client="198.51.100.7"
        )
        elsewhere = await api.call("GET", "/v1/customers", key=api.key, client="198.51.100.8")
        health = await api.call("GET", "/healthz", client="198.51.100.7")
    assert [a.status for a in refused] == [401] * 5
    assert throttled.status == 429 and throttled.problem["code"] == "throttled"
    assert 1 <= int(throttled.headers["retry-after"]) <= 120
    assert right_but_throttled.status == 429
    assert elsewhere.status == 200
    assert health.status == 200


def test_the_service_refuses_an_unauthenticated_body_over_http(service: Any) -> None:
    """Through ``mailadmin serve``: a 20 MB body with no key is answered 401, and one
    with a key past the default 10 MiB cap 413."""

    def body() -> Any:
        for _ in range(20):
            yield b"x" * MIB

    with httpx.Client(base_url=service.url, timeout=30) as client:
        answer = client.post("/v1/runs/plan-changes", content=body())
        assert answer.status_code == 401
    with service.client("admin") as client:
        answer = client.post("/v1/runs/plan-changes", content=body())
        assert answer.status_code == 413
        assert answer.json()["code"] == "too_large"
