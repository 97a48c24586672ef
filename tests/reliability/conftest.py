"""Shared pieces of the reliability tests: a raw loopback HTTP server and the tallies
whose summary lines end the run, in this order::

    faults: N scenarios, N passed
    load: N ops, N applied, N failed-reported, 0 lost, 0 duplicated
    load: two writers on one mailbox: N ops on N mailboxes, ..., resume settled N (N superseded), 0 lost, 0 left open
    load: two writer processes: sqlite: N ops on N mailboxes in N processes, ..., 0 lost, 0 left open; postgresql: ...
    hostile: N inputs, N refused within limits; N write answers, N never recorded changed
      (write answers: every write of every platform, and one through the CLI and HTTP)
    isolation: N calls tried, N refused before sending (N over HTTP)
    outage: worker: N s database cut, run of N finished, N journal rows, 0 duplicated, ...; cli: ...

A line is printed when its test ran (a run of one file prints only its own)."""

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
    #: Hostile answers to writes, and those never recorded ``changed`` (platform unchanged).
    write_answers: int = 0
    write_answers_kept: int = 0

    def line(self) -> str:
        line = f"hostile: {self.inputs} inputs, {self.refused} refused within limits"
        if self.write_answers:
            line += (
                f"; {self.write_answers} write answers, {self.write_answers_kept} "
                "never recorded changed"
            )
        return line


_TALLY = Tally()


@pytest.fixture(scope="session")
def hostile_tally() -> Tally:
    """The run's tally of hostile inputs; printed at the end of the run."""
    return _TALLY


@dataclass
class Summary:
    """The other summary lines, set by the test that measured them (``faults``, ``load``,
    ``isolation``); extra lines (what was skipped and why) follow their own."""

    lines: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def set(self, name: str, line: str) -> None:
        self.lines[name] = line

    def note(self, name: str, line: str) -> None:
        self.notes.setdefault(name, []).append(line)


_SUMMARY = Summary()


@pytest.fixture(scope="session")
def summary() -> Summary:
    """Where the fault matrix, load and isolation tests leave their summary lines."""
    return _SUMMARY


def summary_lines() -> list[str]:
    """Every summary line of the run so far, in the fixed order."""
    lines: list[str] = []
    for name in ("faults", "load", "hostile", "isolation", "outage"):
        if name == "hostile":
            if _TALLY.inputs:
                lines.append(_TALLY.line())
            continue
        if name in _SUMMARY.lines:
            lines.append(_SUMMARY.lines[name])
        lines.extend(_SUMMARY.notes.get(name, []))
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in summary_lines():
        terminalreporter.write_line(line)


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
