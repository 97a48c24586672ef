"""Serve a mock on loopback: a background server for tests, or the blocking CLI form.

::

    with serve(MemoryMock) as url:              # or serve("memory"), serve(server)
        ...                                      # url == "http://127.0.0.1:54321"

    serve_forever("memory", port=8080)          # prints "listening on http://127.0.0.1:8080"

Both bind ``127.0.0.1`` unless told otherwise; ``port=0`` picks a free port. A platform
reached on several hosts (:attr:`MockPlatform.hosts`) is served on this one address: the
loopback host is not one of its hosts, so routes match on path alone (a request carrying a
real host name in ``Host`` is still routed by it). Point every endpoint of the client at
the printed URL.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import uvicorn

from mailadmin import errors
from mailadmin.mock.asgi import quiet_dropped_connections
from mailadmin.mock.platform import MockPlatform
from mailadmin.mock.server import MockServer, Seed

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["serve", "serve_forever"]

_START_TIMEOUT = 15.0

Target = str | type[MockPlatform] | MockPlatform | MockServer


@contextlib.contextmanager
def serve(
    target: Target, *, host: str = "127.0.0.1", port: int = 0, seed: Seed | None = None
) -> Iterator[str]:
    """Run a mock on a background thread; yield its base URL; stop it on exit.

    ``target``: a platform name (looked up in the registry), a platform class or instance,
    or a :class:`MockServer` (keep it to inspect its state in process); ``seed``: applied
    over the defaults as the start state.
    """
    server = _server(target, seed)
    sock = _bind(host, port)
    runner = _Uvicorn(_config(server, host))
    thread = threading.Thread(
        target=runner.run, kwargs={"sockets": [sock]}, name=f"mock-{server.name}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not runner.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise errors.Unavailable(f"The {server.name} mock server did not start")
            time.sleep(0.005)
        yield _url(host, sock.getsockname()[1])
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve_forever(
    target: Target,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: Seed | None = None,
    out: IO[str] | None = None,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM.

    Once ready, prints exactly one line, ``listening on http://HOST:PORT``, to ``out``
    (default stdout) and flushes it.
    """
    server = _server(target, seed)
    sock = _bind(host, port)
    line = f"listening on {_url(host, sock.getsockname()[1])}"
    stream = out if out is not None else sys.stdout
    runner = _Uvicorn(_config(server, host), announce=lambda: print(line, file=stream, flush=True))
    try:
        runner.run(sockets=[sock])
    finally:
        sock.close()


class _Uvicorn(uvicorn.Server):
    """uvicorn that announces readiness and stops quietly on a signal."""

    def __init__(self, config: uvicorn.Config, announce: Any = None) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._announce is not None:
            self._announce()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Stop without re-raising the signal afterwards: stopping is the normal end.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def _server(target: Target, seed: Seed | None) -> MockServer:
    if isinstance(target, MockServer):
        if seed is not None:
            target.seed(seed)
        return target
    if isinstance(target, str):
        from mailadmin.mock.lookup import load_platform

        target = load_platform(target)
    return MockServer(target, seed=seed)


def _config(server: MockServer, host: str) -> uvicorn.Config:
    config = uvicorn.Config(
        server.asgi(),
        host=host,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    quiet_dropped_connections()
    return config


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # The protocol must be named: asyncio turns Nagle off (TCP_NODELAY) only on sockets
    # whose proto is TCP, and with Nagle plus delayed ACKs every reply waits ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise errors.ConfigurationError(
            f"Cannot listen on {host}:{port}", debug={"exception": repr(exc)}
        ) from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
