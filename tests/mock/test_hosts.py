"""Several hosts per mock: routes match the host as well as the path, on every front door.

The toy platform has three hosts, as Exchange does: a token host, an admin API and Graph.
The admin API and Graph both answer ``GET /v1.0/items``, each from its own handler.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.mock import MockPlatform, MockRequest, MockServer, MockState, Route
from mailadmin.mock import oauth as mock_oauth
from mailadmin.mock.request import MalformedRequest
from mailadmin.wire.auth import ClientCredentialsAuth
from mailadmin.wire.transport import Transport

API = "https://api.example.test/v1.0"
GRAPH = "https://graph.example.test/v1.0"
LOGIN = "https://login.example.test"


class HostsState(MockState):
    oauth: mock_oauth.TokenIssuer

    def reset(self) -> None:
        super().reset()
        self.oauth = mock_oauth.TokenIssuer(
            {"mock-client": "secret"}, clock=self.clock, lifetime=600, tenants={"contoso"}
        )


def api_items(request: MockRequest, state: HostsState) -> httpx.Response:
    state.oauth.check(request, scope="https://api.example.test/.default")
    return httpx.Response(200, json={"from": "api", "host": request.host})


def graph_items(request: MockRequest, state: HostsState) -> httpx.Response:
    state.oauth.check(request, scope="https://graph.example.test/.default")
    return httpx.Response(200, json={"from": "graph", "host": request.host})


def anywhere(request: MockRequest, state: HostsState) -> httpx.Response:
    return httpx.Response(200, json={"host_key": request.host_key})


class HostsMock(MockPlatform):
    name = "hosts"
    state_class = HostsState
    hosts = {
        "login.example.test": "login",
        "api.example.test": "api",
        "graph.example.test": "graph",
    }
    routes = (
        mock_oauth.token_route(lambda state: state.oauth, host="login"),
        Route("GET", "/v1.0/items", api_items, host="api", name="api_items"),
        Route("GET", "/v1.0/items", graph_items, host="graph", name="graph_items"),
        Route("GET", "/ping", anywhere),
    )


def make_transport(
    http: Any, *, api: str = API, graph: str = GRAPH, login: str = LOGIN
) -> Transport:
    """A transport with one token per API, as an Exchange provider has."""
    transport = Transport(
        api, name="hosts", backend=http, endpoints={"graph": graph, "login": login}
    )
    scopes = {
        "graph": "https://graph.example.test/.default",
        None: "https://api.example.test/.default",
    }
    for endpoint, scope in scopes.items():
        auth = ClientCredentialsAuth(
            "/contoso/oauth2/v2.0/token", "mock-client", "secret", scope, endpoint="login"
        )
        transport.set_auth(auth, endpoint=endpoint)
    return transport


@pytest.fixture(params=["transport", "router"])
def front_door(request: pytest.FixtureRequest) -> tuple[MockServer, Any]:
    server = MockServer(HostsMock)
    http = server.transport() if request.param == "transport" else server.router()
    return server, http


async def test_two_hosts_with_the_same_path_reach_their_own_handlers(
    front_door: tuple[MockServer, Any],
) -> None:
    server, http = front_door
    transport = make_transport(http)

    api = await transport.request("GET", "items", write=False)
    graph = await transport.request("GET", "items", endpoint="graph", write=False)

    assert api.json() == {"from": "api", "host": "api.example.test"}
    assert graph.json() == {"from": "graph", "host": "graph.example.test"}
    assert [r.route for r in server.requests] == [
        "oauth2_token",
        "api_items",
        "oauth2_token",
        "graph_items",
    ]
    assert server.state.oauth.issued == 2


async def test_a_route_without_a_host_answers_on_every_host(
    front_door: tuple[MockServer, Any],
) -> None:
    _server, http = front_door
    async with httpx.AsyncClient(transport=http) as client:
        on_api = await client.get("https://api.example.test/ping")
        on_graph = await client.get("https://graph.example.test/ping")
        on_other = await client.get(f"{HostsMock.base_url}/ping")
    assert on_api.json() == {"host_key": "api"}
    assert on_graph.json() == {"host_key": "graph"}
    assert on_other.json() == {"host_key": None}


async def test_a_path_of_one_host_is_unknown_on_another() -> None:
    server = MockServer(HostsMock)
    async with httpx.AsyncClient(transport=server.transport()) as client:
        response = await client.post("https://api.example.test/contoso/oauth2/v2.0/token")
    assert response.status_code == 404
    assert server.requests[-1].route is None


async def test_the_router_refuses_hosts_it_does_not_serve() -> None:
    import respx

    router = MockServer(HostsMock).router()
    async with httpx.AsyncClient(transport=router) as client:
        with pytest.raises(respx.models.AllMockedAssertionError):
            await client.get("https://elsewhere.example.test/v1.0/items")
    assert router["graph_items"].call_count == 0


async def test_on_loopback_every_host_is_served_on_path_alone() -> None:
    from mailadmin.mock import serve

    server = MockServer(HostsMock)
    with serve(server) as url:
        transport = make_transport("httpx", api=f"{url}/v1.0", graph=f"{url}/v1.0", login=url)
        ping = await transport.request("GET", f"{url}/ping", write=False)
        # The same path on two hosts: on loopback the route declared first answers, and its
        # scope check turns the graph-scoped token away (twice: renewed once, then refused).
        with pytest.raises(errors.AuthenticationError):
            await transport.request("GET", "items", endpoint="graph", write=False)
        answered = server.requests[-1].route
        # A client that names the real host (a proxy, a Host header) is routed by it; an
        # absolute URL still takes the credentials of the endpoint it names.
        by_host = await transport.request(
            "GET",
            f"{url}/v1.0/items",
            endpoint="graph",
            headers={"Host": "graph.example.test"},
            write=False,
        )
        await transport.aclose()

    assert ping.json() == {"host_key": None}
    assert answered == "api_items"
    assert by_host.json() == {"from": "graph", "host": "graph.example.test"}


def test_a_route_naming_an_unmapped_host_is_refused() -> None:
    class Broken(MockPlatform):
        name = "broken"
        routes = (Route("GET", "/x", anywhere, host="grpah"),)

    with pytest.raises(ValueError, match="names the host 'grpah'"):
        MockServer(Broken)


def test_a_request_body_is_parsed_once() -> None:
    request = MockRequest("POST", "/", body=b'{"a": [1, 2]}')
    assert request.json() is request.json()
    xml = MockRequest("POST", "/", body=b"<a><b/></a>")
    assert xml.xml() is xml.xml()
    broken = MockRequest("POST", "/", body=b"{nope")
    for _ in range(2):
        with pytest.raises(MalformedRequest):
            broken.json()


def test_an_unknown_endpoint_name_is_a_configuration_error() -> None:
    transport = make_transport(MockServer(HostsMock).transport())
    with pytest.raises(errors.ConfigurationError, match="no endpoint named 'grpah'"):
        transport.set_auth(None, endpoint="grpah")
