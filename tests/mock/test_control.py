"""The control API under /_mock/: reset, seed, inspect, requests, operations, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from mailadmin.mock import ManualClock, MockPlatform, MockServer, serve


@pytest.fixture
async def http(toy: type[MockPlatform]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a toy mock on loopback (manual clock)."""
    with serve(MockServer(toy, clock=ManualClock())) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            yield client


async def test_inspect_change_and_reset_over_http(http: httpx.AsyncClient) -> None:
    before = (await http.get("/_mock/state")).json()
    await http.put("/items/a", json={"value": 42})
    changed = (await http.get("/_mock/state")).json()
    reset = await http.post("/_mock/reset")
    after = (await http.get("/_mock/state")).json()

    assert before["items"] == {"a": 1}
    assert changed["items"] == {"a": 42}
    assert reset.status_code == 200
    assert after == before
    assert (await http.get("/_mock/requests")).json() == []


async def test_seed_over_http_as_json_or_toml(http: httpx.AsyncClient) -> None:
    as_json = await http.put("/_mock/state", json={"items": {"j": 1}})
    from_json = (await http.get("/items")).json()
    as_toml = await http.put(
        "/_mock/state",
        content=b"[items]\nt = 2\n",
        headers={"Content-Type": "application/toml"},
    )
    from_toml = (await http.get("/items")).json()

    assert as_json.status_code == 200 and as_json.json()["items"] == {"j": 1}
    assert from_json == {"items": {"j": 1}}
    assert as_toml.status_code == 200
    assert from_toml == {"items": {"t": 2}}


async def test_a_saved_snapshot_seeds_the_same_state(toy: type[MockPlatform]) -> None:
    source = MockServer(toy)
    async with httpx.AsyncClient(transport=source.transport(), base_url="http://t.test") as http:
        await http.put("/items/z", json={"value": 26})
        saved = (await http.get("/_mock/state")).json()
    copy = MockServer(toy)
    async with httpx.AsyncClient(transport=copy.transport(), base_url="http://t.test") as http:
        await http.put("/_mock/state", json=saved)
    assert copy.snapshot() == source.snapshot()


async def test_bad_seeds_are_refused_and_change_nothing(http: httpx.AsyncClient) -> None:
    not_json = await http.put("/_mock/state", content=b"{nope")
    not_toml = await http.put(
        "/_mock/state", content=b"[[[", headers={"Content-Type": "application/toml"}
    )
    wrong_shape = await http.put("/_mock/state", json={"items": {"a": "many"}})
    a_list = await http.put("/_mock/state", json=[1])

    assert [r.status_code for r in (not_json, not_toml, wrong_shape, a_list)] == [400] * 4
    assert wrong_shape.json() == {
        "error": "BadRequest",
        "message": "'items' must map names to whole numbers",
    }
    assert (await http.get("/items")).json() == {"items": {"a": 1}}


async def test_recorded_requests_over_http(http: httpx.AsyncClient) -> None:
    await http.get("/items/a")
    await http.put("/items/b", json={"value": 2})
    await http.post("/rpc", json={"op": "echo", "text": "hi"})
    await http.get("/_mock/state")  # control calls are not recorded

    everything = (await http.get("/_mock/requests")).json()
    writes = (await http.get("/_mock/requests", params={"write": "true"})).json()
    echoes = (await http.get("/_mock/requests", params={"operation": "echo"})).json()
    cleared = await http.delete("/_mock/requests")
    after = (await http.get("/_mock/requests")).json()

    assert [
        (r["operation"], r["method"], r["path"], r["write"], r["status"]) for r in everything
    ] == [
        ("get_item", "GET", "/items/a", False, 200),
        ("put_item", "PUT", "/items/b", True, 200),
        ("echo", "POST", "/rpc", False, 200),
    ]
    assert [r["path"] for r in writes] == ["/items/b"]
    assert writes[0]["body"] == '{"value":2}'
    assert [r["body"] for r in echoes] == ['{"op":"echo","text":"hi"}']
    assert cleared.status_code == 200 and after == []


async def test_info_lists_the_routes(http: httpx.AsyncClient) -> None:
    info = (await http.get("/_mock/")).json()
    assert info["platform"] == "toy"
    assert {"name": "add", "method": "POST", "path": "/rpc", "operation": "add", "write": True} in (
        info["routes"]
    )


async def test_unknown_control_operation_is_an_error(http: httpx.AsyncClient) -> None:
    unknown = await http.post("/_mock/explode")
    wrong_method = await http.delete("/_mock/state")
    assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownControl"
    assert wrong_method.status_code == 404


async def test_the_real_clock_cannot_be_moved(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://t.test") as http:
        response = await http.post("/_mock/clock", json={"advance": 5})
    assert response.status_code == 409


async def test_clock_advance_is_validated(http: httpx.AsyncClient) -> None:
    bad = await http.post("/_mock/clock", json={"advance": -1})
    good = await http.post("/_mock/clock", json={"advance": 2.5})
    assert bad.status_code == 400
    assert good.json() == {"now": 2.5}
