"""The mock server: one state per server, one dispatch, two front doors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from mailadmin.contract import errors
from mailadmin.mock import MockPlatform, MockServer, MockState, Route, serve


async def test_a_server_answers_in_process_and_records_what_it_received(
    toy: type[MockPlatform],
) -> None:
    server = MockServer(toy)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://toy.test") as http:
        put = await http.put("/items/b", json={"value": 7})
        got = await http.get("/items/b")

    assert put.status_code == 200
    assert got.json() == {"name": "b", "value": 7}
    assert server.snapshot()["items"] == {"a": 1, "b": 7}
    assert [(r.operation, r.method, r.path, r.write, r.status) for r in server.requests] == [
        ("put_item", "PUT", "/items/b", True, 200),
        ("get_item", "GET", "/items/b", False, 200),
    ]
    assert server.requests[0].json() == {"value": 7}
    assert [r.path for r in server.writes()] == ["/items/b"]


async def _script(http: httpx.AsyncClient) -> list[tuple[int, str, Any]]:
    """The same requests for every front door; answers as (status, content type, body)."""
    calls = [
        http.get("/items"),
        http.get("/items/a"),
        http.get("/items/missing"),
        http.put("/items/c", json={"value": 3}),
        http.put("/items/c", content=b"{not json"),
        http.post("/rpc", json={"op": "add", "name": "a", "by": 2}),
        http.post("/rpc", json={"op": "echo", "text": "hi"}),
        http.post("/rpc", json={"op": "format_disk"}),
        http.delete("/items/a"),
        http.get("/nowhere"),
        http.get("/crash"),
        http.get("/_mock/state"),
    ]
    answers = []
    for call in calls:
        response = await call
        answers.append(
            (response.status_code, response.headers.get("content-type", ""), response.json())
        )
    return answers


async def test_both_front_doors_give_identical_answers(toy: type[MockPlatform]) -> None:
    in_process = MockServer(toy)
    async with httpx.AsyncClient(
        transport=in_process.transport(), base_url="http://toy.test"
    ) as http:
        via_transport = await _script(http)
    routed = MockServer(toy)
    async with httpx.AsyncClient(transport=routed.router(), base_url="http://toy.test") as http:
        via_router = await _script(http)
    served = MockServer(toy)
    with serve(served) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            via_loopback = await _script(http)

    assert via_transport == via_router == via_loopback
    assert [status for status, _, _ in via_transport] == [
        200, 200, 404, 200, 400, 200, 200, 400, 400, 400, 500, 200,
    ]  # fmt: skip
    assert in_process.snapshot() == routed.snapshot() == served.snapshot()
    recorded = [(r.operation, r.status, r.write) for r in in_process.requests]
    assert recorded == [(r.operation, r.status, r.write) for r in served.requests]
    assert recorded == [(r.operation, r.status, r.write) for r in routed.requests]


async def test_router_routes_are_named_after_the_platform_routes(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    router = server.router()
    async with httpx.AsyncClient(transport=router, base_url="http://toy.test") as http:
        await http.post("/rpc", json={"op": "echo", "text": "x"})
        await http.post("/rpc", json={"op": "echo", "text": "y"})
        await http.post("/rpc", json={"op": "add", "name": "a", "by": 1})
        await http.post("/rpc", json={"op": "unheard_of"})
        await http.get("/_mock/state")

    assert router["echo"].call_count == 2
    assert router["add"].call_count == 1
    assert router["put_item"].call_count == 0
    assert router["_unknown"].call_count == 1
    assert router["_mock"].call_count == 1
    assert not router["put_item"].called


async def test_router_as_a_respx_mock_intercepts_every_client(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    with server.router("http://toy.test") as router:
        async with httpx.AsyncClient() as http:
            response = await http.get("http://toy.test/items/a")
            with pytest.raises(respx.models.AllMockedAssertionError):
                await http.get("http://elsewhere.test/items/a")
        assert router["get_item"].call_count == 1
    assert response.json() == {"name": "a", "value": 1}


async def test_router_base_url_with_a_path_prefix(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    router = server.router("http://toy.test:8080/api")
    async with httpx.AsyncClient(transport=router) as http:
        ok = await http.get("http://toy.test:8080/api/items/a")
        outside = await http.get("http://toy.test:8080/items/a")
    assert ok.json() == {"name": "a", "value": 1}
    assert outside.json()["fault"] == "NoSuchOperation"
    assert router["get_item"].call_count == 1


async def test_unknown_route_or_operation_fails_loudly_in_the_platform_format(
    client: httpx.AsyncClient, server: MockServer
) -> None:
    unknown_path = await client.get("/no/such/thing")
    unknown_op = await client.post("/rpc", json={"op": "format_disk"})
    wrong_method = await client.delete("/items/a")
    unreadable = await client.post("/rpc", content=b"<xml/>")

    assert unknown_path.status_code == 400
    assert unknown_path.json() == {"fault": "NoSuchOperation", "operation": "GET /no/such/thing"}
    assert unknown_op.json() == {"fault": "NoSuchOperation", "operation": "format_disk"}
    assert wrong_method.json()["operation"] == "DELETE /items/a"
    assert unreadable.status_code == 400
    assert [r.known for r in server.requests] == [False, False, False, False]
    assert [r.operation for r in server.requests] == [None, "format_disk", None, None]


async def test_default_unknown_answer_is_a_404_naming_the_operation() -> None:
    class Bare(MockPlatform):
        name = "bare"

    server = MockServer(Bare)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://x.test") as http:
        response = await http.get("/anything")
    assert response.status_code == 404
    assert response.json()["error"] == "UnknownOperation"
    assert "GET /anything" in response.json()["message"]


async def test_handler_failures_and_unreadable_bodies_answer_clearly(
    client: httpx.AsyncClient,
) -> None:
    crash = await client.get("/crash")
    bad_body = await client.put("/items/a", content=b"{oops")
    missing = await client.get("/items/zzz")

    assert crash.status_code == 500
    assert crash.json() == {"error": "MockHandlerFailed", "message": "RuntimeError: boom"}
    assert bad_body.status_code == 400
    assert bad_body.json()["error"] == "MalformedRequest"
    assert missing.status_code == 404
    assert missing.json() == {"fault": "NoSuchItem", "item": "zzz"}


async def test_path_parameters_are_decoded(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://toy.test") as http:
        await http.put("/items/anna%40example.com", json={"value": 2})
    assert server.snapshot()["items"]["anna@example.com"] == 2


async def test_two_servers_never_share_state(toy: type[MockPlatform]) -> None:
    first, second = MockServer(toy), MockServer(toy)
    async with httpx.AsyncClient(transport=first.transport(), base_url="http://toy.test") as http:
        await http.put("/items/only-here", json={"value": 1})
    with serve(second) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/items/only-here")).status_code == 404
            await http.put("/items/a", json={"value": 99})

    assert first.snapshot()["items"] == {"a": 1, "only-here": 1}
    assert second.snapshot()["items"] == {"a": 99}
    assert len(first.requests) == 1
    assert len(second.requests) == 2
    assert first.state is not second.state


def test_seed_from_a_dict_json_file_and_toml_file(toy: type[MockPlatform], tmp_path: Path) -> None:
    as_json = tmp_path / "seed.json"
    as_json.write_text(json.dumps({"items": {"x": 5}}))
    as_toml = tmp_path / "seed.toml"
    as_toml.write_text("[items]\ny = 6\n")

    assert MockServer(toy, seed={"items": {"w": 4}}).snapshot()["items"] == {"w": 4}
    assert MockServer(toy, seed=as_json).snapshot()["items"] == {"x": 5}
    assert MockServer(toy, seed=str(as_toml)).snapshot()["items"] == {"y": 6}


def test_bad_seed_files_give_clear_errors(toy: type[MockPlatform], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(errors.ConfigurationError, match="not valid JSON"):
        MockServer(toy, seed=broken)
    with pytest.raises(errors.ConfigurationError, match="Cannot read"):
        MockServer(toy, seed=tmp_path / "absent.toml")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(errors.ConfigurationError, match="must hold an object"):
        MockServer(toy, seed=listed)


async def test_reset_returns_to_the_start_seed_and_forgets_requests_and_faults(
    toy: type[MockPlatform],
) -> None:
    server = MockServer(toy, seed={"items": {"s": 1}})
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://toy.test") as http:
        await http.put("/items/s", json={"value": 50})
    server.inject({"kind": "status", "status": 503})
    server.reset()
    assert server.snapshot()["items"] == {"s": 1}
    assert server.requests == []
    assert server.faults == []


def test_route_names_must_be_unique_and_not_reserved() -> None:
    def handler(request: Any, state: Any) -> httpx.Response:
        return httpx.Response(200)

    class Twice(MockPlatform):
        name = "twice"
        routes = (Route("GET", "/a", handler, name="x"), Route("GET", "/b", handler, name="x"))

    class Reserved(MockPlatform):
        name = "reserved"
        routes = (Route("GET", "/a", handler, name="_mock"),)

    with pytest.raises(ValueError, match="named 'x'"):
        MockServer(Twice)
    with pytest.raises(ValueError, match="reserved"):
        MockServer(Reserved)
    with pytest.raises(ValueError, match="must start with '/'"):
        Route("GET", "a", handler)


def test_route_templates() -> None:
    def handler(request: Any, state: Any) -> httpx.Response:
        return httpx.Response(200)

    route = Route("get", "/t/{tenant}/files/{rest:path}", handler)
    assert route.method == "GET"
    assert route.name == "GET /t/{tenant}/files/{rest:path}"
    assert route.match("GET", "/t/acme/files/a/b.txt") == {"tenant": "acme", "rest": "a/b.txt"}
    assert route.match("POST", "/t/acme/files/a") is None
    assert route.match("GET", "/t/acme/x/files/a") is None
    assert Route("POST", "/rpc", handler, operation="add").name == "add"


def test_base_state_takes_no_seed() -> None:
    class Stateless(MockPlatform):
        name = "stateless"
        state_class = MockState

    server = MockServer(Stateless)
    assert server.snapshot() == {"operations": []}
    with pytest.raises(ValueError, match="takes no seed"):
        server.seed({"anything": 1})
