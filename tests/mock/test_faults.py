"""Fault injection, in process and over HTTP on the real loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from mailadmin.mock import Fault, ManualClock, MockPlatform, MockServer, serve

Door = Callable[[MockServer, dict[str, Any]], Any]


@asynccontextmanager
async def _in_process(
    server: MockServer, fault: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    server.inject(Fault.model_validate(fault))
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://toy.test") as http:
        yield http


@asynccontextmanager
async def _over_http(server: MockServer, fault: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    with serve(server) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            injected = await http.post("/_mock/faults", json=fault)
            assert injected.status_code == 201, injected.text
            yield http


@pytest.fixture(params=["in_process", "over_http"])
def door(request: pytest.FixtureRequest) -> Any:
    """Injects a fault and yields a client, in process or through the loopback server."""
    return _in_process if request.param == "in_process" else _over_http


async def test_a_fault_hits_chosen_calls_of_one_operation(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    handle = server.inject(Fault(kind="status", status=503, operation="add", calls=[2, 3]))
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://toy.test") as http:
        adds = [
            (await http.post("/rpc", json={"op": "add", "name": "a", "by": 1})).status_code
            for _ in range(4)
        ]
        echo = await http.post("/rpc", json={"op": "echo", "text": "untouched"})

    assert adds == [200, 503, 503, 200]
    assert echo.status_code == 200
    assert (handle.seen, handle.fired) == (4, 2)
    assert server.snapshot()["items"]["a"] == 3  # the two refused adds changed nothing
    assert [r.fault for r in server.calls("add")] == [None, "status", "status", None]


async def test_latency_waits_on_the_server_clock(toy: type[MockPlatform], door: Door) -> None:
    clock = ManualClock()
    server = MockServer(toy, clock=clock)
    async with door(server, {"kind": "latency", "delay": 30, "operation": "get_item"}) as http:
        slow = await http.get("/items/a")
        fast = await http.get("/items")
    assert slow.json() == {"name": "a", "value": 1}
    assert fast.status_code == 200
    assert clock.sleeps == [30]
    assert clock.now() == 30


async def test_status_fault_answers_any_status(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    async with door(server, {"kind": "status", "status": 502, "operation": "put_item"}) as http:
        response = await http.put("/items/a", json={"value": 9})
    assert response.status_code == 502
    assert response.json()["error"] == "InjectedFault"
    assert server.snapshot()["items"]["a"] == 1
    assert [(r.status, r.fault, r.write) for r in server.requests] == [(502, "status", True)]


async def test_status_fault_after_the_change_was_made(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    fault = {"kind": "status", "status": 500, "handled": True, "body": "oops"}
    async with door(server, fault) as http:
        response = await http.put("/items/a", json={"value": 9})
    assert (response.status_code, response.text) == (500, "oops")
    assert server.snapshot()["items"]["a"] == 9


async def test_rate_limit_sends_429_with_retry_after(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    fault = {"kind": "rate_limit", "retry_after": 2, "calls": [1, 2]}
    async with door(server, fault) as http:
        statuses = [await http.get("/items/a") for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "2"
    assert "Retry-After" not in statuses[2].headers


async def test_dropped_connection(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    async with door(server, {"kind": "drop", "operation": "put_item"}) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.put("/items/a", json={"value": 9})
        after = await http.get("/items/a")
    assert after.json()["value"] == 1
    first = server.requests[0]
    assert (first.operation, first.status, first.fault) == ("put_item", None, "drop")


async def test_dropped_connection_after_the_change(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    async with door(server, {"kind": "drop", "handled": True, "calls": [1]}) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.put("/items/a", json={"value": 9})
        after = await http.get("/items/a")
    assert after.json()["value"] == 9


async def test_malformed_body(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    async with door(server, {"kind": "malformed", "operation": "get_item"}) as http:
        response = await http.get("/items/a")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


async def test_malformed_with_a_chosen_body(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    fault = {"kind": "malformed", "body": "<html>proxy error</html>", "content_type": "text/html"}
    async with door(server, fault) as http:
        response = await http.get("/items/a")
    assert response.text == "<html>proxy error</html>"
    assert response.headers["content-type"] == "text/html"


async def test_truncated_body(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    whole = b'{"name":"a","value":1}'
    async with door(server, {"kind": "truncate", "operation": "get_item"}) as http:
        response = await http.get("/items/a")
        cut = await http.get("/items/a")
    assert response.content == whole[: len(whole) // 2]
    assert response.headers["content-length"] == str(len(whole) // 2)
    assert cut.content == response.content


async def test_truncate_keeps_a_chosen_length(toy: type[MockPlatform], door: Door) -> None:
    server = MockServer(toy)
    async with door(server, {"kind": "truncate", "keep": 3}) as http:
        response = await http.get("/items/a")
    assert response.content == b'{"n'


async def test_latency_combines_with_another_fault(toy: type[MockPlatform]) -> None:
    clock = ManualClock()
    server = MockServer(toy, clock=clock)
    server.inject(Fault(kind="latency", delay=5))
    server.inject(Fault(kind="status", status=504))
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://toy.test") as http:
        response = await http.get("/items")
    assert response.status_code == 504
    assert clock.sleeps == [5]


async def test_faults_over_http_are_listed_removed_and_validated(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    with serve(server) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            first = (
                await http.post("/_mock/faults", json={"kind": "status", "status": 503})
            ).json()
            both = await http.post(
                "/_mock/faults",
                json=[{"kind": "latency"}, {"kind": "truncate", "operation": "get_item"}],
            )
            await http.get("/items")
            listed = (await http.get("/_mock/faults")).json()
            removed = await http.delete(f"/_mock/faults/{first['id']}")
            missing = await http.delete("/_mock/faults/999")
            after_one = await http.get("/items")
            bad = await http.post("/_mock/faults", json={"kind": "explode"})
            bad_list = await http.post(
                "/_mock/faults", json=[{"kind": "status"}, {"kind": "status", "calls": [0]}]
            )
            count_before_clear = len((await http.get("/_mock/faults")).json())
            cleared = await http.delete("/_mock/faults")

    assert both.status_code == 201 and len(both.json()) == 2
    assert [(f["kind"], f["seen"], f["fired"]) for f in listed] == [
        ("status", 1, 1),
        ("latency", 1, 1),
        ("truncate", 0, 0),
    ]
    assert removed.status_code == 200 and missing.status_code == 404
    assert after_one.status_code == 200
    assert bad.status_code == 400 and "kind" in bad.json()["message"]
    assert bad_list.status_code == 400 and "start at 1" in bad_list.json()["message"]
    assert count_before_clear == 2  # the bad list injected nothing
    assert cleared.status_code == 200
    assert server.faults == []


def test_fault_rules_validate() -> None:
    with pytest.raises(ValueError):
        Fault(kind="status", status=99)
    with pytest.raises(ValueError):
        Fault.model_validate({"kind": "status", "surprise": True})
    assert Fault(kind="rate_limit").status_code == 429
    assert Fault(kind="status").status_code == 500
