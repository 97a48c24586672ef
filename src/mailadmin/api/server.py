"""Run the API under uvicorn, announcing ``listening on http://HOST:PORT`` once ready."""

from __future__ import annotations

import logging
import signal
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import uvicorn

from mailadmin.api.app import DEFAULT_RETENTION, create_app
from mailadmin.contract import errors

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["serve_forever"]


def serve_forever(
    config: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    retention: timedelta = DEFAULT_RETENTION,
    out: IO[str] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; ``port=0`` picks a free port."""
    _log_requests()
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    line = f"listening on http://{shown}:{bound}"
    stream = out if out is not None else sys.stdout
    app = create_app(config, retention=retention)
    # uvicorn's own access log is off: the API logs each request with its id and identity.
    settings = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on")
    server = _Server(settings, announce=lambda: print(line, file=stream, flush=True))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise errors.ConfigurationError("The HTTP API did not start; see the messages above")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, announce: Any) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._announce()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A second Ctrl-C stops at once; the first lets requests and runs wind down.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Said to be TCP: asyncio sets TCP_NODELAY only on accepted sockets whose protocol is
    # IPPROTO_TCP. Without it, Nagle's algorithm held each answer's second write (uvicorn
    # sends head and body apart) until the client's delayed ACK: about 44 ms per request
    # on a kept-alive connection. Set on the listener too; Linux copies it to accepted ones.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise errors.ConfigurationError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _log_requests() -> None:
    logger = logging.getLogger("mailadmin.api")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
