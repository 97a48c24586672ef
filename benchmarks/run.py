"""The performance figures of issue 15, measured in one run.

    python benchmarks/run.py [--quick] [--json]

Servers run on loopback in subprocesses, so their CPU is not the client's:

* a **fixed-answer server** (defined here, a small asyncio HTTP/1.1 server) answers every
  request with the answer the real mock gave to a request of the same kind (method, path
  and SOAP operation), recorded in process first. Bulk, peer, overhead and count figures
  use it, so the mock is not what they measure;
* the plugin's **mock** at 10,000 mailboxes, for ``mock_rps``.

Every figure is a median over interleaved repeats (the two sides of a ratio alternate
round by round) and every comparison is a ratio of two figures of this run. ``--quick``
uses fewer items and repeats (the items are printed beside each figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PASS = (sys.executable, "-c", "pass")
_START_TIMEOUT = 60.0
#: The plan every peer and bare replay writes, and the one mailadmin writes: always apart,
#: so every mailadmin item is a real change whatever ran before it.
PEER_PLAN, OURS_PLAN = "mail", "sync"


@dataclass
class Sizes:
    """How much work each figure does."""

    peer_items: int
    bulk_items: int
    sequential_items: int
    count_small: int
    count_big: int
    rounds: int
    overhead_calls: int
    journal_items: int
    latency_items: int
    latency_seq: int
    concurrency: int = 16


QUICK = Sizes(100, 300, 50, 500, 5_000, 3, 30, 300, 200, 20)
FULL = Sizes(1_000, 10_000, 300, 10_000, 100_000, 3, 100, 2_000, 1_000, 60)
#: How long the slow fixed-answer server waits before each answer (a platform's own work;
#: real admin APIs answer in tens of milliseconds), for ``bulk_speedup_at_latency``.
LATENCY_MS = 10.0


# -- OX: configuration, seed and the peer's call -----------------------------------------------

OX_PLANS = {"mail": "pim", "sync": "pim_mobility", "collaborate": "groupware_premium"}


def ox_seed(n: int) -> dict[str, Any]:
    """Context 1 (example.com) with ``n`` users ``u0..`` on the Mail combination."""
    users = [
        {
            "id": 10 + i,
            "name": f"u{i}",
            "display_name": f"User {i}",
            "given_name": "User",
            "sur_name": str(i),
            "primaryEmail": f"u{i}@example.com",
            "email1": f"u{i}@example.com",
            "access_combination": "pim",
        }
        for i in range(n)
    ]
    return {"contexts": [{"id": 1, "name": "example.com", "maxQuota": 10**9, "users": users}]}


def ox_config(url: str, journal: str | None) -> dict[str, Any]:
    """An orchestrator configuration: one OX instance (context admin), example.com."""
    return {
        "journal": {"url": journal},
        "plans": {name: {} for name in OX_PLANS},
        "instances": {
            "ox": {
                "provider": "ox",
                "endpoint": url,
                "mode": "context_admin",
                "credentials": {"username": "oxadmin", "secret": "secret"},
                "plans": {p: {"access_combination": c} for p, c in OX_PLANS.items()},
            }
        },
        "tenants": {
            "example.com": {"instance": "ox", "native_id": "1", "domains": ["example.com"]}
        },
    }


def zextras_seed(n: int) -> dict[str, Any]:
    """``n`` accounts ``u0@example.com..`` on the Mail COS."""
    from mailadmin_zextras.mock.platform import ZextrasMock

    from mailadmin.mock import MockServer

    mail = MockServer(ZextrasMock).state.cos_by("name", "mail").id  # type: ignore[attr-defined]
    classes = ["inetOrgPerson", "zimbraAccount", "amavisAccount"]
    return {
        "accounts": [
            {
                "name": f"u{i}@example.com",
                "attrs": {
                    "zimbraMailDeliveryAddress": f"u{i}@example.com",
                    "objectClass": classes,
                    "zimbraCOSId": mail,
                    "displayName": f"User {i}",
                },
            }
            for i in range(n)
        ]
    }


def zextras_config(url: str, journal: str | None) -> dict[str, Any]:
    """One Zextras instance (the mock's admin), example.com."""
    return {
        "journal": {"url": journal},
        "plans": {name: {} for name in OX_PLANS},
        "instances": {
            "zextras": {
                "provider": "zextras",
                "endpoint": url,
                "credentials": {"username": "admin@example.com", "secret": "secret"},
                "plans": {p: {"cos": p} for p in OX_PLANS},
            }
        },
        "tenants": {"example.com": {"instance": "zextras", "domains": ["example.com"]}},
    }


CONTOSO = "contoso.onmicrosoft.com"
CONTOSO_ID = "6babcaad-604b-40ac-a9d7-9fd97c0b779f"


def exchange_seed(n: int) -> dict[str, Any]:
    """The default tenant with ``n`` filler user mailboxes."""
    return {"tenants": {CONTOSO_ID: {"filler_users": n}}}


def exchange_config(url: str, journal: str | None) -> dict[str, Any]:
    """One Exchange instance (the mock's app), quota plans, the default tenant."""
    from mailadmin_exchange.demo import sample_config

    instance = dict(sample_config()["instances"]["exchange"], endpoint=url)
    return {
        "journal": {"url": journal},
        "plans": {name: {} for name in OX_PLANS},
        "instances": {"exchange": instance},
        "tenants": {
            CONTOSO: {"instance": "exchange", "native_id": CONTOSO_ID, "domains": [CONTOSO]}
        },
    }


@dataclass(frozen=True)
class Platform:
    """A provider measured here: its mock's seed and an orchestrator configuration.

    ``served``: its requests replay as recorded against a served mock (no tokens or ids
    that differ per mock instance), so its rate over HTTP is measured too. ``listing``: a marker of the count request whose answer grows with the mailboxes
    (count figures are measured where there is one); ``ids``: the id the mock gave
    mailbox ``u<i>`` where requests name it by id (random per mock instance).
    """

    name: str
    seed: Callable[[int], dict[str, Any]]
    config: Callable[[str, str | None], dict[str, Any]]
    listing: bytes | None = None
    ids: Callable[[Any, int], str] | None = None
    tenant: str = "example.com"
    address: Callable[[int], str] = lambda i: f"u{i}@example.com"
    served: bool = False


PLATFORMS = {
    "ox": Platform("ox", ox_seed, ox_config, b"listAll", served=True),
    "zextras": Platform(
        "zextras",
        zextras_seed,
        zextras_config,
        ids=lambda server, i: server.state.account_by_name(f"u{i}@example.com").id,
    ),
    "exchange": Platform(
        "exchange",
        exchange_seed,
        exchange_config,
        tenant=CONTOSO,
        # the mock's filler users, user000001@... (stored only once written)
        address=lambda i: f"user{i + 1:06d}@{CONTOSO}",
    ),
}


# -- the fixed-answer server ---------------------------------------------------------------------

_OPERATION = re.compile(
    rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)"  # SOAP in XML
    rb'|"Body"\s*:\s*\{\s*"([\w.-]+)"'  # SOAP in JSON (Zimbra)
    rb'|"CmdletName"\s*:\s*"([\w.-]+)"'  # Exchange's InvokeCommand
)
_ADDRESS = re.compile(r"[^/?=]+@[^/?&]+")


_NAMED = re.compile(rb'"by"\s*:\s*"name"\s*,\s*"_content"\s*:\s*"([^"@]+)"')


def answer_key(method: str, target: str, body: bytes) -> str:
    """What the fixed-answer server looks an answer up by: method, path, SOAP operation."""
    path = target if method == "GET" else target.split("?", 1)[0]
    found = _OPERATION.search(body[:4096])
    operation = next(g for g in found.groups() if g).decode() if found else ""
    # Zimbra takes /service/admin/soap and /service/admin/soap/<Operation> alike.
    path = _ADDRESS.sub("{mailbox}", path.removesuffix(f"/{operation}") if operation else path)
    named = _NAMED.search(body[:4096])
    if named:  # a lookup by name (a COS, a domain): each name has its own answer
        operation += f" {named.group(1).decode()}"
    return f"{method} {path} {operation}"


class _FixedProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; each request answered from the table, or 404."""

    def __init__(self, table: dict[str, bytes], delay: float = 0.0) -> None:
        self.table = table
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            method, target = head[0].split(" ")[:2]
            key = answer_key(method, target, body)
            answer = self.table.get(key)
            if answer is None:
                print(f"fixed-answer server: no answer for {key}", file=sys.stderr)
            assert self.transport is not None
            answer = answer or b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
            if self.delay:  # a platform that takes this long to answer
                asyncio.get_running_loop().call_later(self.delay, self._send, answer)
            else:
                self.transport.write(answer)

    def _send(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)


def _serve_fixed(table_file: str, delay_ms: float = 0.0) -> None:
    raw = json.loads(Path(table_file).read_text())
    table = {}
    for key, (status, content_type, body) in raw.items():
        data = body.encode("utf-8")
        table[key] = (
            f"HTTP/1.1 {status} OK\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(data)}\r\n\r\n"
        ).encode() + data

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _FixedProtocol(table, delay_ms / 1000), "127.0.0.1", 0, backlog=1024
        )
        port = server.sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def _serve_mock(name: str, n: int) -> None:
    from mailadmin.mock.serve import serve_forever

    serve_forever(name, seed=PLATFORMS[name].seed(n))


@contextmanager
def server_process(*args: str) -> Iterator[str]:
    """Run ``run.py <args>`` (a server) and yield the URL it announces."""
    process = subprocess.Popen(
        [sys.executable, str(HERE), *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"server {args} did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# -- recording what the client sends -------------------------------------------------------------


@dataclass
class Sent:
    """One request as sent, and the answer it got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    content_type: str = ""
    answer: bytes = b""


def recorder(inner: Any, log: list[Sent]) -> Any:
    """An httpx transport that keeps every request and answer passing through ``inner``."""
    import httpx

    class Recorder(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            response = await inner.handle_async_request(request)
            answer = await response.aread()
            target = request.url.raw_path.decode()
            skip = {"host", "content-length", "connection", "accept-encoding", "user-agent"}
            headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
            log.append(
                Sent(
                    request.method,
                    target,
                    headers,
                    body,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    answer,
                )
            )
            return httpx.Response(
                response.status_code, headers=response.headers, content=answer, request=request
            )

        async def aclose(self) -> None:
            await inner.aclose()

    return Recorder()


async def record(
    platform: Platform, count_sizes: tuple[int, ...]
) -> tuple[list[Sent], dict[int, dict[str, Any]]]:
    """Two set_plans and a count against the in-process mock, recorded.

    Returns the second set_plan's requests (what each item costs once sessions and caches
    are warm; the template of bare replays) and, per count size, the fixed-answer table
    (with the listing answer holding that many mailboxes, where the count has one).
    """
    import httpx

    from mailadmin import Orchestrator
    from mailadmin.mock import MockServer
    from mailadmin.mock.lookup import load_platform

    mock = load_platform(platform.name)
    server = MockServer(mock, seed=platform.seed(3))
    log: list[Sent] = []
    http = {platform.name: recorder(server.transport(), log)}
    async with Orchestrator.from_dict(
        platform.config(mock.base_url, None), journal=False, http=http
    ) as orch:
        await orch.set_plan(platform.address(0), OURS_PLAN)
        first = len(log)
        await orch.set_plan(platform.address(1), OURS_PLAN)
        template = log[first:]
        await orch.count_mailboxes(platform.tenant)
    base: dict[str, Sent] = {}
    for sent in log:  # the first answer of a kind: set_plan's, not the count's
        base.setdefault(answer_key(sent.method, sent.path, sent.body), sent)
    tables = {}
    for n in count_sizes:
        table = {k: [s.status, s.content_type, s.answer.decode()] for k, s in base.items()}
        listed = next((s for s in log if platform.listing and platform.listing in s.body), None)
        if listed is not None:
            big = MockServer(mock, seed=platform.seed(n))
            async with httpx.AsyncClient(transport=big.transport(), base_url=mock.base_url) as c:
                r = await c.post(listed.path, content=listed.body, headers=listed.headers)
            key = answer_key(listed.method, listed.path, listed.body)
            table[key] = [r.status_code, r.headers["content-type"], r.text]
        tables[n] = table
    return template, tables


def exchanges_for(
    template: list[Sent], n: int, address: Callable[[int], str] = lambda i: f"u{i}@"
) -> list[list[Sent]]:
    """The recorded set_plan exchange of mailbox 1 rewritten for mailboxes ``0..n-1``."""
    out = []
    one = address(1).encode()
    for i in range(n):
        login, mine = f">u{i}<".encode(), address(i).encode()
        out.append(
            [
                Sent(
                    s.method,
                    s.path,
                    s.headers,
                    s.body.replace(b">u1<", login).replace(one, mine),
                )
                for s in template
            ]
        )
    return out


# -- measuring helpers ---------------------------------------------------------------------------


@dataclass
class Clock:
    """Wall and CPU time of one block."""

    wall: float = 0.0
    cpu: float = 0.0


async def timed(work: Awaitable[object]) -> Clock:
    cpu, wall = time.process_time(), time.perf_counter()
    await work
    return Clock(time.perf_counter() - wall, time.process_time() - cpu)


def timed_sync(work: Callable[[], object]) -> Clock:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return Clock(time.perf_counter() - wall, time.process_time() - cpu)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def worker_pool(
    items: list[Any], concurrency: int, one: Callable[[Any], Awaitable[None]]
) -> None:
    """``concurrency`` workers pulling from one iterator (what the bare sides use)."""
    source = iter(items)

    async def worker() -> None:
        for item in source:
            await one(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Bare:
    """A bare aiohttp session replaying recorded exchanges."""

    def __init__(self, url: str, concurrency: int) -> None:
        import aiohttp

        self.url = url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, ssl=False)
        )

    async def exchange(self, requests: list[Sent]) -> None:
        for s in requests:
            async with self.session.request(
                s.method, self.url + s.path, data=s.body, headers=s.headers
            ) as response:
                await response.read()
                if response.status >= 400:
                    raise RuntimeError(f"bare replay got {response.status}")

    async def run(self, exchanges: list[list[Sent]], concurrency: int) -> None:
        await worker_pool(exchanges, concurrency, self.exchange)

    async def aclose(self) -> None:
        await self.session.close()


# -- the figures ---------------------------------------------------------------------------------


@dataclass
class Report:
    """Figures by name, with a note each."""

    figures: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: float, note: str = "") -> None:
        self.figures[name] = value
        self.notes[name] = note
        print(f"  {name:<40}{value:>12.3f}  {note}", file=sys.stderr, flush=True)


TARGETS = {
    "onprem_shells_opened.exchserver": "== 1",
    "peer_ratio.ox_zeep": "<= 0.25",
    "peer_ratio.zextras_python_zimbra": "<= 0.5",
    "bulk_ratio_to_limit.ox": ">= 0.6",
    "bulk_speedup.ox": ">= 8",
    "bulk_speedup_at_latency.ox": "(>= 8)",
    "bulk_speedup_at_latency.zextras": "(>= 8)",
    "bulk_speedup_at_latency.exchange": "(>= 8)",
    "overhead_ratio.ox": "<= 1.15",
    "count_memory_growth_mb.ox": "<= 10",
    "reconcile_peak_mb.ox": "<= 20",
    "count_time_ratio.ox": "<= 11",
    "peer_ratio.zextras_python_zimbra.journal_off": "",
    "bulk_ratio_to_limit.zextras": ">= 0.6",
    "bulk_speedup.zextras": ">= 8",
    "overhead_ratio.zextras": "<= 1.15",
    "mock_rps.zextras": ">= 2000",
    "mock_rps.ox.served": "",
    "bulk_ratio_to_limit.exchange": ">= 0.6",
    "bulk_speedup.exchange": ">= 8",
    "overhead_ratio.exchange": "<= 1.15",
    "mock_rps.exchange": ">= 2000",
    "import_ms": "(ratio reported)",
    "cli_help_ms": "<= 4x",
    "first_call_ms": "<= 2x",
    "mock_rps.ox": ">= 2000",
    "api_ratio.healthz": ">= 0.5",
    "api_ratio.authenticated_get": ">= 0.25",
    "cli_count_ratio": "<= 10",
    "journal_cpu_ratio.ox": "<= 1.2",
    "journal_cpu_ratio.zextras": "<= 1.2",
    "journal_cpu_ratio.exchange": "<= 1.2",
    "throttled_efficiency.exchange": ">= 0.9, 429s <= 1%",
    "throttled_efficiency.ox": ">= 0.9, 429s <= 1%",
}


def process_ms(command: tuple[str, ...], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - start) * 1000


def startup_figures(report: Report, rounds: int, tmp: Path) -> None:
    """import_ms and cli_help_ms, each against ``python -c pass``, interleaved."""
    cli = str(Path(sys.executable).parent / "mailadmin")
    runs: dict[str, list[float]] = {"pass": [], "import": [], "help": []}
    commands = {
        "pass": PASS,
        "import": (sys.executable, "-c", "import mailadmin"),
        "help": (cli, "--help"),
    }
    # As installed: bytecode cached (this run's own cache, whatever the environment says).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    for command in commands.values():
        process_ms(command, env)  # writes the bytecode, warms the file cache
    for _ in range(max(7, rounds * 3)):
        for name, command in commands.items():
            runs[name].append(process_ms(command, env))
    base = median(runs["pass"])
    for name, label in (("import", "import_ms"), ("help", "cli_help_ms")):
        ms = median(runs[name])
        report.add(label, ms, f"{ms / base:.1f}x python -c pass ({base:.0f} ms)")
        report.figures[f"{label}_ratio"] = ms / base


async def first_call(report: Report, url: str, exchange: list[Sent], rounds: int) -> None:
    """A new Orchestrator's first set_plan vs a new aiohttp session's same exchange."""
    from mailadmin import Orchestrator

    ours, bare = [], []
    for _ in range(max(5, rounds * 3)):
        start = time.perf_counter()
        async with Orchestrator.from_dict(ox_config(url, None), journal=False) as orch:
            await orch.set_plan("u0@example.com", OURS_PLAN)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        session = Bare(url, 1)
        await session.exchange(exchanges_for(exchange, 1)[0])
        await session.aclose()
        bare.append(time.perf_counter() - start)
    o, b = median(ours) * 1000, median(bare) * 1000
    report.add("first_call_ms", o, f"{o / b:.2f}x a new bare aiohttp session ({b:.1f} ms)")
    report.figures["first_call_ms_ratio"] = o / b


def zeep_peer(fixed: str) -> Callable[[int], None]:
    """The sequential zeep loop OX operators write: one changeByModuleAccessName per user.

    zeep reads the WSDL the real mock serves; its service address is the fixed server."""
    import zeep

    with server_process("--serve-mock", "ox", "3") as mock:
        client = zeep.Client(f"{mock}/webservices/OXUserService?wsdl")
        binding = next(iter(client.wsdl.bindings))
        service = client.create_service(binding, f"{fixed}/webservices/OXUserService")
    auth, ctx = {"login": "oxadmin", "password": "secret"}, {"id": 1}

    def loop(n: int) -> None:
        for i in range(n):
            service.changeByModuleAccessName(
                ctx=ctx,
                user={"name": f"u{i}"},
                access_combination_name=OX_PLANS[PEER_PLAN],
                auth=auth,
            )

    return loop


def python_zimbra_peer(fixed: str) -> Callable[[int], None]:
    """The sequential python-zimbra loop: sign in once, one ModifyAccountRequest per
    account (its id and the COS id known beforehand, which favours the peer)."""
    from pythonzimbra.communication import Communication
    from pythonzimbra.tools import auth

    url = f"{fixed}/service/admin/soap"
    token = auth.authenticate(
        url, "admin@example.com", "secret", admin_auth=True, request_type="json"
    )
    comm = Communication(url)

    def loop(n: int) -> None:
        for i in range(n):
            request = comm.gen_request(request_type="json", token=token)
            request.add_request(
                "ModifyAccountRequest",
                {"id": f"account-{i}", "a": [{"n": "zimbraCOSId", "_content": "cos-mail"}]},
                "urn:zimbraAdmin",
            )
            response = comm.send_request(request)
            if response.is_fault():
                raise RuntimeError(f"python-zimbra got a fault: {response.get_fault_message()}")

    return loop


PEERS: dict[str, tuple[str, Callable[[str], Callable[[int], None]]]] = {
    "ox": ("ox_zeep", zeep_peer),
    "zextras": ("zextras_python_zimbra", python_zimbra_peer),
}


async def peer_figures(
    report: Report,
    sizes: Sizes,
    platform: Platform,
    fixed: str,
    ours: Callable[[int, int, bool], Awaitable[Clock]],
) -> None:
    """Our bulk run against the sequential loop of the platform's usual client library."""
    conc = sizes.concurrency
    peer_name, make_peer = PEERS[platform.name]
    peer_loop = make_peer(fixed)
    peer: dict[str, list[Clock]] = {"ours": [], "peer": [], "ours_off": []}
    for r in range(sizes.rounds):
        order = ["ours", "peer", "ours_off"] if r % 2 == 0 else ["ours_off", "peer", "ours"]
        for side in order:
            if side == "peer":
                peer[side].append(timed_sync(lambda: peer_loop(sizes.peer_items)))
            else:
                peer[side].append(await ours(sizes.peer_items, conc, side == "ours"))
    n = sizes.peer_items
    w = {k: median([c.wall for c in v]) for k, v in peer.items()}
    cpu = {k: median([c.cpu for c in v]) / n * 1e6 for k, v in peer.items()}
    report.add(
        f"peer_ratio.{peer_name}",
        w["ours"] / w["peer"],
        f"{n} items, concurrency {conc}; CPU/item {cpu['ours']:.0f} us ours, "
        f"{cpu['peer']:.0f} us peer; journal off {w['ours_off'] / w['peer']:.2f}",
    )
    report.figures[f"peer_ratio.{peer_name}.journal_off"] = w["ours_off"] / w["peer"]


async def platform_figures(
    report: Report,
    sizes: Sizes,
    platform: Platform,
    fixed: str,
    exchange: list[Sent],
    tmp: Path,
    fixed_table: str,
) -> None:
    """Peer, bulk, speed-up and overhead figures, against the fixed-answer server."""
    from mailadmin import Orchestrator

    conc = sizes.concurrency
    name = platform.name
    journal_url = f"sqlite:///{tmp}/journal-{name}.sqlite"

    def changes(n: int) -> list[tuple[str, str]]:
        return [(platform.address(i), OURS_PLAN) for i in range(n)]

    async def ours(n: int, concurrency: int, journal: bool = True) -> Clock:
        config = platform.config(fixed, journal_url if journal else None)
        async with Orchestrator.from_dict(config) as orch:
            await orch.set_plan(platform.address(0), OURS_PLAN)  # connections and first use
            clock = await timed(orch.set_plans(changes(n), concurrency=concurrency))
            failed = [i.error for i in (await orch.set_plans(changes(1))).items if i.error]
            if failed:
                raise RuntimeError(f"{name}: set_plan failed against the fixed server: {failed}")
        return clock

    if name in PEERS:
        await peer_figures(report, sizes, platform, fixed, ours)

    # bulk vs bare aiohttp at the same concurrency, and vs sequential
    bare = Bare(fixed, conc)
    items = exchanges_for(exchange, sizes.bulk_items, platform.address)
    bulk: dict[str, list[Clock]] = {"ours": [], "bare": [], "ours_off": [], "seq": []}
    for r in range(sizes.rounds):
        order = ["ours", "bare", "ours_off", "seq"]
        for side in order if r % 2 == 0 else order[::-1]:
            if side == "bare":
                bulk[side].append(await timed(bare.run(items, conc)))
            elif side == "seq":
                bulk[side].append(await ours(sizes.sequential_items, 1))
            else:
                bulk[side].append(await ours(sizes.bulk_items, conc, side == "ours"))
    await bare.aclose()
    per = {k: median([c.wall for c in v]) for k, v in bulk.items()}
    per["seq"] = per["seq"] / sizes.sequential_items * sizes.bulk_items
    report.add(
        f"bulk_ratio_to_limit.{name}",
        per["bare"] / per["ours"],
        f"{sizes.bulk_items} items @{conc}: {sizes.bulk_items / per['ours']:.0f}/s ours, "
        f"{sizes.bulk_items / per['bare']:.0f}/s bare; journal off {per['bare'] / per['ours_off']:.2f}",
    )
    report.figures[f"bulk_ratio_to_limit.{name}.journal_off"] = per["bare"] / per["ours_off"]
    # CPU per bulk item with the journal on over the same run with it off (this process's
    # CPU: the journal's writer thread included, the fixed-answer server not).
    cpu = {k: median([c.cpu for c in bulk[k]]) / sizes.bulk_items for k in ("ours", "ours_off")}
    report.add(
        f"journal_cpu_ratio.{name}",
        cpu["ours"] / cpu["ours_off"],
        f"{cpu['ours'] * 1e6:.0f} us/item journal on, {cpu['ours_off'] * 1e6:.0f} us off "
        f"({sizes.bulk_items} items @{conc}, SQLite)",
    )
    report.add(
        f"bulk_speedup.{name}",
        per["seq"] / per["ours"],
        f"vs set_plans(concurrency=1) over {sizes.sequential_items} items",
    )

    # the same speed-up where the platform takes LATENCY_MS to answer each request
    with server_process("--serve-fixed", fixed_table, "--delay-ms", str(LATENCY_MS)) as slow:
        config = platform.config(slow, journal_url)
        late: dict[str, list[float]] = {"bulk": [], "seq": []}
        async with Orchestrator.from_dict(config) as orch:
            await orch.set_plan(platform.address(0), OURS_PLAN)
            for r in range(sizes.rounds):
                for side in ("bulk", "seq") if r % 2 == 0 else ("seq", "bulk"):
                    n, conc_side = (
                        (sizes.latency_items, conc) if side == "bulk" else (sizes.latency_seq, 1)
                    )
                    clock = await timed(orch.set_plans(changes(n), concurrency=conc_side))
                    late[side].append(clock.wall / n)
    bulk_per, seq_per = median(late["bulk"]), median(late["seq"])
    report.add(
        f"bulk_speedup_at_latency.{name}",
        seq_per / bulk_per,
        f"answers after {LATENCY_MS:g} ms: {1 / bulk_per:.0f}/s @{conc} ({sizes.latency_items} "
        f"items), {1 / seq_per:.0f}/s sequential ({sizes.latency_seq}); journal on",
    )

    # one set_plan through a warm orchestrator vs the same exchange on a warm bare session
    bare = Bare(fixed, 1)
    one = exchanges_for(exchange, 1, platform.address)[0]
    async with Orchestrator.from_dict(platform.config(fixed, journal_url)) as orch:
        await orch.set_plan(platform.address(0), OURS_PLAN)
        await bare.exchange(one)
        sides: dict[str, list[float]] = {"ours": [], "bare": []}
        for r in range(sizes.overhead_calls):
            for side in ("ours", "bare") if r % 2 == 0 else ("bare", "ours"):
                start = time.perf_counter()
                if side == "ours":
                    await orch.set_plan(platform.address(0), OURS_PLAN)
                else:
                    await bare.exchange(one)
                sides[side].append(time.perf_counter() - start)
    await bare.aclose()
    o, b = median(sides["ours"]), median(sides["bare"])
    report.add(
        f"overhead_ratio.{name}",
        o / b,
        f"{o * 1e6:.0f} us ours (journal on), {b * 1e6:.0f} us bare; {len(one)} requests per set_plan",
    )
    report.figures[f"requests_per_set_plan.{name}"] = len(one)


async def count_figures(report: Report, sizes: Sizes, urls: dict[int, str]) -> None:
    """Time and peak memory of count_mailboxes at two sizes (fixed answers)."""
    from mailadmin import Orchestrator

    async def count(url: str) -> None:
        async with Orchestrator.from_dict(ox_config(url, None), journal=False) as orch:
            await orch.count_mailboxes("example.com")

    small, big = sizes.count_small, sizes.count_big
    times: dict[int, list[float]] = {small: [], big: []}
    for n in (small, big):
        await count(urls[n])  # warm: imports, first connections
    for r in range(max(2, sizes.rounds - 1)):
        for n in (small, big) if r % 2 == 0 else (big, small):
            times[n].append((await timed(count(urls[n]))).wall)
    peaks = {}
    for n in (small, big):
        tracemalloc.start()
        await count(urls[n])
        peaks[n] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    ratio = median(times[big]) / median(times[small])
    report.add(
        "count_memory_growth_mb.ox",
        peaks[big] - peaks[small],
        f"traced peak {peaks[small]:.1f} MB at {small}, {peaks[big]:.1f} MB at {big}",
    )
    await reconcile_figures(report, sizes, urls)
    report.add(
        "count_time_ratio.ox",
        ratio,
        f"{median(times[small]):.2f} s at {small}, {median(times[big]):.2f} s at {big} (x{big // small})",
    )


async def reconcile_figures(report: Report, sizes: Sizes, urls: dict[int, str]) -> None:
    """Peak memory of reconcile of one tenant at the big size (100,000 mailboxes; 5,000
    with --quick): its count is streamed, so the peak stays near the small size's."""
    from mailadmin import Orchestrator

    async def reconcile(url: str) -> int:
        async with Orchestrator.from_dict(ox_config(url, None), journal=False) as orch:
            found = await orch.reconcile(["example.com"])
            return len(found.drifts)

    small, big = sizes.count_small, sizes.count_big
    await reconcile(urls[big])  # warm: imports, first connections
    peaks = {}
    for n in (small, big):
        tracemalloc.start()
        await reconcile(urls[n])
        peaks[n] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    report.add(
        "reconcile_peak_mb.ox",
        peaks[big],
        f"traced peak at {big} mailboxes ({peaks[small]:.1f} MB at {small}): streamed",
    )


async def mock_rps(report: Report, platform: Platform, sizes: Sizes) -> None:
    """Requests per second a mock answers at 10,000 mailboxes: set_plan's requests, in
    process (the mock's parsing, state and answers; no HTTP server, no client)."""
    import httpx

    from mailadmin import Orchestrator
    from mailadmin.mock import MockServer
    from mailadmin.mock.lookup import load_platform

    mock = load_platform(platform.name)
    server = MockServer(mock, seed=platform.seed(10_000))
    log: list[Sent] = []
    http = {platform.name: recorder(server.transport(), log)}
    async with Orchestrator.from_dict(
        platform.config(mock.base_url, None), journal=False, http=http
    ) as orch:
        await orch.set_plan(platform.address(0), OURS_PLAN)
        first = len(log)
        await orch.set_plan(platform.address(1), OURS_PLAN)
    template = log[first:]
    n = min(sizes.bulk_items, 10_000) // 2
    items = exchanges_for(template, n, platform.address)
    if platform.ids is not None:  # ids the template names, per mailbox
        one = platform.ids(server, 1).encode()
        for i, requests in enumerate(items):
            mine = platform.ids(server, i).encode()
            for sent in requests:
                sent.body = sent.body.replace(one, mine)
    requests = [
        [httpx.Request(s.method, mock.base_url + s.path, headers=s.headers, content=s.body)]
        for item in items
        for s in item
    ]
    rates = []
    for _ in range(max(2, sizes.rounds - 1)):
        start = time.perf_counter()
        for (request,) in requests:
            response = await server.handle(request)
            if response.status_code >= 400:
                raise RuntimeError(f"mock answered {response.status_code}: {response.text[:300]}")
        rates.append(len(requests) / (time.perf_counter() - start))
    ops = ", ".join(answer_key(s.method, s.path, s.body).split(" ")[-1] for s in template)
    report.add(
        f"mock_rps.{platform.name}",
        median(rates),
        f"in process, 10k mailboxes; set_plan's requests ({ops})",
    )


async def served_rps(
    report: Report, name: str, url: str, exchange: list[Sent], sizes: Sizes
) -> None:
    """Requests per second the mock serves over HTTP (uvicorn, one process) to a bare
    aiohttp client at the bulk concurrency; client and server share the 2 cores."""
    items = exchanges_for(exchange, min(sizes.bulk_items, 10_000))
    rates = []
    for _ in range(max(2, sizes.rounds - 1)):
        bare = Bare(url, sizes.concurrency)
        clock = await timed(bare.run(items[: len(items) // 2], sizes.concurrency))
        await bare.aclose()
        rates.append(len(items) // 2 * len(exchange) / clock.wall)
    report.add(f"mock_rps.{name}.served", median(rates), "over HTTP (uvicorn), 10k mailboxes")


def journal_rate(report: Report, sizes: Sizes, tmp: Path) -> None:
    """Writes per second recorded by the journal alone (started + succeeded per item)."""
    from mailadmin.contract.models import ChangeResult, MailboxRef, Outcome, TenantRef
    from mailadmin.contract.provider import CallInfo
    from mailadmin.store.journal import Journal

    urls = {"sqlite": f"sqlite:///{tmp}/journal-alone.sqlite"}
    try:
        import sqlalchemy as sa

        engine = sa.create_engine("postgresql://postgres@127.0.0.1:5432/test")
        with engine.connect():
            pass
        engine.dispose()
        urls["postgresql"] = "postgresql://postgres@127.0.0.1:5432/test"
    except Exception as exc:
        report.notes["journal_items_per_s.postgresql"] = f"not measured: {type(exc).__name__}"
    tenant = TenantRef(name="example.com")
    for name, url in urls.items():
        journal = Journal(url)
        rates = []
        for _ in range(max(2, sizes.rounds - 1)):
            start = time.perf_counter()
            for i in range(sizes.journal_items):
                ref = MailboxRef(tenant=tenant, address=f"u{i}@example.com")
                call = CallInfo("ox", "ox", "set_plan", {"mailbox": ref, "plan": "sync"})
                journal.started(call)
                journal.succeeded(
                    call,
                    ChangeResult[str](
                        operation="set_plan",
                        subject=ref.address,
                        outcome=Outcome.CHANGED,
                        before="mail",
                        after="sync",
                    ),
                )
            rates.append(sizes.journal_items / (time.perf_counter() - start))
        durability = _durability(journal.engine, name)
        journal.close()
        label = "journal_items_per_s" if name == "sqlite" else f"journal_items_per_s.{name}"
        report.add(
            label, median(rates), f"{name} ({durability}); started + succeeded per item, blocking"
        )


def _durability(engine: Any, dialect: str) -> str:
    """The durability setting the journal's database runs with, as the database says."""
    import sqlalchemy as sa

    with engine.connect() as db:
        if dialect == "sqlite":
            mode = db.execute(sa.text("PRAGMA journal_mode")).scalar()
            sync = db.execute(sa.text("PRAGMA synchronous")).scalar()
            return f"journal_mode={mode}, synchronous={ {0: 'OFF', 1: 'NORMAL', 2: 'FULL', 3: 'EXTRA'}.get(sync, sync) }"
        return f"synchronous_commit={db.execute(sa.text('SHOW synchronous_commit')).scalar()}"


async def client_figures(report: Report, sizes: Sizes, tmp: Path, names: list[str]) -> None:
    for name in names:
        platform = PLATFORMS[name]
        exchange, tables = await record(platform, (sizes.count_small, sizes.count_big))
        files = {}
        for n, table in tables.items():
            files[n] = tmp / f"fixed-{name}-{n}.json"
            files[n].write_text(json.dumps(table))
        with (
            server_process("--serve-fixed", str(files[sizes.count_small])) as fixed,
            server_process("--serve-fixed", str(files[sizes.count_big])) as fixed_big,
        ):
            if name == "ox":
                await first_call(report, fixed, exchange, sizes.rounds)
            table = str(files[sizes.count_small])
            await platform_figures(report, sizes, platform, fixed, exchange, tmp, table)
            if platform.listing:
                urls = {sizes.count_small: fixed, sizes.count_big: fixed_big}
                await count_figures(report, sizes, urls)
        await mock_rps(report, platform, sizes)
        if platform.served:  # replayable as recorded (no per-server ids or tokens)
            with server_process("--serve-mock", name, "10000") as mock:
                await served_rps(report, name, mock, exchange, sizes)


def print_table(report: Report, sizes: Sizes, quick: bool) -> None:
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}; {'--quick' if quick else 'full'}; "
        f"medians of {sizes.rounds} interleaved rounds\n"
    )
    print("| figure | value | target | notes |\n|---|---:|---|---|")
    for name, value in report.figures.items():
        if name in report.notes:
            print(f"| {name} | {value:.3f} | {TARGETS.get(name, '')} | {report.notes[name]} |")
    for name, note in report.notes.items():
        if name not in report.figures:
            print(f"| {name} | - | {TARGETS.get(name, '')} | {note} |")


def onprem_figures(report: Report, changes: int) -> None:
    """A bulk run of plan changes on an Exchange Server tenant (benchmarks/exchange_server.py):
    its rate and the shells the mock saw opened (one runspace pool: 1)."""
    sys.path.insert(0, str(HERE.parent))
    from exchange_server import measure

    figures = measure(changes, 8)
    note = f"{changes} set_plan changes @8 over remote PowerShell, {figures['failed']} failed"
    report.add("onprem_bulk_changes_per_second.exchserver", figures["changes_per_second"], note)
    report.add(
        "onprem_shells_opened.exchserver",
        figures["shells_opened"],
        "runspace pools (WS-Man shells) the mock saw opened for the whole run",
    )
    report.add(
        "onprem_requests_per_change.exchserver",
        figures["requests_per_change"],
        f"{figures['pipelines_per_change']} cmdlet pipelines per change",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer items; under two minutes")
    parser.add_argument("--json", action="store_true", help="one JSON object of the figures")
    parser.add_argument("--serve-fixed", metavar="TABLE", help=argparse.SUPPRESS)
    parser.add_argument("--serve-mock", nargs=2, metavar=("NAME", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--delay-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--platforms", default=",".join(PLATFORMS), help="comma-separated: ox,zextras"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated groups: startup,client,journal,api,cli,throttle,onprem (onprem: "
        "the Exchange Server bulk run; only when named, it takes minutes)",
    )
    args = parser.parse_args(argv)
    if args.serve_fixed:
        _serve_fixed(args.serve_fixed, args.delay_ms)
        return
    if args.serve_mock:
        _serve_mock(args.serve_mock[0], int(args.serve_mock[1]))
        return
    sizes = QUICK if args.quick else FULL
    groups = set(filter(None, args.only.split(","))) or {
        "startup",
        "client",
        "journal",
        "api",
        "cli",
        "throttle",
    }
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        if "startup" in groups:
            startup_figures(report, sizes.rounds, Path(tmp))
        if "client" in groups:
            names = [p for p in args.platforms.split(",") if p]
            asyncio.run(client_figures(report, sizes, Path(tmp), names))
        if "journal" in groups:
            journal_rate(report, sizes, Path(tmp))
    # The HTTP API and the CLI's cold start (benchmarks/api.py, benchmarks/cli.py).
    sys.path.insert(0, str(HERE.parent))
    if "api" in groups:
        from api import api_figures

        api_figures(report.add, 200 if args.quick else 1000, sizes.rounds)
    if "cli" in groups:
        from cli import cli_figures

        cli_figures(report.add, 5 if args.quick else 9, ["count", "plans", "licence", "check"])
    if "onprem" in groups:
        onprem_figures(report, 100 if args.quick else 1000)
    if "throttle" in groups:
        from throttle import throttled_figures

        throttled_figures(report.add, 1000 if args.quick else 5000, ["exchange", "ox"])
    if args.json:
        print(json.dumps(report.figures, indent=2))
    else:
        print_table(report, sizes, args.quick)


if __name__ == "__main__":
    main()
