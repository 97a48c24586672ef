"""Client cost of one provider call through the core, per HTTP transport.

    python benchmarks/transports.py [--calls N] [--concurrency 32] [--runs 3] [--transports ...]

Against a mock server on loopback in another process (uvicorn), for each HTTP transport
("httpx", "aiohttp") and two paths:

* ``core``: a provider's public ``count_mailboxes`` going Provider -> Transport -> httpx ->
  HTTP transport, parsed into a ``MailboxCount``;
* ``bare``: the same GET and JSON decoding on a bare ``httpx.AsyncClient``, for comparison;

it measures client CPU per call (``time.process_time`` over ``--calls`` sequential calls;
the server's CPU is in the other process and not counted) and throughput (``--calls``
calls spread over ``--concurrency`` concurrent workers, calls per second of wall time,
with the client CPU per call of that run). The two paths run in alternating blocks of
calls on the same event loop, so both see the same machine conditions.

``--target reference`` (the default when installed) measures the reference provider
``memory`` (``mailadmin.reference``) against its mock served by ``mailadmin.mock.serve``;
``--target minimal`` measures ``BenchProvider``, defined here, calling one JSON endpoint of
a small ASGI app (``--serve`` runs that app). The script starts the server itself."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mailadmin.contract import errors
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    TenantRef,
)
from mailadmin.contract.provider import Provider
from mailadmin.wire.transport import Backend, raise_for_status

TRANSPORTS: tuple[Backend, ...] = ("httpx", "aiohttp")
WARM_UP = 50
_BLOCK = 100  # calls per timed block; the paths alternate block by block
_START_TIMEOUT = 20.0

_SERVE_MEMORY = "from mailadmin.mock.serve import serve_forever; serve_forever('memory')"


@dataclass(frozen=True)
class Target:
    """What is measured: a provider, the mock it talks to, and the bare equivalent call.

    ``server``: the command that serves the mock on loopback and prints ``listening on
    URL``; ``bare_path``: the GET a bare client sends for one ``count_mailboxes``;
    ``bare_auth``: its basic-auth pair, if any.
    """

    name: str
    description: str
    server: tuple[str, ...]
    provider: Callable[[dict[str, Any]], Provider]
    bare_path: str
    bare_auth: tuple[str, str] | None


def _targets() -> dict[str, Target]:
    targets = {
        "minimal": Target(
            name="minimal",
            description="BenchProvider (defined here): one GET of a small ASGI app",
            server=(sys.executable, __file__, "--serve"),
            provider=lambda settings: BenchProvider(settings),
            bare_path="/tenants/example.com/count",
            bare_auth=None,
        )
    }
    try:
        from mailadmin.reference.provider import MemoryProvider
    except ImportError:  # the reference provider is not part of this checkout
        return targets
    targets["reference"] = Target(
        name="reference",
        description="the reference provider 'memory' against its mock (mailadmin.mock.serve)",
        server=(sys.executable, "-c", _SERVE_MEMORY),
        provider=lambda settings: MemoryProvider(settings),
        bare_path="/api/tenants/example.com/mailboxes",
        bare_auth=("admin", "secret"),
    )
    return targets


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# -- the provider under test -----------------------------------------------------------------


class BenchProvider(Provider):
    """The smallest real provider: ``count_mailboxes`` is one GET and one JSON answer."""

    name = "bench"
    platform = "Benchmark"

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        response = await self.http.request(
            "GET", f"/tenants/{tenant.key}/count", write=False, operation="count_mailboxes"
        )
        raise_for_status(response, provider=self.instance)
        body = response.json()
        return MailboxCount(
            tenant=tenant.name,
            by_kind={MailboxKind(kind): n for kind, n in body["by_kind"].items()},
            by_plan=body["by_plan"],
        )

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        raise errors.UnsupportedOperation("set_plan", self.instance)

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        raise errors.UnsupportedOperation("apply_addon", self.instance)

    async def _get_licence(self) -> Licence:
        raise errors.UnsupportedOperation("get_licence", self.instance)

    async def _test_connection(self) -> ConnectionStatus:
        return ConnectionStatus(ok=True, platform=self.platform)

    async def _list_plans(self) -> list[NativePlan]:
        return []


# -- the mock server (runs in a subprocess) --------------------------------------------------

_COUNT = json.dumps(
    {"by_kind": {"user": 42, "shared": 3, "room": 2, "equipment": 1}, "by_plan": {"sync": 42}}
).encode()


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """A JSON endpoint answering every ``GET /tenants/<name>/count`` with fixed counts."""
    if scope["type"] != "http":
        return
    found = scope["method"] == "GET" and scope["path"].endswith("/count")
    body = _COUNT if found else b'{"error": "not found"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200 if found else 404,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _serve() -> None:
    import uvicorn

    # IPPROTO_TCP, not the default 0: asyncio switches Nagle's algorithm off only for
    # sockets that say they are TCP, and uvicorn writes a response's head and body apart,
    # so with Nagle on every answer waits for the client's delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # connections made before uvicorn runs wait in the backlog
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        _app, log_level="warning", access_log=False, lifespan="off", backlog=1024
    )
    server = uvicorn.Server(config)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    server.run(sockets=[sock])


@contextmanager
def _server_process(command: tuple[str, ...]) -> Iterator[str]:
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + _START_TIMEOUT
        line = process.stdout.readline().strip()
        if not line.startswith("listening on ") or time.monotonic() > deadline:
            raise SystemExit(f"the mock server did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one path over one transport measured (times in microseconds per call)."""

    path: str
    transport: str
    cpu_us_sequential: float
    wall_us_sequential: float
    calls_per_s: float
    cpu_us_concurrent: float


Call = Callable[[], Awaitable[object]]


@dataclass
class _Tally:
    calls: int = 0
    cpu: float = 0.0
    wall: float = 0.0

    async def timed(self, n: int, work: Awaitable[object]) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        await work
        self.cpu += time.process_time() - cpu
        self.wall += time.perf_counter() - wall
        self.calls += n


async def _compare(paths: dict[str, Call], calls: int, concurrency: int) -> dict[str, _Tally]:
    """Time every path in alternating blocks, so all see the same machine conditions.

    Returns, per path, the sequential and the concurrent tallies (keys ``path`` and
    ``path@``).
    """
    for call in paths.values():
        for _ in range(WARM_UP):
            await call()
        # Open the whole pool first so the concurrent blocks measure steady state.
        await asyncio.gather(*(call() for _ in range(concurrency)))

    tallies = {key: _Tally() for name in paths for key in (name, f"{name}@")}
    sequential_block = min(calls, _BLOCK)
    concurrent_block = min(calls, max(_BLOCK, 4 * concurrency))

    async def in_sequence(call: Call, n: int) -> None:
        for _ in range(n):
            await call()

    async def at_once(call: Call, n: int) -> None:
        share = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
        await asyncio.gather(*(in_sequence(call, k) for k in share if k))

    names = list(paths)
    for block, done in enumerate(range(0, calls, sequential_block)):
        n = min(sequential_block, calls - done)
        for name in names if block % 2 == 0 else names[::-1]:
            await tallies[name].timed(n, in_sequence(paths[name], n))
    for block, done in enumerate(range(0, calls, concurrent_block)):
        n = min(concurrent_block, calls - done)
        for name in names if block % 2 == 0 else names[::-1]:
            await tallies[f"{name}@"].timed(n, at_once(paths[name], n))
    return tallies


async def _measure(
    target: Target, url: str, transport: Backend, calls: int, concurrency: int
) -> list[Figures]:
    """Both paths over one HTTP transport.

    ``core``: a provider's public method, Provider -> Transport -> httpx -> HTTP transport.
    ``bare``: the same GET and JSON decoding on a bare httpx.AsyncClient over the same kind
    of HTTP transport, to show what the core adds.
    """
    import httpx
    from httpx_aiohttp import AiohttpTransport

    provider = target.provider(
        {"endpoint": url, "transport": transport, "max_connections": concurrency}
    )
    tenant = TenantRef(name="example.com")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    backend: httpx.AsyncBaseTransport = (
        AiohttpTransport(limits=limits)
        if transport == "aiohttp"
        else httpx.AsyncHTTPTransport(limits=limits)
    )
    async with provider, httpx.AsyncClient(base_url=url, transport=backend) as client:
        counted = await provider.count_mailboxes(tenant)
        assert counted.total > 0, counted  # the call works before it is timed
        auth = httpx.BasicAuth(*target.bare_auth) if target.bare_auth else None

        async def bare() -> object:
            response = await client.get(target.bare_path, auth=auth)
            response.raise_for_status()
            return response.json()

        tallies = await _compare(
            {"core": lambda: provider.count_mailboxes(tenant), "bare": bare}, calls, concurrency
        )
    return [
        Figures(
            path,
            transport,
            tallies[path].cpu / tallies[path].calls * 1e6,
            tallies[path].wall / tallies[path].calls * 1e6,
            tallies[f"{path}@"].calls / tallies[f"{path}@"].wall,
            tallies[f"{path}@"].cpu / tallies[f"{path}@"].calls * 1e6,
        )
        for path in ("core", "bare")
    ]


def _report(target: Target, rows: list[list[Figures]], calls: int, concurrency: int) -> None:
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {calls} calls per measurement, median of {len(rows)} run(s); "
        f"throughput with {concurrency} concurrent calls\n"
        f"target: {target.description}\n"
        "core = Provider.count_mailboxes -> Transport -> httpx.AsyncClient -> HTTP transport\n"
        f"bare = GET {target.bare_path} + JSON decode on a bare httpx.AsyncClient (no core)\n"
    )
    header = (
        f"{'path':<6}{'transport':<10}{'CPU/call seq':>14}{'wall/call seq':>15}"
        f"{'calls/s @' + str(concurrency):>14}{'CPU/call @' + str(concurrency):>15}"
    )
    print(header)
    print("-" * len(header))
    fields = ("cpu_us_sequential", "wall_us_sequential", "calls_per_s", "cpu_us_concurrent")
    for first in rows[0]:
        runs = [
            f for row in rows for f in row if (f.path, f.transport) == (first.path, first.transport)
        ]
        med = {name: statistics.median(getattr(f, name) for f in runs) for name in fields}
        print(
            f"{first.path:<6}{first.transport:<10}{med['cpu_us_sequential']:>11.0f} us"
            f"{med['wall_us_sequential']:>12.0f} us{med['calls_per_s']:>14.0f}"
            f"{med['cpu_us_concurrent']:>12.0f} us"
        )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, start the mock server, measure each transport, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=600, help="calls per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent calls")
    parser.add_argument("--runs", type=int, default=3, help="repeat; report the median")
    parser.add_argument(
        "--transports", default=",".join(TRANSPORTS), help="comma-separated transports"
    )
    targets = _targets()
    parser.add_argument(
        "--target",
        choices=sorted(targets),
        default="reference" if "reference" in targets else "minimal",
        help="the provider to call (default: the reference provider when installed)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve()
        return
    target = targets[args.target]
    names = {t.strip() for t in args.transports.split(",") if t.strip()}
    transports = [t for t in TRANSPORTS if t in names]
    if names - set(transports) or args.calls < 1 or args.concurrency < 1 or args.runs < 1:
        parser.error(f"transports are {', '.join(TRANSPORTS)}; numbers must be 1 or more")

    rows: list[list[Figures]] = []
    with _server_process(target.server) as url:
        for run in range(args.runs):
            # Alternate the order so neither transport always runs on a warmer machine.
            order = transports if run % 2 == 0 else transports[::-1]
            figures = {
                t: asyncio.run(_measure(target, url, t, args.calls, args.concurrency))
                for t in order
            }
            rows.append(
                [
                    f
                    for path in ("core", "bare")
                    for t in transports
                    for f in figures[t]
                    if f.path == path
                ]
            )
    _report(target, rows, args.calls, args.concurrency)


if __name__ == "__main__":
    main()
