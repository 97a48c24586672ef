"""Serving a mock on loopback: background thread for tests, foreground for the CLI."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.mock import MockPlatform, MockServer, serve

_FOREGROUND = textwrap.dedent(
    """
    from mailadmin.mock import MockPlatform, serve_forever

    class Empty(MockPlatform):
        name = "empty"

    serve_forever(Empty, port=0)
    print("stopped cleanly", flush=True)
    """
)


def test_serve_binds_loopback_on_a_free_port(toy: type[MockPlatform]) -> None:
    with serve(toy) as url, httpx.Client(base_url=url) as http:
        response = http.get("/items/a")
        info = http.get("/_mock/").json()
    host, port = url.removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert response.json() == {"name": "a", "value": 1}
    assert info["platform"] == "toy"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/items/a")  # stopped with the block


def test_serve_a_chosen_port_and_seed(toy: type[MockPlatform]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serve(toy, port=port, seed={"items": {"seeded": 3}}) as url:
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/items").json() == {"items": {"seeded": 3}}


def test_serving_a_server_keeps_its_state_inspectable(toy: type[MockPlatform]) -> None:
    server = MockServer(toy)
    with serve(server) as url:
        httpx.put(url + "/items/a", json={"value": 5})
    assert server.snapshot()["items"] == {"a": 5}
    assert [r.operation for r in server.requests] == ["put_item"]


def test_a_busy_port_is_a_clear_error(toy: type[MockPlatform]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = pytest.raises(errors.ConfigurationError, match=f"Cannot listen on 127.0.0.1:{port}")
        with busy, serve(toy, port=port):
            pass


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_foreground_serve_prints_one_line_and_stops_on_a_signal(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _FOREGROUND],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ").strip()
        answer = httpx.get(url + "/anything")
        process.send_signal(stop)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answer.status_code == 404
    assert answer.json()["error"] == "UnknownOperation"
    assert process.returncode == 0, err
    assert out == "stopped cleanly\n"  # nothing else was printed on stdout
