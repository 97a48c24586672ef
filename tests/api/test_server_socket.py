"""The API's listening socket: accepted connections send small answers at once.

Nagle's algorithm on an accepted connection holds the second write of an answer (uvicorn
writes head and body apart) until the client's delayed ACK, about 40 ms a request on a
kept-alive connection. asyncio turns it off (``TCP_NODELAY``) only on sockets created as
TCP, so the test reads the option on a connection the real server accepted.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from mailadmin.api.server import _bind, _Server


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_accepted_api_connections_have_tcp_nodelay() -> None:
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    ready = threading.Event()
    config = uvicorn.Config(_hello, access_log=False, log_level="warning", lifespan="off")
    server = _Server(config, announce=ready.set)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert ready.wait(20)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
            # The server's side of this connection, as uvicorn holds it.
            transports = [c.transport for c in server.server_state.connections]
            assert len(transports) == 1
            accepted = transports[0].get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.should_exit = True
        deadline = time.monotonic() + 20
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.1)
        sock.close()
