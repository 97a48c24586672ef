"""Shared fixtures of the Zextras plugin's tests: the fixture files and an in-process mock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState

from mailadmin.mock import MockServer

FIXTURES = Path(__file__).parent / "fixtures"
SOAP_PATH = "/service/admin/soap"
Post = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def seed() -> dict[str, Any]:
    """The fixture seed: the ``zimbra`` admin of the CB-prov requests and Anna with a fixed id."""
    data: dict[str, Any] = json.loads((FIXTURES / "seed.json").read_text())
    return data


@pytest.fixture
def server(seed: dict[str, Any]) -> MockServer:
    """A Zextras mock holding the defaults plus the fixture seed."""
    return MockServer(ZextrasMock, seed=seed)


@pytest.fixture
def state(server: MockServer) -> ZextrasState:
    """The mock's state, to check what a request changed."""
    assert isinstance(server.state, ZextrasState)
    return server.state


async def _post(
    server: MockServer, body: bytes | dict[str, Any], path: str = SOAP_PATH, **headers: str
) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    async with httpx.AsyncClient(transport=server.transport(), base_url=ZextrasMock.base_url) as c:
        return await c.post(path, content=content, headers=headers)


@pytest.fixture
def post() -> Post:
    """``await post(server, body, path=..., **headers)``: POST a JSON dict or raw bytes."""
    return _post


@pytest.fixture
def token(state: ZextrasState) -> str:
    """A valid token of the mock's admin, obtained from its rules directly."""
    return state.authenticate("admin@example.com", "secret")[0]


Wrap = Callable[..., dict[str, Any]]


def _wrap(body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    name, value = next(iter(body.items()))
    context: dict[str, Any] = {"_jsns": "urn:zimbra"}
    if token is not None:
        context["authToken"] = {"_content": token}
    return {"Header": {"context": context}, "Body": {name: {"_jsns": "urn:zimbraAdmin", **value}}}


@pytest.fixture
def wrap() -> Wrap:
    """``wrap({"GetAccountRequest": {...}}, token)``: a JSON-form request around one body."""
    return _wrap


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sends_ignored: the test sends parameters the server ignores, on purpose"
    )


@pytest.fixture(autouse=True)
def _nothing_ignored(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fail a test whose client sent a parameter the real server would silently ignore
    (it neither refuses nor uses it; the mock records it in ``state.ignored``)."""
    made: list[ZextrasState] = []
    reset = ZextrasState.reset

    def tracked(self: ZextrasState) -> None:
        reset(self)
        made.append(self)

    monkeypatch.setattr(ZextrasState, "reset", tracked)
    yield
    if request.node.get_closest_marker("sends_ignored") is None:
        ignored = [name for state in made for name in state.ignored]
        assert not ignored, f"sent parameters the server ignores: {ignored}"
