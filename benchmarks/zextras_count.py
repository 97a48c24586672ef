"""Memory and time of the Zextras ``count_mailboxes`` on a 100,000-account domain.

    python benchmarks/zextras_count.py [--accounts 100000] [--small 1000] [--json]

The Zextras mock runs on loopback in a subprocess (its CPU is not the client's), seeded
with ``N`` user accounts on the Mail COS plus a few shared mailboxes and calendar
resources, and with the server's default directory search limit (5,000): a count that
asked ``SearchDirectoryRequest countOnly=1`` over the whole domain would get
``account.TOO_MANY_SEARCH_RESULTS``, as from a real server. The client counts through the
orchestrator; the figures are the client's traced peak memory (``tracemalloc``) and wall
time at ``--small`` and at ``--accounts`` accounts, and whether the counts are right.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SHARED, ROOMS, EQUIPMENT = 50, 20, 10
#: The mock's defaults in example.com: 4 users, 1 shared, 1 room, 1 equipment.
DEFAULTS = {"user": 4, "shared": 1, "room": 1, "equipment": 1}


def seed(n: int) -> dict[str, Any]:
    """``n`` users ``u0@example.com..`` on the Mail COS, shared mailboxes and resources."""
    classes = ["inetOrgPerson", "zimbraAccount", "amavisAccount"]
    accounts: list[dict[str, Any]] = []
    for i in range(n):
        name = f"u{i}@example.com"
        attrs = {"zimbraMailDeliveryAddress": name, "objectClass": classes, "zimbraCOSId": "mail"}
        accounts.append({"name": name, "attrs": attrs})
    for i in range(SHARED):
        name = f"shared{i}@example.com"
        attrs = {"zimbraMailDeliveryAddress": name, "zimbraNotes": "mailadmin-shared"}
        accounts.append({"name": name, "attrs": attrs})
    for i in range(ROOMS + EQUIPMENT):
        name = f"res{i}@example.com"
        kind = "Location" if i < ROOMS else "Equipment"
        attrs = {"zimbraMailDeliveryAddress": name, "zimbraCalResType": kind, "displayName": name}
        accounts.append({"name": name, "attrs": attrs, "calresource": True})
    return {"accounts": accounts}


def config(url: str) -> dict[str, Any]:
    """One Zextras instance (the mock's admin) owning example.com, the sample plans."""
    plans = ("mail", "sync", "collaborate")
    return {
        "plans": {name: {} for name in plans},
        "instances": {
            "zextras": {
                "provider": "zextras",
                "endpoint": url,
                "credentials": {"username": "admin@example.com", "secret": "secret"},
                "plans": {p: {"cos": p} for p in plans},
            }
        },
        "tenants": {"example.com": {"instance": "zextras", "domains": ["example.com"]}},
    }


def expected(n: int) -> dict[str, int]:
    """The right count by kind for a seed of ``n`` users."""
    return {
        "user": n + DEFAULTS["user"],
        "shared": SHARED + DEFAULTS["shared"],
        "room": ROOMS + DEFAULTS["room"],
        "equipment": EQUIPMENT + DEFAULTS["equipment"],
    }


def _serve(n: int) -> None:
    from mailadmin.mock.serve import serve_forever

    serve_forever("zextras", seed=seed(n))


@contextmanager
def served(n: int) -> Iterator[str]:
    """The mock seeded with ``n`` users on loopback, in a subprocess; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, str(HERE), "--serve", str(n)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"the mock did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def measure(url: str) -> dict[str, Any]:
    """One count against ``url``: peak traced memory (MB), wall time (s), the counts."""
    from mailadmin import Orchestrator

    tracemalloc.start()
    start = time.perf_counter()
    async with Orchestrator.from_dict(config(url), journal=False) as orch:
        count = await orch.count_mailboxes("example.com")
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "peak_mb": round(peak, 2),
        "seconds": round(wall, 2),
        "by_kind": {str(k.value): v for k, v in count.by_kind.items()},
        "by_plan": dict(count.by_plan),
    }


async def run(big: int, small: int) -> dict[str, Any]:
    """Both sizes, each against its own mock (a warm-up count first, then the measured one)."""
    figures: dict[str, Any] = {}
    for n in (small, big):
        with served(n) as url:
            await measure(url)  # warm: imports, first connection
            figure = await measure(url)
        figure["right"] = figure["by_kind"] == expected(n)
        figures[str(n)] = figure
    figures["count_memory_growth_mb.zextras"] = round(
        figures[str(big)]["peak_mb"] - figures[str(small)]["peak_mb"], 2
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        _serve(args.serve)
        return
    figures = asyncio.run(run(args.accounts, args.small))
    if args.json:
        print(json.dumps(figures))
        return
    for n in (args.small, args.accounts):
        f = figures[str(n)]
        print(
            f"{n:>7} accounts: peak {f['peak_mb']:.2f} MB, {f['seconds']:.2f} s, "
            f"{'right' if f['right'] else 'WRONG'} {f['by_kind']} by plan {f['by_plan']}"
        )
    print(f"count_memory_growth_mb.zextras {figures['count_memory_growth_mb.zextras']:.2f}")


if __name__ == "__main__":
    main()
