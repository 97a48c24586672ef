"""The memory platform's mock: documented defaults, seeds, wire format, registration."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from mailadmin.mock import MockServer, Progression, SeedError, load_platform, serve
from mailadmin.orchestration.registry import Registry
from mailadmin.reference.mock import MemoryMock, MemoryState
from mailadmin.reference.mock import state as state_module

AUTH = ("admin", "secret")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh in-process memory mock."""
    server = MockServer(MemoryMock)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://m.test") as client:
        yield client


def test_the_documented_defaults() -> None:
    state = MockServer(MemoryMock).snapshot()
    assert state["admin"] == {"username": "admin", "password": "secret"}
    assert [p["name"] for p in state["plans"]] == ["basic", "standard", "premium"]
    assert state["licence"]["seats"] == 50
    tenant = state["tenants"]["example.com"]
    assert tenant["allocations"] == {
        "user_seats": 10,
        "shared_mailboxes": 2,
        "resource_mailboxes": 2,
        "extra_storage_gb": 0,
    }
    assert [m["address"].split("@")[0] for m in tenant["mailboxes"]] == [
        "anna",
        "ben",
        "carla",
        "info",
        "room-1",
    ]
    assert state["asynchronous"] == [] and state["page_size"] == 100


def test_the_documented_seed_example_is_a_valid_seed() -> None:
    docs = state_module.__doc__ or ""
    example = docs[docs.index("    {\n") : docs.rindex("    }\n") + 6]
    seed = json.loads(example)
    server = MockServer(MemoryMock, seed=seed)
    assert server.snapshot()["tenants"]["example.com"]["allocations"]["user_seats:premium"] == 2
    assert server.snapshot()["asynchronous"] == ["set_plan"]


def test_a_snapshot_seeds_an_identical_state() -> None:
    changed = MockServer(MemoryMock)
    assert isinstance(changed.state, MemoryState)
    changed.state.set_allocation("example.com", "extra_storage_gb", 9)
    changed.state.change_plan("example.com", "anna@example.com", "premium")
    copy = MockServer(MemoryMock, seed=changed.snapshot())
    assert copy.snapshot() == changed.snapshot()


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"page_size": 0}, "page_size"),
        ({"tenants": {"a.test": {"mailboxes": [{"address": "x@b.test", "plan": "basic"}]}}},
         "not in the tenant's domain"),
        ({"tenants": {"a.test": {"mailboxes": [{"address": "x@a.test", "plan": "gold"}]}}},
         "needs a plan of the catalogue"),
        ({"tenants": {"a.test": {"mailboxes": [{"address": "x@a.test", "kind": "shared",
                                                 "plan": "basic"}]}}}, "has no plan"),
        ({"surprise": 1}, "surprise"),
    ],
)  # fmt: skip
def test_bad_seeds_are_refused_with_a_clear_message(seed: dict[str, object], message: str) -> None:
    with pytest.raises(SeedError, match=re.escape(message)):
        MockServer(MemoryMock, seed=seed)


async def test_every_call_needs_the_admin_credentials(http: httpx.AsyncClient) -> None:
    missing = await http.get("/api/ping")
    wrong = await http.get("/api/ping", auth=("admin", "nope"))
    right = await http.get("/api/ping", auth=AUTH)
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Basic realm="memory"'
    assert wrong.json() == {
        "error": {"code": "unauthorized", "message": "Wrong or missing credentials"}
    }
    assert right.json() == {"platform": "memory", "version": "1.0"}


async def test_errors_use_the_platform_format(http: httpx.AsyncClient) -> None:
    unknown = await http.post("/api/reboot", auth=AUTH)
    bad_body = await http.put(
        "/api/tenants/example.com/allocations/user_seats", content=b"{", auth=AUTH
    )
    bad_quantity = await http.put(
        "/api/tenants/example.com/allocations/user_seats", json={"quantity": -1}, auth=AUTH
    )
    unknown_allocation = await http.put(
        "/api/tenants/example.com/allocations/gold_bars", json={"quantity": 1}, auth=AUTH
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_operation")
    assert (bad_body.status_code, bad_body.json()["error"]["code"]) == (400, "invalid_request")
    assert bad_quantity.status_code == 400
    assert unknown_allocation.status_code == 422


async def test_mailbox_lists_page_with_next_links() -> None:
    server = MockServer(MemoryMock, seed={"page_size": 2})
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://m.test") as http:
        first = (await http.get("/api/tenants/example.com/mailboxes", auth=AUTH)).json()
        second = (await http.get(first["next"], auth=AUTH)).json()
        users = (await http.get("/api/tenants/example.com/mailboxes?kind=user", auth=AUTH)).json()
    assert first["total"] == 5 and len(first["mailboxes"]) == 2
    assert first["next"] == "/api/tenants/example.com/mailboxes?offset=2"
    assert [m["address"] for m in second["mailboxes"]] == ["carla@example.com", "info@example.com"]
    assert users["next"] == "/api/tenants/example.com/mailboxes?kind=user&offset=2"


async def test_a_plan_change_to_the_same_plan_writes_nothing(http: httpx.AsyncClient) -> None:
    path = "/api/tenants/example.com/mailboxes/anna@example.com/plan"
    same = await http.put(path, json={"plan": "basic"}, auth=AUTH)
    other = await http.put(path, json={"plan": "premium", "quota_mb": 20000}, auth=AUTH)
    assert same.json() == {
        "changed": False,
        "before": {"plan": "basic", "quota_mb": 2048},
        "after": {"plan": "basic", "quota_mb": 2048},
    }
    assert other.json()["after"] == {"plan": "premium", "quota_mb": 20000}


def test_the_mock_is_registered_by_the_reference_plugin() -> None:
    registry = Registry()
    assert registry.mock_platform("memory") is MemoryMock
    assert registry.provider_class("memory").__name__ == "MemoryProvider"
    assert load_platform("memory") is MemoryMock


def test_serve_by_name() -> None:
    with serve("memory") as url:
        answer = httpx.get(url + "/api/licence", auth=AUTH)
    assert answer.json()["seats"] == {"licensed": 50, "used": 3}


async def test_asking_again_while_a_plan_change_runs_answers_with_the_same_operation() -> None:
    server = MockServer(MemoryMock, seed={"asynchronous": ["set_plan"]})
    assert isinstance(server.state, MemoryState)
    server.state.operations.set_progression(Progression.after_polls(3))
    path = "/api/tenants/example.com/mailboxes/anna@example.com/plan"
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://m.test") as http:
        first = await http.put(path, json={"plan": "premium"}, auth=AUTH)
        again = await http.put(path, json={"plan": "premium"}, auth=AUTH)
    assert first.status_code == again.status_code == 202
    assert first.headers["Location"] == "/api/operations/op-1"
    assert again.json()["operation"]["id"] == "op-1"
    assert len(server.state.operations.snapshot()) == 1
