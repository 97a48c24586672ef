"""Fixtures for the mock toolkit's tests, with a toy platform of every route shape.

The toy platform: named counters (``{"a": 1}`` by default) behind REST routes, an RPC
address whose operation is the JSON body's ``op``, an asynchronous job and a crashing
route. Its errors are shaped ``{"fault": ...}`` so tests can tell platform answers from
toolkit defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import pytest

from mailadmin.mock import (
    MockPlatform,
    MockRequest,
    MockServer,
    MockState,
    Reply,
    Route,
    SeedError,
    serve,
)


class ToyState(MockState):
    """Named counters; default ``{"a": 1}``."""

    items: dict[str, int]

    def reset(self) -> None:
        super().reset()
        self.items = {"a": 1}

    def snapshot(self) -> dict[str, Any]:
        return {"items": dict(self.items), "operations": self.operations.snapshot()}

    def load_seed(self, data: Mapping[str, Any]) -> None:
        items = data.get("items", {})
        if not isinstance(items, dict) or not all(isinstance(v, int) for v in items.values()):
            raise SeedError("'items' must map names to whole numbers")
        self.items = dict(items)

    def item(self, name: str) -> int:
        if name not in self.items:
            raise Reply(httpx.Response(404, json={"fault": "NoSuchItem", "item": name}))
        return self.items[name]


def list_items(request: MockRequest, state: ToyState) -> httpx.Response:
    return httpx.Response(200, json={"items": state.items})


def get_item(request: MockRequest, state: ToyState) -> httpx.Response:
    name = request.path_params["name"]
    return httpx.Response(200, json={"name": name, "value": state.item(name)})


def put_item(request: MockRequest, state: ToyState) -> httpx.Response:
    body = request.json()
    state.items[request.path_params["name"]] = int(body["value"])
    return httpx.Response(200, json={"name": request.path_params["name"], "value": body["value"]})


def rpc_add(request: MockRequest, state: ToyState) -> httpx.Response:
    body = request.json()
    state.items[body["name"]] = state.items.get(body["name"], 0) + int(body["by"])
    return httpx.Response(200, json={"value": state.items[body["name"]]})


def rpc_echo(request: MockRequest, state: ToyState) -> httpx.Response:
    return httpx.Response(200, json={"echo": request.json().get("text", "")})


def start_job(request: MockRequest, state: ToyState) -> httpx.Response:
    name = request.path_params["name"]

    def apply() -> int:
        state.items[name] = state.items.get(name, 0) + 100
        return state.items[name]

    operation = state.operations.start("bump", name, apply=apply)
    return httpx.Response(202, json={"operation": operation.id})


def poll_job(request: MockRequest, state: ToyState) -> httpx.Response:
    operation = state.operations.poll(request.path_params["id"])
    if operation is None:
        return httpx.Response(404, json={"fault": "NoSuchOperation"})
    return httpx.Response(200, json=operation.to_dict())


def crash(request: MockRequest, state: ToyState) -> httpx.Response:
    raise RuntimeError("boom")


class ToyMock(MockPlatform):
    """RPC operations are named by the JSON body's ``op``."""

    name = "toy"
    state_class = ToyState
    base_url = "http://toy.test"
    routes = (
        Route("GET", "/items", list_items, name="list_items"),
        Route("GET", "/items/{name}", get_item, name="get_item"),
        Route("PUT", "/items/{name}", put_item, name="put_item", write=True),
        Route("POST", "/rpc", rpc_add, operation="add", write=True),
        Route("POST", "/rpc", rpc_echo, operation="echo"),
        Route("POST", "/jobs/{name}", start_job, name="start_job", write=True),
        Route("GET", "/operations/{id}", poll_job, name="poll_job"),
        Route("GET", "/crash", crash, name="crash"),
    )

    def operation_of(self, request: MockRequest) -> str | None:
        if request.path != "/rpc":
            return None
        body = request.json()
        return body.get("op") if isinstance(body, dict) else None

    def unknown(self, request: MockRequest) -> httpx.Response:
        what = request.operation or f"{request.method} {request.path}"
        return httpx.Response(400, json={"fault": "NoSuchOperation", "operation": what})


@pytest.fixture
def server() -> MockServer:
    """A fresh toy mock server."""
    return MockServer(ToyMock)


@pytest.fixture
def served(server: MockServer) -> Iterator[str]:
    """The ``server`` fixture served on loopback; yields its base URL."""
    with serve(server) as url:
        yield url


@pytest.fixture(params=["transport", "router", "loopback"])
async def client(
    request: pytest.FixtureRequest, server: MockServer
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``server`` through each front door in turn."""
    if request.param == "loopback":
        with serve(server) as url:
            async with httpx.AsyncClient(base_url=url) as http:
                yield http
        return
    transport = server.transport() if request.param == "transport" else server.router()
    async with httpx.AsyncClient(transport=transport, base_url=ToyMock.base_url) as http:
        yield http


@pytest.fixture
def toy() -> type[ToyMock]:
    """The toy platform class (test modules cannot import conftest)."""
    return ToyMock
