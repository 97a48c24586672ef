"""The HTTP API's figures of issue 31: requests one at a time on a kept-alive connection.

    python benchmarks/api.py [--requests 400] [--rounds 3]

Two servers in subprocesses on loopback: ``mailadmin serve --demo`` (every platform's demo
mock in its process, a SQLite store) and a hello FastAPI app under uvicorn (the same
uvicorn, its socket made as uvicorn makes its own). One client (``http.client``, one
kept-alive connection per server) sends the requests one at a time, the two servers
alternating round by round. Printed per path: requests per second, the median latency and
the server's CPU per request (from ``/proc``, the server process's user + system time).

* ``api_ratio.healthz``: ``GET /healthz`` ours / hello;
* ``api_ratio.authenticated_get``: ``GET /v1/instances`` with a site admin's key / the hello
  app's ``GET /healthz``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve()
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _serve_hello() -> None:
    """A minimal FastAPI app under uvicorn, announcing its URL once bound."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:  # as the API's own: no thread pool hop
        return {"status": "ok"}

    # As uvicorn binds when given a host and port: a TCP socket (asyncio sets TCP_NODELAY).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


@contextmanager
def _server(command: list[str], cwd: str | None = None) -> Iterator[tuple[str, int]]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd
    )
    try:
        assert process.stdout is not None
        while True:
            line = process.stdout.readline()
            if not line:
                raise SystemExit(f"server did not start: {command}")
            if line.startswith("listening on "):
                break
        yield line.strip().removeprefix("listening on "), process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class _Side:
    """One server, one kept-alive connection, one path."""

    def __init__(self, url: str, pid: int, path: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.pid, self.path, self.headers = pid, path, headers
        self.latencies: list[float] = []
        self.cpu: list[float] = []

    def one(self) -> None:
        self.connection.request("GET", self.path, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{self.path}: HTTP {response.status}")

    def round(self, n: int) -> None:
        # A new connection per round (uvicorn closes one idle for 5 s while the other
        # sides run), opened and used once before the timing starts.
        self.connection.close()
        self.one()
        cpu = _cpu_seconds(self.pid)
        for _ in range(n):
            start = time.perf_counter()
            self.one()
            self.latencies.append(time.perf_counter() - start)
        self.cpu.append((_cpu_seconds(self.pid) - cpu) / n)

    def rate(self) -> float:
        return 1 / statistics.median(self.latencies)


def _make_key(store: str) -> str:
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity
    from mailadmin.store.database import Database

    database = Database(store)
    try:
        return ApiKeys(database).create(Identity.parse("site-admin"), "bench").key
    finally:
        database.close()


def api_figures(add: Callable[[str, float, str], None], requests: int, rounds: int) -> None:
    """``api_ratio.healthz`` and ``api_ratio.authenticated_get``, each added by ``add``."""
    cli = [sys.executable, "-m", "mailadmin.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        with (
            _server([sys.executable, str(HERE), "--serve-hello"]) as (hello_url, hello_pid),
            _server([*cli, "serve", "--demo", str(demo), "--port", "0"]) as (url, pid),
        ):
            key = _make_key(f"sqlite:///{(demo / 'mailadmin.sqlite').resolve()}")
            sides = {
                "hello": _Side(hello_url, hello_pid, "/healthz", {}),
                "healthz": _Side(url, pid, "/healthz", {}),
                "get": _Side(url, pid, "/v1/instances", {"Authorization": f"Bearer {key}"}),
            }
            for side in sides.values():  # warm: connections, first use
                for _ in range(20):
                    side.one()
            for r in range(rounds):
                order = list(sides.values())
                for side in order if r % 2 == 0 else order[::-1]:
                    side.round(requests)

            def note(side: _Side) -> str:
                return (
                    f"{side.rate():.0f}/s, {statistics.median(side.latencies) * 1e3:.2f} ms, "
                    f"server CPU {statistics.median(side.cpu) * 1e6:.0f} us/request"
                )

            hello = sides["hello"]
            for label, name in (("healthz", "healthz"), ("authenticated_get", "get")):
                side = sides[name]
                add(
                    f"api_ratio.{label}",
                    side.rate() / hello.rate(),
                    f"{side.path}: {note(side)}; hello app {note(hello)}",
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-hello", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_hello:
        _serve_hello()
        return

    def add(name: str, value: float, note: str) -> None:
        print(f"  {name:<32}{value:>10.3f}  {note}", flush=True)

    api_figures(add, args.requests, args.rounds)


if __name__ == "__main__":
    main()
