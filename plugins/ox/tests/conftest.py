"""Shared fixtures of the OX plugin's tests: the fixture files and an in-process mock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailadmin_ox.demo import sample_config
from mailadmin_ox.mock.codec import tolerated_deviations
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.mock.schema import SERVICES
from mailadmin_ox.provider import OXProvider

from mailadmin.mock import MockServer
from mailadmin.sdk import read_envelope

FIXTURES = Path(__file__).parent / "fixtures"
Load = Callable[[str], bytes]
Post = Callable[..., Awaitable[httpx.Response]]


def _fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def load() -> Load:
    """``load("faults/auth_failed.request.xml")``: the bytes of a file under ``fixtures/``."""
    return _fixture_bytes


@pytest.fixture
def seed() -> dict[str, Any]:
    """The fixture seed: contexts 42 and 43 of reseller brand1 (see fixtures/seed.json)."""
    data: dict[str, Any] = json.loads(_fixture_bytes("seed.json"))
    return data


@pytest.fixture
def server(seed: dict[str, Any]) -> MockServer:
    """An OX mock holding the defaults plus the fixture seed."""
    return MockServer(OXMock, seed=seed)


async def _post(server: MockServer, service: str, body: bytes, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=server.transport(), base_url=OXMock.base_url) as client:
        return await client.post(
            f"/webservices/{service}",
            content=body,
            headers={"Content-Type": "text/xml; charset=UTF-8", **headers},
        )


@pytest.fixture
def post() -> Post:
    """``await post(server, "OXUserService", body, SOAPAction=...)``: POST a SOAP body to an
    in-process mock."""
    return _post


PLANS = sample_config()["instances"]["ox"]["plans"]
LOGINS = {
    "context_admin": {"username": "oxadmin", "secret": "secret"},
    "master_admin": {"username": "oxadminmaster", "secret": "secret"},
    "reseller": {"username": "reseller", "secret": "secret"},
}

#: ``make(server, mode=..., **settings)``
Make = Callable[..., OXProvider]


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., OXProvider]]:
    """``make(server, mode=..., **settings)``: a provider talking to ``server`` in process."""
    made: list[OXProvider] = []
    servers: list[MockServer] = []

    def build(server: MockServer, mode: str = "context_admin", **settings: Any) -> OXProvider:
        servers.append(server)
        raw = {
            "mode": mode,
            "credentials": LOGINS[mode],
            "plans": PLANS,
            "context_id": 1,
            "storage_base_mb": 1024,
            **settings,
        }
        provider = OXProvider(raw, instance="ox-test", http=server.transport())
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()
    # Everything the provider sent is exactly what the schema says: OX would also take
    # unqualified or reordered elements, but the plugin promises the published shape.
    seen = {id(server): server for server in servers}
    assert [d for server in seen.values() for d in schema_deviations(server)] == []


def schema_deviations(server: MockServer) -> list[str]:
    """What the requests ``server`` received do that OX tolerates but its schema does not
    say (unqualified elements, elements out of order), one line per deviation."""
    found: list[str] = []
    for request in server.requests:
        service = SERVICES.get(request.path.removeprefix("/webservices/"))
        if request.method != "POST" or service is None:
            continue
        message = read_envelope(request.body, source="the provider")
        if message.body is not None:
            found += [f"{service.name}: {d}" for d in tolerated_deviations(service, message.body)]
    return found
