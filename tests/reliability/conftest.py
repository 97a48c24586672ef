"""Shared pieces of the reliability tests: a raw loopback HTTP server and the tallies
whose summary lines end the run (``hostile: N inputs, N refused within limits``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Tally:
    """Hostile inputs fed to a parser, and how many were refused within the limits."""

    inputs: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"hostile: {self.inputs} inputs, {self.refused} refused within limits"


_TALLY = Tally()


@pytest.fixture(scope="session")
def hostile_tally() -> Tally:
    """The run's tally of hostile inputs; printed at the end of the run."""
    return _TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TALLY.inputs:
        terminalreporter.write_line(_TALLY.line())


#: ``handler(reader, writer)``: writes a raw HTTP answer after the request was read.
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` on a loopback port; yields the base URL."""

    running: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        try:
            await _read_request(reader)
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in running:  # a handler still dripping bytes stops here
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))


@pytest.fixture
def loopback() -> Callable[[Handler], Any]:
    """``async with loopback(handler) as url``: a raw HTTP server on 127.0.0.1."""
    return raw_server
