"""Bulk runs at the platform's throttling limit (issue 31): ``throttled_efficiency``.

    python benchmarks/throttle.py [--items 5000] [--platforms exchange,ox]

The platform's mock (in process) throttles like the platform: a token bucket per tenant
(``PUT /_mock/throttle``: ``rate`` requests a second, ``burst`` at once), answering each
platform's own throttling answer (Exchange: 429 with ``Retry-After``; OX: 429, error 39).
A bulk ``set_plans`` of ``items`` mailboxes at concurrency 16, journal on, runs against it;
its transport paces itself (AIMD, :mod:`mailadmin.wire.pacing`) and the run sends a
throttled item again after its ``Retry-After``. Printed:

* ``throttled_efficiency.<platform>``: the ideal time, the requests the mock let through
  less its burst at ``rate`` a second, over the measured time of the run;
* in the note, the share of requests answered 429 and the rate the pacer settled on.

``rate`` is set below what the client reaches unthrottled on this machine (a first
unthrottled run of ``items // 10`` measures it), so the mock's bucket is the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The share of the client's unthrottled request rate the mock allows.
SHARE = 0.5
#: The mock's burst, in seconds of its rate.
BURST_SECONDS = 0.5


async def _run(name: str, items: int, tmp: Path) -> tuple[float, str]:
    sys.path.insert(0, str(HERE))
    from run import OURS_PLAN, PLATFORMS

    from mailadmin import Orchestrator
    from mailadmin.mock import MockServer
    from mailadmin.mock.lookup import load_platform

    platform = PLATFORMS[name]
    mock = load_platform(name)
    probe = max(50, items // 10)
    server = MockServer(mock, seed=platform.seed(items + probe + 2))
    journal = f"sqlite:///{tmp}/throttled-{name}.sqlite"

    async def bulk(first: int, n: int) -> float:
        changes = [(platform.address(i), OURS_PLAN) for i in range(first, first + n)]
        start = time.perf_counter()
        result = await orch.set_plans(changes, concurrency=16)
        wall = time.perf_counter() - start
        if result.failed:
            failed = next(i.error for i in result.items if i.error is not None)
            raise RuntimeError(f"{name}: {result.failed} items failed: {failed}")
        return wall

    config = platform.config(mock.base_url, journal)
    async with Orchestrator.from_dict(config, http={name: server.transport()}) as orch:
        await orch.set_plan(platform.address(0), OURS_PLAN)  # sessions, first use
        before = len(server.requests)
        wall = await bulk(1, probe)
        free_rate = (len(server.requests) - before) / wall
        rate = round(free_rate * SHARE)
        burst = max(1, round(rate * BURST_SECONDS))
        server.throttle({"rate": rate, "burst": burst, "per": "tenant"})
        wall = await bulk(1 + probe, items)
        throttle = server.throttling
        assert throttle is not None
        pacer = orch.provider(name).http.pacer
    sent = throttle.allowed + throttle.throttled
    ideal = max(0, throttle.allowed - burst) / rate
    note = (
        f"{items} items @16 in {wall:.1f} s, ideal {ideal:.1f} s at {rate}/s (burst {burst}; "
        f"unthrottled {free_rate:.0f}/s); 429s {throttle.throttled} of {sent} "
        f"({throttle.throttled / sent:.2%}); pacer settled at {pacer.rate or 0:.0f}/s, "
        f"{pacer.cuts} cuts; journal on"
    )
    return ideal / wall, note


def throttled_figures(add: Callable[[str, float, str], None], items: int, names: list[str]) -> None:
    """``throttled_efficiency.<platform>`` for each platform, added by ``add``."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            value, note = asyncio.run(_run(name, items, Path(tmp)))
            add(f"throttled_efficiency.{name}", value, note)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--platforms", default="exchange,ox")
    args = parser.parse_args(argv)

    def add(name: str, value: float, note: str) -> None:
        print(f"  {name:<32}{value:>8.3f}  {note}", flush=True)

    throttled_figures(add, args.items, [p for p in args.platforms.split(",") if p])


if __name__ == "__main__":
    main()
